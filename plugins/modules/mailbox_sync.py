#!/usr/bin/python
# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r"""
---
module: mailbox_sync
short_description: Two-way synchronisation of Dovecot mailboxes with another server (doveadm sync)
version_added: 0.1.0
description:
  - Runs C(doveadm sync) - Dovecot's two-way, lock-protected mailbox merge - for each user,
    from the host the module runs on (the I(local) side) to a destination Dovecot (the
    I(remote) side) reached over the doveadm TCP protocol or through SSH.
  - Over doveadm TCP the users are split into O(parallel) groups, each synchronised by one
    C(doveadm sync -F) process (one C(doveadm) per user would cost more than most syncs).
    Every user whose group did not end cleanly, or whose messages still differ afterwards,
    then gets C(doveadm sync) runs of its own, which give its exact exit code; exit code 2
    (the mailbox changed during the sync) is retried up to O(retries) times.
  - Over SSH, or with O(stateful=true), every user gets its own C(doveadm sync) runs,
    O(parallel) at a time.
  - With O(compare=true) (the default) each user's message set - every message's mailbox
    name and Dovecot message GUID - is read on both sides before and after the sync. That
    gives exact per-side counts, RV(users[].changed), and RV(users[].in_sync) (both sides
    hold the same messages). If a sync ends with rc 0 but the sets still differ, one more
    full sync (C(-f), state ignored) is made, within O(retries).
  - Each of these reads is one C(doveadm -f json fetch) per side for all users, both sides at
    the same time - locally with C(-F) (the users in a private file), on the destination with
    C(-A) (every user of its userdb, then only the ones synchronised are kept) when
    O(users=[all]). Named O(users) are read on the destination one request per user,
    O(parallel) at a time, so a sync of a few users never reads a whole server. A user a
    batch cannot answer for (a user unknown on one side, a failing batch) is read on its own,
    which gives the per-user error.
  - O(operation=compare) and check mode only read the message sets; nothing is written on
    either side. This answers "is the delta empty?" (RV(in_sync)).
  - Runs on the mail host and needs only Python's standard library.
author:
  - continuity.mail developers (@continuity-mail)
attributes:
  check_mode:
    support: full
    description:
      - Reads both sides' message sets and reports per user whether a sync would change
        anything (RV(users[].changed) is V(true) when the sets differ). Writes nothing,
        not even the sync state.
  diff_mode:
    support: full
    description: Message counts per user and side, before and after.
