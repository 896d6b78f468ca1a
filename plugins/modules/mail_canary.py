#!/usr/bin/python
# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r"""
---
module: mail_canary
short_description: Send a tagged canary message and confirm over IMAP where it landed
version_added: 0.1.0
description:
  - Sends one message carrying a unique token (in the Subject, the Message-ID and the
    C(X-Continuity-Canary) header) by SMTP, then polls the canary mailbox over IMAP on every
    server in O(servers) until the message shows up or O(timeout) passes.
  - The servers are logged in to and polled concurrently. A server that stops answering
    (blackholed, its connection hanging until O(connect_timeout)) does not slow the polling of
    the others; it is reported under RV(errors) and left alone.
  - O(path=direct) hands the message straight to the mail server at O(smtp_host).
    O(path=sender) hands it to a relay (an internet-facing MTA such as the lab's C(sender)),
    so the relay resolves the domain's MX records and delivers by preference - the route real
    senders take.
  - Succeeds when the message is found on O(expect_on) (or on any server when O(expect_on) is
    not set). A message found on another server stops the wait (mail does not move between
    servers by itself) and fails the task.
  - The canary is deleted from every server it was found on (O(delete)), with C(UID EXPUNGE)
    so nothing else in the mailbox is touched.
  - Speaks SMTP, IMAP and TLS with the same client code as M(continuity.mail.mail_health), so
    both judge STARTTLS and certificates alike. Standard library only (asyncio, ssl); runs on
    the control node or on any probe host through C(delegate_to).
author:
  - continuity.mail developers (@continuity-mail)
attributes:
  check_mode:
    support: full
    description: Sends nothing and connects nowhere; returns the token and what it would do.
  diff_mode:
    support: none
    description: A canary leaves no state behind to compare.
options:
  path:
    description:
      - V(direct) - O(smtp_host) is the mail server that should file the message; when
        O(expect_on) is not set and O(smtp_host) is one of the O(servers), that server is
        expected.
      - V(sender) - O(smtp_host) is a relay that must accept the message from this host and
        deliver it by MX resolution.
    type: str
    choices: [direct, sender]
    default: direct
  smtp_host:
    description: Host name or address the message is submitted to.
    type: str
    required: true
  smtp_port:
    description: SMTP port of O(smtp_host).
    type: int
    default: 25
  smtp_server_name:
    description:
      - Name expected in O(smtp_host)'s certificate (and sent as SNI) when STARTTLS is used.
        Defaults to O(smtp_host); set it when connecting by address.
    type: str
  starttls:
    description:
      - V(auto) uses STARTTLS when the server offers it, V(always) fails when it does not,
        V(never) sends in clear text.
    type: str
    choices: [auto, always, never]
    default: auto
  helo_name:
    description: Name sent in EHLO (default the local host's FQDN).
    type: str
  to:
    description: The canary recipient, for example V(canary@example.test).
    type: str
    required: true
  mail_from:
    description: Envelope and header sender (default O(to)).
    type: str
  subject_prefix:
    description: Subject before the token.
    type: str
    default: continuity canary
  token:
    description:
      - Token to use instead of a fresh random one (letters, digits, C(.), C(_) and C(-) only),
        for example to correlate a drill step.
    type: str
  imap_user:
    description: IMAP login of the canary mailbox (default O(to)).
    type: str
  imap_password:
    description: IMAP password of the canary mailbox.
    type: str
    required: true
  servers:
    description: IMAP servers to look at.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Name used in results and in O(expect_on) (default O(servers[].host)).
        type: str
      host:
        description: Host name or address.
        type: str
        required: true
      port:
        description: IMAP port.
        type: int
        default: 143
      tls:
        description: V(starttls) on the plain port, or V(implicit) TLS (port 993).
        type: str
        choices: [starttls, implicit]
        default: starttls
      server_name:
        description: Name expected in the certificate (default O(servers[].host)).
        type: str
  expect_on:
    description:
      - Name (or host) of the server in O(servers) that must file the message.
    type: str
  timeout:
    description: Seconds to wait for the message to show up after it was accepted by SMTP.
    type: int
    default: 60
  poll_interval:
    description:
      - Longest pause between two rounds of IMAP searches; the first pauses are shorter
        (0.2 s, growing by half each round) so fast deliveries are timed precisely.
    type: float
    default: 1.0
  connect_timeout:
    description: Seconds for each SMTP or IMAP connection and command.
    type: int
    default: 10
  delete:
    description: Delete the canary from every server it was found on.
    type: bool
    default: true
  fail_on_missing:
    description:
      - Fail the task when the canary was not sent or not found where expected in time.
        With V(false) the result only says RV(delivered=false).
    type: bool
    default: true
  tls_verify:
    description: Verify certificates (SMTP STARTTLS and IMAP).
    type: bool
    default: true
  ca_path:
    description: CA bundle to verify against (default the system store).
    type: path
notes:
  - RV(latency_s) runs from the start of the SMTP connection to the IMAP search that first saw
    the message, so its resolution is the polling interval of that moment.
  - C(changed) is V(true) only when a message was sent and not deleted afterwards, i.e. when
    something was left in a mailbox (or may still arrive there).
"""

EXAMPLES = r"""
- name: Mail from the internet lands on the secondary after a failover
  continuity.mail.mail_canary:
    path: sender
    smtp_host: "{{ hostvars['sender'].lab_ip }}"
    to: canary@example.test
    imap_password: "{{ (continuity_mail_users | selectattr('name', 'eq', 'canary@example.test')
      | first).password }}"
    servers:
      - {name: mx1, host: 172.30.53.20, server_name: mx1.example.test}
      - {name: mx2, host: 172.30.53.21, server_name: mx2.example.test}
    expect_on: mx2
    ca_path: "{{ lab_ca_cert }}"
    timeout: 120
  register: canary

