# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import pytest

from ansible_collections.continuity.mail.plugins.module_utils._mail.smtp import (
    capability_map,
    parse_ehlo,
    parse_reply,
    split_reply_line,
)
from ansible_collections.continuity.mail.plugins.module_utils._probe.status import ProbeFailure

POSTFIX_EHLO = [
    "250-mx1.example.test",
    "250-PIPELINING",
    "250-SIZE 52428800",
    "250-STARTTLS",
    "250-AUTH PLAIN LOGIN",
    "250-AUTH=PLAIN LOGIN",
    "250-ENHANCEDSTATUSCODES",
    "250 CHUNKING",
]


def test_multiline_reply_is_joined():
    code, texts = parse_reply(POSTFIX_EHLO)
    assert code == 250
    assert texts[0] == "mx1.example.test"
    assert texts[-1] == "CHUNKING"
    assert len(texts) == 8


def test_single_line_and_bare_code():
    assert parse_reply(["220 mx1.example.test ESMTP"]) == (220, ["mx1.example.test ESMTP"])
    assert parse_reply(["250"]) == (250, [""])


def test_421_greeting_text():
    code, texts = parse_reply(["421-mx.example.test busy", "421 try again later"])
    assert code == 421
    assert texts == ["mx.example.test busy", "try again later"]


@pytest.mark.parametrize(
    "line", ["", "22", "abc hello", "2200 x", "220_x", "120 bad class", "-20 x"]
)
def test_garbage_lines_are_protocol_errors(line):
    with pytest.raises(ProbeFailure) as info:
        split_reply_line(line)
    assert info.value.status == "protocol_error"


def test_mixed_codes_are_protocol_errors():
    with pytest.raises(ProbeFailure) as info:
        parse_reply(["250-first", "251 second"])
    assert info.value.status == "protocol_error"


def test_continuation_as_last_line_is_malformed():
    with pytest.raises(ProbeFailure):
        parse_reply(["250-first", "250-second"])
    with pytest.raises(ProbeFailure):
        parse_reply(["250 first", "250 second"])


def test_ehlo_capabilities_skip_greeting_and_normalise_legacy_auth():
    caps = parse_ehlo(parse_reply(POSTFIX_EHLO)[1])
    assert caps[0] == "PIPELINING"
    assert "SIZE 52428800" in caps
    assert "mx1.example.test" not in caps
    assert caps.count("AUTH PLAIN LOGIN") == 2  # AUTH= form folded into AUTH
    table = capability_map(caps)
    assert table["STARTTLS"] == []
    assert table["SIZE"] == ["52428800"]
    assert set(table["AUTH"]) == {"PLAIN", "LOGIN"}


def test_lowercase_keywords_are_uppercased():
    assert parse_ehlo(["x", "starttls", "auth plain"]) == ["STARTTLS", "AUTH plain"]
    assert capability_map(["AUTH plain"]) == {"AUTH": ["PLAIN"]}
