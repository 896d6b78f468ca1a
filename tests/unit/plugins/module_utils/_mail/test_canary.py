# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_mail.canary: message, SMTP submission, IMAP search/delete and the polling loop (the servers
faked in memory behind the shared SMTP/IMAP client code)."""

import email
import re
import threading

import pytest

from ansible_collections.continuity.mail.plugins.module_utils._mail import canary
from canary_fakes import FakeIMAP, FakeSMTP, install, reset


@pytest.fixture(autouse=True)
def fake_servers(monkeypatch):
    reset()
    install(monkeypatch)


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def params(**overrides):
    base = dict(
        path="sender",
        smtp_host="192.0.2.30",
        smtp_port=25,
        smtp_server_name=None,
        starttls="auto",
        helo_name="probe.example.net",
        to="canary@example.test",
        mail_from=None,
        subject_prefix="continuity canary",
        token=None,
        imap_user=None,
        imap_password="pw",
        servers=[
            {
                "name": "mx1",
                "host": "192.0.2.20",
                "port": 143,
                "tls": "starttls",
                "server_name": None,
            },
            {
                "name": "mx2",
                "host": "192.0.2.21",
                "port": 143,
                "tls": "starttls",
                "server_name": None,
            },
        ],
        expect_on="mx2",
        timeout=10,
        poll_interval=1.0,
        connect_timeout=5,
        delete=True,
        fail_on_missing=True,
        tls_verify=False,
        ca_path=None,
    )
    base.update(overrides)
    return base


def deliver_on(host, after_rounds=0):
    """Make the next sent canary appear on host after some IMAP searches."""
    state = {"searches": 0}
    original = FakeIMAP.uid

    def uid(self, command, *args):
        if command == "SEARCH" and self.server is FakeIMAP.servers[host]:
            state["searches"] += 1
            if state["searches"] > after_rounds:
                message = email.message_from_bytes(FakeSMTP.instances[-1].data_sent)
                self.server.setdefault("mail", {}).setdefault("7", message[canary.HEADER])
        return original(self, command, *args)

    return uid


def run(monkeypatch, **overrides):
    clock = Clock()
    result, error = canary.round_trip(
        params(**overrides), clock=clock, sleep=clock.sleep, wall=lambda: 1700000000.0 + clock.now
    )
    result["error"] = error
    return result, clock


def test_token_and_message():
    token = canary.new_token()
    assert re.match(r"^canary-\d+-[0-9a-f]{16}$", token)
    message = canary.build_message(
        token, "canary@example.test", "canary@example.test", "continuity canary", 0
    )
    assert message["Subject"] == "continuity canary " + token
    assert message[canary.HEADER] == token
    assert message["Message-ID"] == "<%s@example.test>" % token
    assert token in message.get_content()


def test_the_server_name_not_the_connected_address_is_checked_and_sent_as_sni():
    message = canary.build_message("t1", "a@example.test", "b@example.test", "c", 0)
    answer = canary.send(
        message, "192.0.2.20", 25, "always", tls_verify=True, server_name="mx1.example.test"
    )
    assert answer["tls"] is True and FakeSMTP.instances[0].sni == "mx1.example.test"
    mismatch = r"failed at STARTTLS: certificate \(.*\) does not cover the name checked"
    with pytest.raises(canary.CanaryError, match=mismatch):
        canary.send(
            message, "192.0.2.20", 25, "always", tls_verify=True, server_name="mx9.example.test"
        )
    with pytest.raises(canary.CanaryError, match=mismatch):
        canary.send(message, "192.0.2.20", 25, "always", tls_verify=True)
    assert FakeSMTP.instances[0].data_sent is not None
    assert FakeSMTP.instances[1].data_sent is None and FakeSMTP.instances[2].data_sent is None


def test_send_uses_starttls_when_offered():
    message = canary.build_message("t1", "a@example.test", "b@example.test", "c", 0)
    answer = canary.send(message, "192.0.2.20", 25, "auto")
    assert answer == {
        "host": "192.0.2.20",
        "port": 25,
        "tls": True,
        "response": "250 2.0.0 Ok: queued as ABC123",
    }
    assert FakeSMTP.instances[0].log[:3] == ["EHLO", "STARTTLS", "EHLO"]


def test_send_without_starttls_and_refusals():
    message = canary.build_message("t1", "a@example.test", "b@example.test", "c", 0)
    assert canary.send(message, "h", 25, "never")["tls"] is False
    FakeSMTP.offers_starttls = False
    with pytest.raises(canary.CanaryError, match="does not offer STARTTLS"):
        canary.send(message, "h", 25, "always")
    FakeSMTP.answers = {"RCPT": (550, b"5.1.1 User unknown")}
    with pytest.raises(
        canary.CanaryError, match=r"refused the message at RCPT TO: 550 5\.1\.1 User unknown"
    ):
        canary.send(message, "h", 25, "auto")
    FakeSMTP.connect_error = ConnectionRefusedError(111, "Connection refused")
    with pytest.raises(
        canary.CanaryError, match="SMTP to h:25 failed at connect: ConnectionRefusedError"
    ):
        canary.send(message, "h", 25, "auto")


def test_found_on_the_expected_server_then_deleted(monkeypatch):
    FakeIMAP.servers = {"192.0.2.20": {}, "192.0.2.21": {}}
    monkeypatch.setattr(FakeIMAP, "uid", deliver_on("192.0.2.21", after_rounds=2))
    result, clock = run(monkeypatch)
    assert (
        result["delivered"] is True and result["held_by"] == "mx2" and result["found_on"] == ["mx2"]
    )
    assert result["deleted"] == ["mx2"] and FakeIMAP.servers["192.0.2.21"]["mail"] == {}
    assert result["checks"] == 3
    assert clock.sleeps == [0.2, 0.30000000000000004]  # short first pauses, growing
    assert result["latency_s"] == round(sum(clock.sleeps), 3)
    commands = FakeIMAP.servers["192.0.2.21"]["commands"]
    assert "UID STORE 7 +FLAGS.SILENT (\\Deleted)" in commands and "UID EXPUNGE 7" in commands
    assert commands.index("LOGIN") < commands.index(
        "UID SEARCH HEADER %s %s" % (canary.HEADER, result["token"])
    )
    assert FakeSMTP.instances[0].log[-1] == "QUIT"


def test_imap_sessions_are_open_before_the_message_is_sent(monkeypatch):
    order = []
    FakeIMAP.servers = {"192.0.2.20": {}, "192.0.2.21": {}}
    original_login, original_init = FakeIMAP.login, FakeSMTP.__init__
    monkeypatch.setattr(
        FakeIMAP, "login", lambda self, u, p: order.append("login") or original_login(self, u, p)
    )
    monkeypatch.setattr(
        FakeSMTP,
        "__init__",
        lambda self, *a, **k: order.append("smtp") or original_init(self, *a, **k),
    )
    monkeypatch.setattr(FakeIMAP, "uid", deliver_on("192.0.2.21"))
    run(monkeypatch)
    assert order == ["login", "login", "smtp"]


def test_landing_on_another_server_stops_the_wait(monkeypatch):
    FakeIMAP.servers = {"192.0.2.20": {}, "192.0.2.21": {}}
    monkeypatch.setattr(FakeIMAP, "uid", deliver_on("192.0.2.20"))
    result, clock = run(monkeypatch)
    assert (
        result["delivered"] is False and result["held_by"] == "mx1" and result["deleted"] == ["mx1"]
    )
    assert clock.now < 1
    assert result["error"] == "canary %s landed on mx1, not on mx2 as expected" % result["token"]


def test_a_server_that_stops_answering_does_not_hold_up_the_others(monkeypatch):
    hang = threading.Event()
    FakeIMAP.servers = {"192.0.2.20": {"hang": hang}, "192.0.2.21": {}}
    monkeypatch.setattr(FakeIMAP, "uid", deliver_on("192.0.2.21", after_rounds=2))
    monkeypatch.setattr(canary, "ROUND_WAIT", 0.05)
    try:
        result, clock = run(monkeypatch)
        assert result["delivered"] is True and result["found_on"] == ["mx2"]
        assert result["checks"] == 3 and result["latency_s"] == round(sum(clock.sleeps), 3)
        assert result["deleted"] == ["mx2"]
        assert result["errors"] == {
            "mx1": "no answer within the poll (connect or search still pending)"
        }
        assert (
            "LOGOUT" not in FakeIMAP.servers["192.0.2.20"]["commands"]
        )  # its thread still owns it
    finally:
        hang.set()


def test_not_found_within_the_timeout_says_how_often_it_looked(monkeypatch):
    FakeIMAP.servers = {"192.0.2.20": {"down": True}, "192.0.2.21": {}}
    result, clock = run(monkeypatch, timeout=5)
    assert result["delivered"] is False and result["found_on"] == [] and result["deleted"] == []
    assert clock.now == pytest.approx(5)
    assert max(clock.sleeps) == 1.0
    assert "mx1" in result["errors"] and "Connection refused" in result["errors"]["mx1"]
    assert result["error"].startswith(
        "canary %s was not found on mx2 within 5s (%d check(s) on 2 server(s)); "
        "last errors: mx1: ConnectionRefusedError" % (result["token"], result["checks"])
    )


def test_a_refused_login_stops_before_sending(monkeypatch):
    FakeIMAP.servers = {"192.0.2.20": {}, "192.0.2.21": {"password": "other"}}
    result, error = canary.round_trip(params())
    assert FakeSMTP.instances == [] and result["sent_at"] is None
    assert error.startswith(
        "canary %s was not sent: IMAP login as canary@example.test on mx2 refused" % result["token"]
    )


def test_a_dropped_imap_connection_is_reopened(monkeypatch):
    FakeIMAP.servers = {"192.0.2.20": {}, "192.0.2.21": {"drop": 1}}
    monkeypatch.setattr(FakeIMAP, "uid", deliver_on("192.0.2.21"))
    result, dummy = run(monkeypatch)
    assert result["delivered"] is True
    assert FakeIMAP.servers["192.0.2.21"]["commands"].count("LOGIN") == 2


def test_check_mode_touches_no_server():
    result, error = canary.round_trip(params(token="fixed-token"), check_mode=True)
    assert error is None and FakeSMTP.instances == [] and FakeIMAP.servers == {}
    assert result["token"] == "fixed-token" and "would send fixed-token" in result["msg"]


def test_plan_defaults_and_checks():
    servers, expect = canary.plan(params(path="direct", smtp_host="192.0.2.21", expect_on=None))
    assert expect == "mx2" and servers[0]["server_name"] == "192.0.2.20"
    assert canary.plan(params(expect_on="192.0.2.20"))[1] == "mx1"
    assert canary.plan(params(expect_on=None))[1] is None
    with pytest.raises(canary.CanaryError, match="expect_on 'mx9' is not one of the servers"):
        canary.plan(params(expect_on="mx9"))
    twice = params(servers=[{"name": "a", "host": "h1"}, {"name": "a", "host": "h2"}])
    with pytest.raises(canary.CanaryError, match="names must be unique"):
        canary.plan(twice)