options:
  destination:
    description:
      - Host name or address of the other Dovecot server.
    type: str
    required: true
  transport:
    description:
      - V(tcp) connects to the destination's doveadm TCP listener (C(tcps:host:port) with
        O(tls), the default, or C(tcp:host:port)); both servers must share the doveadm
        password. Without O(tls) the doveadm protocol, mail and password included, is not
        encrypted.
      - V(ssh) runs C(doveadm dsync-server) on the destination through C(ssh) (key
        authentication, C(BatchMode=yes)); the remote login must be allowed to read and write
        every user's mail (usually root).
    type: str
    choices: [tcp, ssh]
    default: tcp
  port:
    description:
      - Port of the doveadm listener (V(tcp), default V(12345)) or of the SSH server
        (V(ssh), default V(22)).
    type: int
  tls:
    description:
      - With O(transport=tcp), speak doveadm inside TLS (C(tcps:), C(doveadm_ssl=ssl)); the
        destination's listener must serve TLS (the mailserver role's
        C(mailserver_doveadm_tls), on by default).
      - The certificate must chain to O(ca_file) and name O(destination), so O(destination)
        must be the server's host name as in its certificate, not an address.
      - Before anything is synchronised the module makes one TLS handshake with the
        destination; a certificate that is not trusted or does not name the destination
        fails the task with the certificate problem, and nothing is synchronised.
    type: bool
    default: true
  ca_file:
    description:
      - CA certificate(s) the destination's certificate must chain to (O(tls)).
      - When omitted, the local Dovecot's C(ssl_client_ca_file) is used (the mailserver role
        sets it to C(mailserver_tls_ca)), else the system trust store.
    type: path
  doveadm_password:
    description:
      - Shared secret of the doveadm TCP listener on the destination.
      - When omitted, the C(doveadm_password) of the local Dovecot configuration is used
        (as C(doveadm) does by default). The module fails early if that is empty too.
      - Passed to C(doveadm) in a private temporary configuration file (mode 0600), never on
        a command line.
    type: str
  ssh_user:
    description: Login on the destination for O(transport=ssh).
    type: str
  ssh_options:
    description:
      - Extra C(ssh) client arguments for O(transport=ssh), for example
        V([-i, /root/.ssh/id_mailsync, -o, StrictHostKeyChecking=yes]).
    type: list
    elements: str
    default: []
  remote_doveadm:
    description: Path of C(doveadm) on the destination (O(transport=ssh)).
    type: str
    default: doveadm
  users:
    description:
      - Users to synchronise. V(all) (alone) means every user the local userdb can iterate
        (C(doveadm user '*')); users that exist only on the destination are not included.
    type: list
    elements: str
    default: [all]
  operation:
    description:
      - V(sync) synchronises; V(compare) only reads both sides and reports whether they hold
        the same messages (RV(in_sync)); it never reports a change.
    type: str
    choices: [sync, compare]
    default: sync
  parallel:
    description:
      - How many C(doveadm) processes run at the same time (bulk groups, per-user syncs and
        per-user reads of the destination for named O(users)).
    type: int
    default: 4
  retries:
    description:
      - Extra attempts per user when C(doveadm sync) exits with code 2 (mailbox changed
        during the sync), or when it exits 0 but the message sets still differ.
    type: int
    default: 3
  lock_timeout:
    description:
      - Seconds to wait for another sync of the same user to finish (C(doveadm sync -l)); the
        lock keeps two syncs of one user from interleaving.
    type: int
    default: 60
  io_timeout:
    description: Seconds a stalled dsync connection may wait (C(doveadm sync -T)).
    type: int
    default: 120
  timeout:
    description:
      - Seconds any single C(doveadm) command may run before it is killed; a bulk run covers a
        whole group of users.
    type: int
    default: 1800
  stateful:
    description:
      - Use stateful synchronisation (C(doveadm sync -s)), keeping each user's state in
        O(state_dir), so a repeated run sends only what changed since the last one. The first
        run of a user, and every run after a failed one, compares everything.
      - Stateful syncs run one C(doveadm) per user (no bulk groups). Worth it for very large
        mailboxes synchronised often; for a failback's few rounds the default fast sync
        (mailbox metadata first) is quicker.
    type: bool
    default: false
  state_dir:
    description: Directory on the local host for the dsync states (created with mode 0700).
    type: path
    default: /var/lib/continuity-mail/dsync
  compare:
    description:
      - Read every user's message set on both sides before and after the sync (needs message
        GUIDs that survive dsync, as sdbox and mdbox keep them).
      - When V(false), RV(users[].changed) is V(true) for every successful sync and
        RV(users[].in_sync) is V(null).
    type: bool
    default: true
  fail_on_error:
    description:
      - Fail the task when any user fails (doveadm error, or still rc 2 after the retries).
        With V(false) the failures are only reported in RV(failed_users).
    type: bool
    default: true
  doveadm:
    description: Path of the local C(doveadm) binary.
    type: path
    default: doveadm
  dovecot_config:
    description: The local Dovecot configuration file (included by the private file that
      carries O(doveadm_password)).
    type: path
    default: /etc/dovecot/dovecot.conf
notes:
  - Works with Dovecot 2.3 and 2.4. C(doveadm sync), C(doveadm fetch) and the doveadm TCP
    protocol are the same in both; the module never passes C(-U) (replicator notification,
    removed with the replicator in 2.4) and does not need the replicator. In 2.4 the
    mailbox format is set with C(mail_driver)/C(mail_path) instead of C(mail_location); keep
    a format with permanent GUIDs (sdbox, mdbox).
  - Tested against Dovecot 2.3.19 (Debian bookworm) and 2.4.1 (Debian trixie) with sdbox
    mailboxes, in both directions between them, over C(tcps) with the site's CA.
  - "What RV(users[].changed) means: the user's message set (mailbox + GUID of every message)
    differs, on either side, between before and after the sync - the sync copied or removed
    messages, or mail arrived meanwhile. Flag-only changes are synchronised but not counted.
    A second run right after a complete one reports V(false) for every user."
