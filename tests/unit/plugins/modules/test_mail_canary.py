# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""mail_canary as Ansible runs it: argument checks, check mode, changed, failure reporting
(the servers faked in memory; the real thing is in tests/integration/test_mail_canary.py)."""

import email
import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.continuity.mail.plugins.module_utils._mail import canary
from ansible_collections.continuity.mail.plugins.modules import mail_canary
from canary_fakes import FakeIMAP, FakeSMTP, install, reset

PASSWORD = "Unit-canary-Hj5Lz"


@pytest.fixture(autouse=True)
def fakes(monkeypatch):
    reset()
    install(monkeypatch)
    monkeypatch.setattr(canary.time, "sleep", lambda seconds: None)
    FakeIMAP.servers = {"192.0.2.20": {"password": PASSWORD}, "192.0.2.21": {"password": PASSWORD}}


def deliver(monkeypatch, host):
    original = FakeIMAP.uid

    def uid(self, command, *args):
        if command == "SEARCH" and self.server is FakeIMAP.servers[host] and FakeSMTP.instances:
            message = email.message_from_bytes(FakeSMTP.instances[-1].data_sent)
            self.server.setdefault("mail", {}).setdefault("3", message[canary.HEADER])
        return original(self, command, *args)

    monkeypatch.setattr(FakeIMAP, "uid", uid)


def run(capsys, **extra):
    args = {
        "smtp_host": "192.0.2.30",
        "path": "sender",
        "to": "canary@example.test",
        "imap_password": PASSWORD,
        "expect_on": "mx2",
        "timeout": 1,
        "tls_verify": False,
        "servers": [{"name": "mx1", "host": "192.0.2.20"}, {"name": "mx2", "host": "192.0.2.21"}],
    }
    args.update(extra)
    with patch_module_args(args), pytest.raises(SystemExit) as info:
        mail_canary.main()
    return info.value.code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"timeout": 0}, "timeout must be at least 1 second"),
        ({"poll_interval": 0}, "poll_interval must be positive"),
        ({"to": "canary"}, "to must be a mail address"),
        ({"token": "has space"}, "token may hold only"),
        ({"smtp_port": 0}, "smtp_port must be between 1 and 65535"),
        ({"servers": []}, "servers must list at least one IMAP server"),
        ({"expect_on": "mx3"}, "expect_on 'mx3' is not one of the servers"),
        ({"servers": [{"name": "mx1"}]}, "missing required arguments: host"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_sent(capsys, extra, message):
    code, out = run(capsys, **extra)
    assert code == 1 and message in out["msg"]
    assert FakeSMTP.instances == []


def test_delivered_found_and_deleted_is_no_change(capsys, monkeypatch):
    deliver(monkeypatch, "192.0.2.21")
    code, out = run(capsys)
    assert code == 0 and out["delivered"] is True and out["held_by"] == "mx2"
    assert out["deleted"] == ["mx2"] and out["changed"] is False
    assert PASSWORD not in json.dumps(out)


def test_keeping_the_canary_is_a_change(capsys, monkeypatch):
    deliver(monkeypatch, "192.0.2.21")
    code, out = run(capsys, delete=False)
    assert (
        code == 0 and out["delivered"] is True and out["deleted"] == [] and out["changed"] is True
    )


def test_missing_canary_fails_or_reports(capsys):
    code, out = run(capsys)
    assert code == 1 and out["msg"].startswith(
        "canary %s was not found on mx2 within 1s" % out["token"]
    )
    assert out["changed"] is True and out["delivered"] is False
    code, out = run(capsys, fail_on_missing=False)
    assert code == 0 and out["delivered"] is False and "was not found" in out["msg"]


def test_check_mode_sends_nothing(capsys):
    code, out = run(capsys, _ansible_check_mode=True, token="drill-42")
    assert code == 0 and out["changed"] is False and out["token"] == "drill-42"
    assert FakeSMTP.instances == [] and "commands" not in FakeIMAP.servers["192.0.2.21"]
