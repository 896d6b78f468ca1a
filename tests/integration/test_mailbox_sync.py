# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""mailbox_sync against the lab: mx2 (where the module runs) <-> mx1 over doveadm TCP.

Real mail is put on each side (SMTP into mx1, LMTP into mx2's Dovecot), the module is run
through Ansible on mx2, and the result is checked by reading both Dovecots with doveadm.
The mailbox used, canary@example.org, is one no other flow sends to.
"""

import subprocess

import pytest

from dovecot_minimal import dovecot_conf
from flows_lab import (
    count_tagged,
    expunge_tagged,
    guid_set,
    lmtp_deliver,
    module,
    smtp_send,
    tagged_message,
    token,
)
from labtools import wait_until

USER = "canary@example.org"
OTHER = "alice@example.org"


@pytest.fixture
def tags(lab):
    created = []
    yield created
    for tag in created:
        for host in ("mx1", "mx2"):
            for user in (USER, OTHER):
                expunge_tagged(lab, host, user, tag)


def destination(lab):
    # tcps (the default) verifies the certificate's name: dial mx1 by the name it carries.
    return "mx1.example.test"


def put_on_both_sides(lab, tags, user=USER):
    """One new message only on mx1 (by SMTP) and one only on mx2 (by LMTP)."""
    on_mx1, on_mx2 = token("sync-mx1"), token("sync-mx2")
    tags.extend([on_mx1, on_mx2])
    smtp_send(lab.ip("mx1"), tagged_message(on_mx1, user))
    lmtp_deliver(lab, "mx2", tagged_message(on_mx2, user))
    wait_until(
        lambda: count_tagged(lab, "mx1", user, on_mx1) == 1,
        timeout=60,
        what="the SMTP message to reach mx1's mailbox",
    )
    assert count_tagged(lab, "mx2", user, on_mx2) == 1
    return on_mx1, on_mx2


def user_result(result, user):
    matches = [entry for entry in result["users"] if entry["user"] == user]
    assert len(matches) == 1, result["users"]
    return matches[0]


def test_compare_and_check_mode_see_the_delta_and_change_nothing(lab, tags):
    on_mx1, on_mx2 = put_on_both_sides(lab, tags)
    before_mx1, before_mx2 = guid_set(lab, "mx1", USER), guid_set(lab, "mx2", USER)

    compared = module(
        "mx2",
        "continuity.mail.mailbox_sync",
        {"destination": destination(lab), "users": [USER], "operation": "compare"},
    )
    assert not compared.get("failed"), compared
    assert compared["changed"] is False
    assert compared["in_sync"] is False
    entry = user_result(compared, USER)
    assert entry["missing_on_local"] >= 1 and entry["missing_on_remote"] >= 1, entry
    assert entry["attempts"] == 0

    checked = module(
        "mx2",
        "continuity.mail.mailbox_sync",
        {"destination": destination(lab), "users": [USER]},
        check=True,
        diff=True,
    )
    assert not checked.get("failed"), checked
    assert checked["changed"] is True, "check mode must report the sync it would make"
    assert user_result(checked, USER)["attempts"] == 0
    assert checked["diff"]["before"][USER]["local"] == len(before_mx2)

    assert guid_set(lab, "mx1", USER) == before_mx1, "compare/check mode wrote to mx1"
    assert guid_set(lab, "mx2", USER) == before_mx2, "compare/check mode wrote to mx2"
    assert count_tagged(lab, "mx1", USER, on_mx2) == 0
    assert count_tagged(lab, "mx2", USER, on_mx1) == 0


def test_sync_merges_both_ways_exactly_once_and_a_second_run_changes_nothing(lab, tags):
    on_mx1, on_mx2 = put_on_both_sides(lab, tags)

    synced = module(
        "mx2",
        "continuity.mail.mailbox_sync",
        {"destination": destination(lab), "users": [USER]},
        diff=True,
    )
    assert not synced.get("failed"), synced
    assert synced["changed"] is True
    assert synced["in_sync"] is True
    assert synced["counts"] == {"users": 1, "synced": 1, "failed": 0, "changed": 1, "in_sync": 1}
    entry = user_result(synced, USER)
    assert entry["rc"] == 0 and entry["failed"] is False
    messages = entry["messages"]
    assert messages["local"]["after"] == messages["remote"]["after"]
    assert messages["local"]["after"] >= messages["local"]["before"] + 1
    assert messages["remote"]["after"] >= messages["remote"]["before"] + 1

    # Every message exactly once on each side, and both sides the same set.
    for tag in (on_mx1, on_mx2):
        assert count_tagged(lab, "mx1", USER, tag) == 1, tag
        assert count_tagged(lab, "mx2", USER, tag) == 1, tag
    assert guid_set(lab, "mx1", USER) == guid_set(lab, "mx2", USER)

    again = module(
        "mx2", "continuity.mail.mailbox_sync", {"destination": destination(lab), "users": [USER]}
    )
    assert not again.get("failed"), again
    assert again["changed"] is False, again["users"]
    assert again["in_sync"] is True
    for tag in (on_mx1, on_mx2):
        assert count_tagged(lab, "mx1", USER, tag) == 1
        assert count_tagged(lab, "mx2", USER, tag) == 1


def test_deletions_on_one_side_reach_the_other(lab, tags):
    on_mx1, dummy = put_on_both_sides(lab, tags)
    first = module(
        "mx2", "continuity.mail.mailbox_sync", {"destination": destination(lab), "users": [USER]}
    )
    assert first["in_sync"] is True, first
    assert count_tagged(lab, "mx2", USER, on_mx1) == 1

    expunge_tagged(lab, "mx1", USER, on_mx1)
    second = module(
        "mx2", "continuity.mail.mailbox_sync", {"destination": destination(lab), "users": [USER]}
    )
    assert not second.get("failed"), second
    assert second["changed"] is True and second["in_sync"] is True
    assert count_tagged(lab, "mx2", USER, on_mx1) == 0, "the expunge on mx1 did not reach mx2"


def test_parallel_users_explicit_password_and_no_secret_left_behind(lab, tags):
    put_on_both_sides(lab, tags, USER)
    put_on_both_sides(lab, tags, OTHER)
    password = lab.vars["continuity_doveadm_password"]
    result = module(
        "mx2",
        "continuity.mail.mailbox_sync",
        {
            "destination": destination(lab),
            "users": [USER, OTHER],
            "parallel": 2,
            "doveadm_password": password,
            "stateful": False,
        },
    )
    assert not result.get("failed"), result
    assert [entry["user"] for entry in result["users"]] == [USER, OTHER]
    assert result["in_sync"] is True
    assert result["counts"]["synced"] == 2 and result["counts"]["changed"] == 2
    for user in (USER, OTHER):
        assert guid_set(lab, "mx1", user) == guid_set(lab, "mx2", user), user
    leftovers = lab.exec("mx2", "ls -d /tmp/continuity-dsync-* 2>/dev/null || true").stdout.strip()
    assert leftovers == "", "temporary config with the password left behind: %s" % leftovers
    assert password not in str(result)


def test_all_users_come_from_the_userdb(lab):
    result = module(
        "mx2",
        "continuity.mail.mailbox_sync",
        {"destination": destination(lab), "users": ["all"], "operation": "compare"},
    )
    assert not result.get("failed"), result
    expected = sorted(name.lower() for name in lab.users)
    assert [entry["user"] for entry in result["users"]] == expected


def test_wrong_password_fails_clearly_and_changes_nothing(lab, tags):
    _on_mx1, _on_mx2 = put_on_both_sides(lab, tags)
    before = guid_set(lab, "mx1", USER), guid_set(lab, "mx2", USER)
    result = module(
        "mx2",
        "continuity.mail.mailbox_sync",
        {
            "destination": destination(lab),
            "users": [USER],
            "doveadm_password": "Not-the-lab-password-Zq81",
        },
    )
    assert result.get("failed") is True
    assert "mailbox_sync failed for 1 of 1 user(s)" in result["msg"]
    assert "authentication failed" in result["msg"]
    assert result["failed_users"][0]["user"] == USER
    assert (guid_set(lab, "mx1", USER), guid_set(lab, "mx2", USER)) == before


def test_unreachable_destination_fails_per_user(lab):
    result = module(
        "mx2",
        "continuity.mail.mailbox_sync",
        {
            "destination": "172.30.53.69",
            "tls": False,
            "users": [USER],
            "timeout": 30,
            "fail_on_error": False,
        },
    )
    assert result.get("failed") is not True, result
    assert result["counts"]["failed"] == 1
    assert "172.30.53.69" in result["failed_users"][0]["error"]


def test_bad_input_is_refused_before_anything_runs(lab):
    result = module(
        "mx2",
        "continuity.mail.mailbox_sync",
        {"destination": destination(lab), "users": ["all", USER]},
    )
    assert result.get("failed") is True
    assert "'all' cannot be combined" in result["msg"]
    result = module(
        "mx2",
        "continuity.mail.mailbox_sync",
        {"destination": destination(lab), "users": [USER], "parallel": 0},
    )
    assert result.get("failed") is True and "parallel must be at least 1" in result["msg"]


# --- over SSH: two extra containers (172.30.53.61 runs the module, .62 is reached by ssh) ----

SSH_SOURCE, SSH_DEST = "continuity-lab-ssh61", "continuity-lab-ssh62"
SSH_IPS = {SSH_SOURCE: "172.30.53.61", SSH_DEST: "172.30.53.62"}
SSH_USERS = ["sync1@example.test", "sync2@example.test"]


def docker(*args, check=True, input_text=None, timeout=300):
    result = subprocess.run(
        ["docker"] + list(args),
        capture_output=True,
        text=True,
        input=input_text,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            "docker %s failed: %s %s" % (" ".join(args), result.stdout, result.stderr)
        )
    return result


def in_container(name, script, input_text=None):
    return docker("exec", "-i", name, "bash", "-c", script, input_text=input_text).stdout


@pytest.fixture(scope="module")
def ssh_pair(lab):
    for name in SSH_IPS:
        docker("rm", "-f", name, check=False)
    try:
        for name, ip in SSH_IPS.items():
            docker(
                "run",
                "-d",
                "--name",
                name,
                "--hostname",
                name.rsplit("-", 1)[-1],
                "--label",
                "continuity.mail.lab=mailbox-sync-ssh",
                "--tmpfs",
                "/run",
                "--tmpfs",
                "/run/lock",
                "-v",
                "/sys/fs/cgroup:/sys/fs/cgroup:ro",
                "--network",
                lab.vars["lab_network"],
                "--ip",
                ip,
                "continuity-lab:latest",
                "/lib/systemd/systemd",
            )
        for name in SSH_IPS:
            wait_until(
                lambda name=name: (
                    docker(
                        "exec", name, "systemctl", "is-system-running", check=False
                    ).stdout.strip()
                    in ("running", "degraded")
                ),
                timeout=120,
                what="systemd in %s" % name,
            )
            in_container(
                name,
                "groupadd -g 5000 vmail && useradd -u 5000 -g vmail -d /var/vmail vmail && "
                "install -d -o vmail -g vmail /var/vmail && cat > /etc/dovecot/dovecot.conf && "
                "printf '%s' > /etc/dovecot/users && systemctl restart dovecot"
                % "".join("%s:{PLAIN}unused::::::\\n" % user for user in SSH_USERS),
                input_text=dovecot_conf(),
            )
        packages = {SSH_SOURCE: "openssh-client", SSH_DEST: "openssh-server"}
        for name, package in packages.items():
            in_container(
                name,
                "export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && "
                "apt-get install -y -qq %s >/dev/null" % package,
            )
        public = in_container(
            SSH_SOURCE,
            "install -d -m 700 /root/.ssh && "
            "ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_sync && "
            "cat /root/.ssh/id_sync.pub",
        )
        in_container(
            SSH_DEST,
            "install -d -m 700 /root/.ssh && cat >> /root/.ssh/authorized_keys && "
            "chmod 600 /root/.ssh/authorized_keys && systemctl enable --now ssh.service && "
            "systemctl is-active ssh.service",
            input_text=public,
        )
        in_container(
            SSH_SOURCE,
            "ssh-keyscan -t ed25519 %s > /root/.ssh/known_hosts 2>/dev/null" % SSH_IPS[SSH_DEST],
        )
        yield
    finally:
        for name in SSH_IPS:
            docker("rm", "-f", name, check=False)


def save(name, user, tag):
    in_container(
        name, "doveadm save -u %s" % user, input_text=tagged_message(tag, user).as_string()
    )


def guids(name, user):
    out = in_container(name, "doveadm -f tab fetch -u %s 'mailbox guid' all" % user)
    return sorted(line for line in out.splitlines()[1:] if line.strip())


def ssh_args(**extra):
    args = {
        "destination": SSH_IPS[SSH_DEST],
        "transport": "ssh",
        "ssh_user": "root",
        "ssh_options": ["-i", "/root/.ssh/id_sync"],
        "users": ["all"],
        "parallel": 2,
    }
    args.update(extra)
    return args


def test_over_ssh_both_ways_for_every_user(ssh_pair):
    for user in SSH_USERS:
        save(SSH_SOURCE, user, token("ssh-src"))
        save(SSH_DEST, user, token("ssh-dst"))
    result = module(SSH_SOURCE, "continuity.mail.mailbox_sync", ssh_args(), container=True)
    assert not result.get("failed"), result
    assert result["destination"] == "ssh:root@172.30.53.62:22"
    assert result["in_sync"] is True and result["counts"]["changed"] == 2
    for user in SSH_USERS:
        assert len(guids(SSH_SOURCE, user)) == 2 and guids(SSH_SOURCE, user) == guids(
            SSH_DEST, user
        ), user

    again = module(SSH_SOURCE, "continuity.mail.mailbox_sync", ssh_args(), container=True)
    assert again["changed"] is False and again["in_sync"] is True


def test_over_ssh_a_refused_key_fails_clearly(ssh_pair):
    result = module(
        SSH_SOURCE,
        "continuity.mail.mailbox_sync",
        ssh_args(ssh_options=["-i", "/nonexistent/key"], users=[SSH_USERS[0]]),
        container=True,
    )
    assert result.get("failed") is True
    assert "Permission denied" in result["msg"], result["msg"]