seealso:
  - name: doveadm-sync(1)
    description: Dovecot's mailbox synchronisation.
    link: https://doc.dovecot.org/2.3/man/doveadm-sync.1/
"""

EXAMPLES = r"""
- name: Copy everything the secondary received back to the primary (both directions merge)
  continuity.mail.mailbox_sync:
    destination: mx1.example.com
    doveadm_password: "{{ continuity_doveadm_password }}"
    ca_file: /etc/ssl/continuity/ca.crt
    parallel: 8
  register: sync

- name: Without TLS, by address (a private network only)
  continuity.mail.mailbox_sync:
    destination: 192.0.2.20
    tls: false

- name: Sync until both sides hold the same messages
  continuity.mail.mailbox_sync:
    destination: mx1.example.com
    users: "{{ continuity_mail_users | map(attribute='name') | list }}"
  register: sync
  until: sync.in_sync
  retries: 5
  delay: 2

- name: Is the delta empty? (reads only)
  continuity.mail.mailbox_sync:
    destination: mx1.example.com
    operation: compare
  register: delta

- name: Over SSH instead of the doveadm TCP listener
  continuity.mail.mailbox_sync:
    destination: mx1.example.com
    transport: ssh
    ssh_user: root
    ssh_options: [-i, /root/.ssh/id_mailsync]
    users: [alice@example.com]
"""

RETURN = r"""
destination:
  description: The destination as used (without secrets).
  returned: always
  type: str
  sample: tcps:mx1.example.test:12345
in_sync:
  description:
    - V(true) when every user's message set is identical on both sides after the run (before
      it, for O(operation=compare) and check mode); V(null) when O(compare=false).
  returned: always
  type: bool
counts:
  description: Totals over all users.
  returned: always
  type: dict
  contains:
    users:
      description: Users handled.
      type: int
    synced:
      description: Users whose last sync ended with rc 0.
      type: int
    failed:
      description: Users that failed.
      type: int
    changed:
      description: Users whose message set changed (or would change, in check mode).
      type: int
    in_sync:
      description: Users with identical message sets on both sides.
      type: int
  sample: {"users": 6, "synced": 6, "failed": 0, "changed": 1, "in_sync": 6}
failed_users:
  description: Users that failed, with the reason.
  returned: always
  type: list
  elements: dict
  sample: [{"user": "bob@example.test", "error": "doveadm sync failed (rc=75): ..."}]