- name: Straight to the secondary (non-disruptive drill)
  continuity.mail.mail_canary:
    path: direct
    smtp_host: 172.30.53.21
    smtp_server_name: mx2.example.test
    to: canary@example.test
    imap_password: "{{ canary_password }}"
    servers:
      - {name: mx2, host: 172.30.53.21, server_name: mx2.example.test}
    ca_path: /etc/ssl/continuity/ca.crt
    fail_on_missing: false
"""

RETURN = r"""
token:
  description: The canary's unique token.
  returned: always
  type: str
  sample: canary-1764268800-3f2a9c1d0b7e4a55
message_id:
  description: Message-ID header of the canary.
  returned: always
  type: str
  sample: <canary-1764268800-3f2a9c1d0b7e4a55@example.test>
delivered:
  description: Found on O(expect_on) (or anywhere without O(expect_on)) within the timeout.
  returned: always
  type: bool
held_by:
  description: The server that held it (O(expect_on) when found there), else V(null).
  returned: always
  type: str
  sample: mx2
found_on:
  description: Every server it was found on.
  returned: always
  type: list
  elements: str
  sample: [mx2]
deleted:
  description: Servers it was deleted from.
  returned: always
  type: list
  elements: str
latency_s:
  description: Seconds from SMTP connect to the first IMAP sighting; V(null) when not found.
  returned: always
  type: float
  sample: 1.284
sent_at:
  description: Epoch time the submission started (V(null) when not sent).
  returned: always
  type: float
found_at:
  description: Epoch time of the first IMAP sighting (V(null) when not found).
  returned: always
  type: float
smtp_s:
  description: Seconds the SMTP submission took.
  returned: when sent
  type: float
checks:
  description: Rounds of IMAP searches made.
  returned: always
  type: int
smtp:
  description: The SMTP transaction, V(host), V(port), V(tls) (STARTTLS used) and the final
    V(response).
  returned: always
  type: dict
  sample:
    host: 172.30.53.30
    port: 25
    tls: false
    response: "250 2.0.0 Ok: queued as 4C1A2E4028"
expect_on:
  description: The server that had to file it (after defaults), or V(null).
  returned: always
  type: str
path:
  description: The path used.
  returned: always
  type: str
servers:
  description: Names of the servers looked at.
  returned: always
  type: list
  elements: str
errors:
  description:
    - Last error per server (and V(smtp)), for servers that could not be asked, or that had
      not answered when the poll ended.
  returned: always
  type: dict
  sample: {"mx1": "ConnectionRefusedError: [Errno 111] Connection refused"}
"""

import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.continuity.mail.plugins.module_utils._mail.canary import (
    CanaryError,
    round_trip,
)

TOKEN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def validate(module):
    params = module.params
    for name in ("timeout", "connect_timeout"):
        if params[name] < 1:
            module.fail_json(msg="%s must be at least 1 second, got %d" % (name, params[name]))
    if params["poll_interval"] <= 0:
        module.fail_json(msg="poll_interval must be positive, got %s" % params["poll_interval"])
    if not params["servers"]:
        module.fail_json(msg="servers must list at least one IMAP server")
    for name in ("to", "mail_from"):
        if params[name] is not None and "@" not in params[name]:
            module.fail_json(msg="%s must be a mail address, got %r" % (name, params[name]))
    if params["token"] is not None and not TOKEN.match(params["token"]):
        module.fail_json(
            msg="token may hold only letters, digits, '.', '_' and '-' (1-64 characters)"
        )
    ports = [("smtp_port", params["smtp_port"])] + [
        ("servers[].port", s["port"]) for s in params["servers"]
    ]
    for name, port in ports:
        if not 0 < port < 65536:
            module.fail_json(msg="%s must be between 1 and 65535, got %d" % (name, port))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="str", choices=["direct", "sender"], default="direct"),
            smtp_host=dict(type="str", required=True),
            smtp_port=dict(type="int", default=25),
            smtp_server_name=dict(type="str"),
            starttls=dict(type="str", choices=["auto", "always", "never"], default="auto"),
            helo_name=dict(type="str"),
            to=dict(type="str", required=True),
            mail_from=dict(type="str"),
            subject_prefix=dict(type="str", default="continuity canary"),
            token=dict(type="str", no_log=False),
            imap_user=dict(type="str"),
            imap_password=dict(type="str", required=True, no_log=True),
            servers=dict(
                type="list",
                elements="dict",
                required=True,
                options=dict(
                    name=dict(type="str"),
                    host=dict(type="str", required=True),
                    port=dict(type="int", default=143),
                    tls=dict(type="str", choices=["starttls", "implicit"], default="starttls"),
                    server_name=dict(type="str"),
                ),
            ),
            expect_on=dict(type="str"),
            timeout=dict(type="int", default=60),
            poll_interval=dict(type="float", default=1.0),
            connect_timeout=dict(type="int", default=10),
            delete=dict(type="bool", default=True),
            fail_on_missing=dict(type="bool", default=True),
            tls_verify=dict(type="bool", default=True),
            ca_path=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    validate(module)
    try:
        result, error = round_trip(module.params, check_mode=module.check_mode)
    except CanaryError as exc:
        module.fail_json(msg=str(exc))
    # Something stays behind (or may still arrive) unless the canary was found and removed.
    sent = result["sent_at"] is not None
    left_behind = not result["found_on"] or set(result["found_on"]) - set(result["deleted"])
    result["changed"] = bool(sent and left_behind)
    if error and module.params["fail_on_missing"]:
        module.fail_json(msg=error, **result)
    if error:
        result["msg"] = error
    module.exit_json(**result)


if __name__ == "__main__":
    main()
