# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""mailbox_sync as Ansible runs it: argument checks, check mode, diff, failure reporting
(doveadm faked; the real thing is in tests/integration/test_mailbox_sync.py)."""

import collections
import json
import os

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.continuity.mail.plugins.module_utils._mailbox import doveadm
from ansible_collections.continuity.mail.plugins.modules import mailbox_sync
from dovecot_fake import FakeDovecot

USER = "alice@example.test"
PASSWORD = "Unit-doveadm-Wq3Kp"


@pytest.fixture
def dovecot(monkeypatch, tmp_path):
    fake = FakeDovecot(
        local={USER: collections.Counter({("INBOX", "g1"): 1})}, users=[USER, "bob@example.test"]
    )
    fake.local_password = "set"
    monkeypatch.setattr(doveadm, "run_command", fake)
    monkeypatch.setattr(
        AnsibleModule,
        "get_bin_path",
        lambda self, name, required=False, opt_dirs=None: "/usr/bin/" + name,
    )

    def run_command(self, args, **kwargs):
        if args[-1] == "doveadm_password":
            return 0, fake.local_password + "\n", ""
        if args[-1] == "--version":
            return 0, "2.3.19.1 (9b53102964)\n", ""
        raise AssertionError("unexpected command %r" % args)

    monkeypatch.setattr(AnsibleModule, "run_command", run_command)
    fake.state_dir = str(tmp_path / "state")
    return fake


def run(capsys, args):
    with patch_module_args(args), pytest.raises(SystemExit) as info:
        mailbox_sync.main()
    return info.value.code, json.loads(capsys.readouterr().out)


def base(dovecot, **extra):
    args = {
        "destination": "192.0.2.20",
        "tls": False,
        "users": [USER],
        "state_dir": dovecot.state_dir,
    }
    args.update(extra)
    return args


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"users": ["all", USER]}, "'all' cannot be combined"),
        ({"users": [" "]}, "empty names are not allowed"),
        ({"parallel": 0}, "parallel must be at least 1"),
        ({"retries": -1}, "retries must not be negative"),
        ({"port": 70000}, "port must be between 1 and 65535"),
        ({"ssh_user": "root"}, "ssh_user and ssh_options apply only to transport=ssh"),
        (
            {"transport": "ssh", "doveadm_password": PASSWORD},
            "doveadm_password applies only to transport=tcp",
        ),
        ({"transport": "tls"}, "value of transport must be one of"),
    ],
)
def test_bad_input_fails_before_any_doveadm_run(capsys, dovecot, extra, message):
    code, out = run(capsys, base(dovecot, **extra))
    assert code == 1 and message in out["msg"]
    assert dovecot.calls == []


def test_tls_needs_the_destination_name_not_its_address(capsys, dovecot):
    code, out = run(capsys, base(dovecot, tls=True))
    assert code == 1 and "not the address 192.0.2.20" in out["msg"]
    assert dovecot.calls == []


def test_tls_certificate_problem_fails_before_anything_is_synced(
    capsys, dovecot, monkeypatch, tmp_path
):
    ca = str(tmp_path / "ca.crt")
    open(ca, "w", encoding="utf-8").close()
    seen = []

    def refuse(host, port, ca_file=None, timeout=10.0):
        seen.append((host, port, ca_file))
        return "the certificate of %s:%d is not trusted: unable to get local issuer" % (host, port)

    monkeypatch.setattr(mailbox_sync, "check_certificate", refuse)
    code, out = run(
        capsys,
        base(dovecot, destination="mx1.example.test", tls=True, ca_file=ca),
    )
    assert code == 1
    assert out["msg"].startswith("TLS check of tcps:mx1.example.test:12345 failed")
    assert "nothing was synchronised" in out["msg"] and "not trusted" in out["msg"]
    assert seen == [("mx1.example.test", 12345, ca)]
    assert dovecot.calls == []


def test_tls_runs_every_doveadm_with_tcps_and_the_client_settings(
    capsys, dovecot, monkeypatch, tmp_path
):
    ca = str(tmp_path / "ca.crt")
    open(ca, "w", encoding="utf-8").close()
    monkeypatch.setattr(mailbox_sync, "check_certificate", lambda *args, **kwargs: None)
    code, out = run(
        capsys,
        base(dovecot, destination="mx1.example.test", tls=True, ca_file=ca),
    )
    assert code == 0, out
    assert out["destination"] == "tcps:mx1.example.test:12345"
    assert dovecot.calls
    for call in dovecot.calls:
        assert "doveadm_ssl=ssl" in call and "ssl_client_ca_file=%s" % ca in call, call
    assert all("tcps:mx1.example.test:12345" in call for call in dovecot.syncs())


def test_ca_file_must_exist(capsys, dovecot):
    code, out = run(capsys, base(dovecot, ca_file="/nonexistent/ca.crt"))
    assert code == 1 and "ca_file /nonexistent/ca.crt does not exist" in out["msg"]


def test_no_password_anywhere_is_refused(capsys, dovecot):
    dovecot.local_password = ""
    code, out = run(capsys, base(dovecot))
    assert code == 1 and "no doveadm password" in out["msg"]
    assert dovecot.calls == []


def test_sync_reports_per_user_and_totals_with_diff(capsys, dovecot):
    code, out = run(capsys, base(dovecot, _ansible_diff=True))
    assert code == 0 and out["changed"] is True and out["in_sync"] is True
    assert out["destination"] == "tcp:192.0.2.20:12345" and out["dovecot_version"] == "2.3.19.1"
    assert out["counts"] == {"users": 1, "synced": 1, "failed": 0, "changed": 1, "in_sync": 1}
    assert out["diff"] == {
        "before": {USER: {"local": 1, "remote": 0}},
        "after": {USER: {"local": 1, "remote": 1}},
    }
    assert len(dovecot.syncs()) == 1


def test_check_mode_compares_and_syncs_nothing(capsys, dovecot):
    code, out = run(capsys, base(dovecot, _ansible_check_mode=True))
    assert code == 0 and out["changed"] is True and out["in_sync"] is False
    assert dovecot.syncs() == []
    assert out["users"][0]["missing_on_remote"] == 1


def test_compare_operation_never_reports_a_change(capsys, dovecot):
    code, out = run(capsys, base(dovecot, operation="compare"))
    assert (
        code == 0 and out["changed"] is False and out["in_sync"] is False and dovecot.syncs() == []
    )


def test_all_users_come_from_the_local_userdb(capsys, dovecot):
    code, out = run(capsys, base(dovecot, users=["all"]))
    assert code == 0 and [u["user"] for u in out["users"]] == [
        "alice@example.test",
        "bob@example.test",
    ]


def test_failures_fail_the_task_unless_told_otherwise(capsys, dovecot):
    dovecot.sync_rcs[USER] = [75, 75]  # the bulk run, then the user's own run
    code, out = run(capsys, base(dovecot))
    assert code == 1
    assert out["msg"].startswith(
        "mailbox_sync failed for 1 of 1 user(s) against tcp:192.0.2.20:12345: "
        "alice@example.test: doveadm sync failed (rc=75)"
    )
    assert out["failed_users"] == [{"user": USER, "error": out["users"][0]["error"]}]

    dovecot.sync_rcs[USER] = [75, 75]
    code, out = run(capsys, base(dovecot, fail_on_error=False))
    assert code == 0 and out["counts"]["failed"] == 1 and out["changed"] is False


def test_the_password_travels_in_a_private_file_not_on_the_command_line(capsys, dovecot):
    code, out = run(capsys, base(dovecot, doveadm_password=PASSWORD))
    assert code == 0
    assert all(PASSWORD not in " ".join(command) for command in dovecot.calls)
    config = {command[command.index("-c") + 1] for command in dovecot.calls}
    assert len(config) == 1
    assert PASSWORD not in json.dumps(out)
    assert not os.path.exists(config.pop()), "the private config outlived the run"


def test_stateful_runs_keep_state_per_user(capsys, dovecot):
    run(capsys, base(dovecot, stateful=True))
    run(capsys, base(dovecot, stateful=True))
    first, second = dovecot.syncs()
    assert first[first.index("-s") + 1] == ""
    assert second[second.index("-s") + 1].startswith("STATE-")
    run(capsys, base(dovecot))
    assert "-s" not in dovecot.syncs()[-1] and "-F" in dovecot.syncs()[-1], (
        "the default is a bulk run"
    )