users:
  description: One entry per user, in the order of O(users) (sorted for V(all)).
  returned: always
  type: list
  elements: dict
  contains:
    user:
      description: The user.
      type: str
    rc:
      description: Exit code of the last C(doveadm sync) (V(null) when none ran or it timed out).
      type: int
    attempts:
      description: How many times C(doveadm sync) ran.
      type: int
    full_sync:
      description: Whether a full sync (state ignored) was needed because the sets still differed.
      type: bool
    changed:
      description: The user's message set changed on either side (see the notes).
      type: bool
    in_sync:
      description: Both sides hold the same messages (after the run).
      type: bool
    missing_on_local:
      description: Messages the remote side has and the local side lacks (after the run).
      type: int
    missing_on_remote:
      description: Messages the local side has and the remote side lacks (after the run).
      type: int
    messages:
      description: Message counts, V(local) and V(remote), each V(before) and V(after).
      type: dict
      sample: {"local": {"before": 3, "after": 5}, "remote": {"before": 2, "after": 5}}
    failed:
      description: Whether this user failed.
      type: bool
    error:
      description: Why it failed (last line of doveadm's error output), else V(null).
      type: str
dovecot_version:
  description: Version of the local Dovecot.
  returned: always
  type: str
  sample: 2.3.19.1
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.continuity.mail.plugins.module_utils._mailbox.doveadm import (
    Destination,
    Doveadm,
    DsyncError,
    password_config,
    remove_config,
)
from ansible_collections.continuity.mail.plugins.module_utils._mailbox.dsync import (
    MailboxSync,
    StateStore,
    summarise,
)
from ansible_collections.continuity.mail.plugins.module_utils._mailbox.tls import (
    check_certificate,
    is_address,
)


def validate(module):
    params = module.params
    users = params["users"]
    if not users or any(not (user or "").strip() for user in users):
        module.fail_json(
            msg="users must name at least one user (or be [all]); empty names are not allowed"
        )
    if "all" in users and len(users) > 1:
        module.fail_json(msg="users: 'all' cannot be combined with named users")
    for name in ("parallel",):
        if params[name] < 1:
            module.fail_json(msg="%s must be at least 1, got %d" % (name, params[name]))
    for name in ("retries", "lock_timeout", "io_timeout", "timeout"):
        if params[name] < 0:
            module.fail_json(msg="%s must not be negative, got %d" % (name, params[name]))
    if params["port"] is not None and not 0 < params["port"] < 65536:
        module.fail_json(msg="port must be between 1 and 65535, got %d" % params["port"])
    if params["transport"] == "tcp" and (params["ssh_user"] or params["ssh_options"]):
        module.fail_json(msg="ssh_user and ssh_options apply only to transport=ssh")
    if params["transport"] == "ssh" and params["doveadm_password"]:
        module.fail_json(msg="doveadm_password applies only to transport=tcp")
    if params["transport"] == "tcp" and params["tls"] and is_address(params["destination"]):
        module.fail_json(
            msg="tls=true verifies the certificate's name: give the destination's host name "
            "as in its certificate, not the address %s (or tls=false)" % params["destination"]
        )
    if params["ca_file"] and not os.path.isfile(params["ca_file"]):
        module.fail_json(msg="ca_file %s does not exist" % params["ca_file"])


def dovecot_tool(module, name, doveadm_bin):
    """doveconf / dovecot live next to doveadm or in sbin."""
    return module.get_bin_path(name, opt_dirs=[os.path.dirname(doveadm_bin), "/usr/sbin"])


def local_password_set(module, doveadm_bin):
    doveconf = dovecot_tool(module, "doveconf", doveadm_bin)
    if not doveconf:
        return True  # cannot tell; doveadm itself will report a failed authentication
    rc, out, dummy = module.run_command([doveconf, "-h", "doveadm_password"])
    return rc == 0 and out.strip() != ""


def local_client_ca(module, doveadm_bin):
    """The CA file the local doveadm verifies servers with (2.4 keeps it in ssl_client {})."""
    doveconf = dovecot_tool(module, "doveconf", doveadm_bin)
    if not doveconf:
        return None
    for name in ("ssl_client/ssl_client_ca_file", "ssl_client_ca_file"):
        rc, out, dummy = module.run_command([doveconf, "-h", name])
        if rc == 0 and out.strip():
            return out.strip()
    return None


def dovecot_version(module, doveadm_bin):
    dovecot = dovecot_tool(module, "dovecot", doveadm_bin)
    if not dovecot:
        return ""
    rc, out, dummy = module.run_command([dovecot, "--version"])
    return out.split()[0] if rc == 0 and out.strip() else ""


def main():
    module = AnsibleModule(
        argument_spec=dict(
            destination=dict(type="str", required=True),
            transport=dict(type="str", choices=["tcp", "ssh"], default="tcp"),
            port=dict(type="int"),
            tls=dict(type="bool", default=True),
            ca_file=dict(type="path"),
            doveadm_password=dict(type="str", no_log=True),
            ssh_user=dict(type="str"),
            ssh_options=dict(type="list", elements="str", default=[]),
            remote_doveadm=dict(type="str", default="doveadm"),
            users=dict(type="list", elements="str", default=["all"]),
            operation=dict(type="str", choices=["sync", "compare"], default="sync"),
            parallel=dict(type="int", default=4),
            retries=dict(type="int", default=3),
            lock_timeout=dict(type="int", default=60),
            io_timeout=dict(type="int", default=120),
            timeout=dict(type="int", default=1800),
            stateful=dict(type="bool", default=False),
            state_dir=dict(type="path", default="/var/lib/continuity-mail/dsync"),
            compare=dict(type="bool", default=True),
            fail_on_error=dict(type="bool", default=True),
            doveadm=dict(type="path", default="doveadm"),
            dovecot_config=dict(type="path", default="/etc/dovecot/dovecot.conf"),
        ),
        supports_check_mode=True,
    )
    validate(module)
    params = module.params
    doveadm_bin = module.get_bin_path(params["doveadm"], required=True)
    destination = Destination(
        params["transport"],
        params["destination"].strip(),
        params["port"],
        ssh_user=params["ssh_user"],
        ssh_options=params["ssh_options"],
        remote_doveadm=params["remote_doveadm"],
        tls=params["tls"],
    )
    settings = {}
    if destination.tls:
        settings["doveadm_ssl"] = "ssl"
        if params["ca_file"]:
            settings["ssl_client_ca_file"] = params["ca_file"]
        ca_file = params["ca_file"] or local_client_ca(module, doveadm_bin)
        problem = check_certificate(destination.host, destination.port, ca_file)
        if problem:
            module.fail_json(
                msg="TLS check of %s failed, nothing was synchronised: %s"
                % (destination.describe(), problem),
                destination=destination.describe(),
            )
    if params["transport"] == "ssh" and not module.get_bin_path("ssh"):
        module.fail_json(msg="transport=ssh needs the ssh client on %s" % destination.host)
    if (
        params["transport"] == "tcp"
        and not params["doveadm_password"]
        and not local_password_set(module, doveadm_bin)
    ):
        module.fail_json(
            msg="no doveadm password: doveadm_password is empty in the local Dovecot "
            "configuration; give the doveadm_password option"
        )

    version = dovecot_version(module, doveadm_bin)
    config_dir = None
    try:
        config_path = None
        if params["doveadm_password"]:
            config_dir, config_path = password_config(
                params["doveadm_password"], params["dovecot_config"]
            )
        doveadm = Doveadm(
            doveadm_bin, config_path=config_path, timeout=params["timeout"], settings=settings
        )
        if params["users"] == ["all"]:
            try:
                users = doveadm.list_users()
            except DsyncError as exc:
                module.fail_json(msg=str(exc))
        else:
            users = list(dict.fromkeys(user.strip() for user in params["users"]))
        states = None
        if params["stateful"] and not module.check_mode and params["operation"] == "sync":
            states = StateStore(params["state_dir"], destination)
        engine = MailboxSync(
            doveadm,
            destination,
            parallel=params["parallel"],
            retries=params["retries"],
            lock_timeout=params["lock_timeout"],
            io_timeout=params["io_timeout"],
            states=states,
            compare_sets=params["compare"],
            remote_batch=params["users"] == ["all"],
        )
        if module.check_mode or params["operation"] == "compare":
            results = engine.compare(users, check_mode=module.check_mode)
        else:
            results = engine.sync(users)
    finally:
        remove_config(config_dir)

    counts = summarise(results)
    failed_users = [{"user": r["user"], "error": r["error"]} for r in results if r["failed"]]
    in_sync = None
    if params["compare"] or module.check_mode or params["operation"] == "compare":
        in_sync = bool(results) and all(r["in_sync"] for r in results)
    result = dict(
        changed=counts["changed"] > 0,
        destination=destination.describe(),
        in_sync=in_sync,
        counts=counts,
        failed_users=failed_users,
        users=results,
        dovecot_version=version,
    )
    if module._diff:
        result["diff"] = {
            "before": {
                r["user"]: {side: r["messages"][side]["before"] for side in ("local", "remote")}
                for r in results
            },
            "after": {
                r["user"]: {side: r["messages"][side]["after"] for side in ("local", "remote")}
                for r in results
            },
        }
    if failed_users and params["fail_on_error"]:
        detail = "; ".join("%s: %s" % (f["user"], f["error"]) for f in failed_users[:5])
        module.fail_json(
            msg="mailbox_sync failed for %d of %d user(s) against %s: %s"
            % (len(failed_users), len(results), destination.describe(), detail),
            **result,
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
