# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""mail_canary against the lab: real SMTP (through the internet sender, or straight to mx1 with
verified STARTTLS) and real IMAP STARTTLS logins on mx1 and mx2, run from the control node.

While mx2 is in relay mode, mail for example.test always ends in mx1's mailboxes, so that is
where a canary must be found - and, once found, removed.
"""

import pytest

from flows_lab import module, token
from labtools import wait_until

CANARY = "canary@example.test"


@pytest.fixture
def canary(lab):
    # These tests expect the lab's normal state; say so plainly when a drill has it failed over.
    mode = lab.exec("mx2", "cat /etc/postfix/continuity-mode", check=False).stdout.strip()
    assert mode == "relay", (
        "mx2 is in %r mode (a drill is running?): canaries would land on mx2" % mode
    )

    def args(**overrides):
        base = {
            "path": "sender",
            "smtp_host": lab.ip("sender"),
            "to": CANARY,
            "imap_password": lab.users[CANARY],
            "servers": [
                {"name": "mx1", "host": lab.ip("mx1"), "server_name": "mx1.example.test"},
                {"name": "mx2", "host": lab.ip("mx2"), "server_name": "mx2.example.test"},
            ],
            "ca_path": lab.ca_cert,
            "timeout": 60,
        }
        base.update(overrides)
        return base

    return args


def on_server(lab, host, tag):
    """Messages carrying the canary token in the canary mailbox of a lab server."""
    out = lab.exec(
        host, "doveadm -f tab fetch -u %s uid header X-Continuity-Canary %s" % (CANARY, tag)
    ).stdout
    return max(0, len([line for line in out.splitlines() if line.strip()]) - 1)


def logged(lab, host, tag):
    """Whether the host's Postfix saw a message with this token (cleanup logs its Message-ID)."""
    out = lab.exec(
        host, "journalctl --no-pager -q -t postfix/cleanup | grep -c %s || true" % tag
    ).stdout
    return int(out.strip() or 0) > 0


def remove_stray(lab, tag):
    """A canary the test expected never to be deleted by the module: wait for it, then remove it."""
    wait_until(lambda: on_server(lab, "mx1", tag) > 0, timeout=60, what="the canary on mx1")
    lab.exec(
        "mx1", "doveadm expunge -u %s mailbox INBOX header X-Continuity-Canary %s" % (CANARY, tag)
    )


def test_through_the_sender_lands_on_the_primary_and_is_deleted(lab, canary):
    result = module("localhost", "continuity.mail.mail_canary", canary(expect_on="mx1"))
    assert not result.get("failed"), result
    assert result["delivered"] is True
    assert result["held_by"] == "mx1" and result["found_on"] == ["mx1"]
    assert result["deleted"] == ["mx1"]
    assert result["changed"] is False, "a found and deleted canary leaves nothing behind"
    tag = result["token"]
    assert result["message_id"] == "<%s@example.test>" % tag
    assert result["smtp"]["response"].startswith("250")
    assert result["latency_s"] is not None and result["found_at"] >= result["sent_at"]
    assert logged(lab, "sender", tag), "the sender relay never handled the canary"
    assert on_server(lab, "mx1", tag) == 0, "the canary is still in mx1's mailbox"
    assert on_server(lab, "mx2", tag) == 0


def test_direct_with_verified_starttls_expects_the_server_it_was_sent_to(lab, canary):
    result = module(
        "localhost",
        "continuity.mail.mail_canary",
        canary(
            path="direct",
            smtp_host=lab.ip("mx1"),
            smtp_server_name="mx1.example.test",
            starttls="always",
        ),
    )
    assert not result.get("failed"), result
    assert result["expect_on"] == "mx1"
    assert result["smtp"]["tls"] is True
    assert result["delivered"] is True and result["held_by"] == "mx1"
    assert not logged(lab, "sender", result["token"]), "a direct canary went through the sender"
    assert on_server(lab, "mx1", result["token"]) == 0


def test_check_mode_sends_nothing(lab, canary):
    result = module(
        "localhost", "continuity.mail.mail_canary", canary(token=token("check")), check=True
    )
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert result["sent_at"] is None and result["delivered"] is False
    assert "would send" in result["msg"]
    tag = result["token"]
    assert not logged(lab, "sender", tag)
    assert not logged(lab, "mx1", tag)
    assert on_server(lab, "mx1", tag) == 0


def test_a_canary_on_the_wrong_server_fails_and_is_still_removed(lab, canary):
    result = module("localhost", "continuity.mail.mail_canary", canary(expect_on="mx2"))
    assert result.get("failed") is True
    assert "landed on mx1, not on mx2" in result["msg"]
    assert result["delivered"] is False and result["held_by"] == "mx1"
    assert result["deleted"] == ["mx1"]
    assert on_server(lab, "mx1", result["token"]) == 0


def test_not_found_in_time(lab, canary):
    # Only mx2 is watched, but mx2 relays to mx1: the canary cannot show up where we look.
    only_mx2 = canary(
        servers=[{"name": "mx2", "host": lab.ip("mx2"), "server_name": "mx2.example.test"}],
        timeout=4,
        fail_on_missing=False,
    )
    result = module("localhost", "continuity.mail.mail_canary", only_mx2)
    try:
        assert result.get("failed") is not True, result
        assert result["delivered"] is False and result["found_on"] == []
        assert result["changed"] is True, "a sent canary that was not removed is a change"
        assert "was not found on mx2 within 4s" in result["msg"]
        assert result["checks"] >= 2
    finally:
        remove_stray(lab, result["token"])

    failing = module(
        "localhost", "continuity.mail.mail_canary", dict(only_mx2, fail_on_missing=True)
    )
    try:
        assert failing.get("failed") is True
        assert "was not found on mx2" in failing["msg"]
    finally:
        remove_stray(lab, failing["token"])


def test_wrong_imap_password_stops_before_sending(lab, canary):
    result = module(
        "localhost",
        "continuity.mail.mail_canary",
        canary(imap_password="Not-the-canary-password-7Rw"),
    )
    assert result.get("failed") is True
    assert "was not sent" in result["msg"] and "IMAP login" in result["msg"]
    assert result["sent_at"] is None
    assert not logged(lab, "sender", result["token"])


def test_smtp_refusal_and_certificate_mismatch_are_reported(lab, canary):
    closed = module(
        "localhost",
        "continuity.mail.mail_canary",
        canary(
            path="direct",
            smtp_host=lab.ip("mx1"),
            smtp_port=2525,
            smtp_server_name="mx1.example.test",
        ),
    )
    assert closed.get("failed") is True
    assert "was not sent" in closed["msg"] and "failed at connect" in closed["msg"]

    wrong_name = module(
        "localhost",
        "continuity.mail.mail_canary",
        canary(path="direct", smtp_host=lab.ip("mx1"), smtp_server_name="mx9.example.test"),
    )
    assert wrong_name.get("failed") is True
    assert "failed at STARTTLS" in wrong_name["msg"]
    assert not logged(lab, "mx1", wrong_name["token"])


def test_bad_input_is_refused(lab, canary):
    result = module("localhost", "continuity.mail.mail_canary", canary(expect_on="mx7"))
    assert (
        result.get("failed") is True
        and "expect_on 'mx7' is not one of the servers" in result["msg"]
    )
    result = module("localhost", "continuity.mail.mail_canary", canary(token="bad token!"))
    assert result.get("failed") is True and "token may hold only" in result["msg"]
