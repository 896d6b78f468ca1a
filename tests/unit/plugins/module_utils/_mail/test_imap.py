# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import pytest

from ansible_collections.continuity.mail.plugins.module_utils._mail.imap import (
    has,
    no_status,
    parse_capabilities,
    parse_status,
    quote,
)
from ansible_collections.continuity.mail.plugins.module_utils._probe.status import ProbeFailure

DOVECOT_GREETING = (
    "OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
    "LITERAL+ STARTTLS LOGINDISABLED] Dovecot (Debian) ready."
)


def test_greeting_with_capability_code():
    status, code, args, text = parse_status(DOVECOT_GREETING)
    assert status == "OK"
    assert code == "CAPABILITY"
    assert text == "Dovecot (Debian) ready."
    caps = parse_capabilities(args)
    assert caps[0] == "IMAP4rev1"
    assert has(caps, "starttls") and has(caps, "LOGINDISABLED")
    assert not has(caps, "AUTH=PLAIN")


def test_tagged_no_with_response_code():
    assert parse_status("NO [AUTHENTICATIONFAILED] Authentication failed.") == (
        "NO",
        "AUTHENTICATIONFAILED",
        "",
        "Authentication failed.",
    )


def test_status_without_code_and_unknown_status():
    assert parse_status("BAD Error in IMAP command") == ("BAD", None, "", "Error in IMAP command")
    assert parse_status("BYE") == ("BYE", None, "", "")
    assert parse_status("CAPABILITY IMAP4rev1")[0] is None


def test_capability_untagged_line():
    assert parse_capabilities("IMAP4rev1 AUTH=PLAIN  AUTH=LOGIN") == [
        "IMAP4rev1",
        "AUTH=PLAIN",
        "AUTH=LOGIN",
    ]


def test_quote_escapes_backslash_and_quote():
    assert quote('pa"ss\\word') == '"pa\\"ss\\\\word"'
    assert quote("INBOX") == '"INBOX"'


@pytest.mark.parametrize("bad", ["a\rb", "a\nb", "a\0b"])
def test_quote_refuses_line_breaks(bad):
    with pytest.raises(ProbeFailure) as info:
        quote(bad)
    assert info.value.status == "protocol_error"


@pytest.mark.parametrize(
    "code,login,status",
    [
        ("AUTHENTICATIONFAILED", True, "auth_failed"),
        (None, True, "auth_failed"),
        ("UNAVAILABLE", True, "tempfail"),
        ("PRIVACYREQUIRED", True, "tls_error"),
        ("NONEXISTENT", False, "rejected"),
        ("INUSE", False, "tempfail"),
    ],
)
def test_no_status_mapping(code, login, status):
    assert no_status(code, login) == status
