# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import pytest

from ansible_collections.continuity.mail.plugins.module_utils._mailbox import listing as listing

OUTPUT = (
    "Username\tuser\tmailbox\tguid\tdate.saved\thdr.message-id\n"
    "alice@example.test\talice@example.test\tINBOX\tg1\t2026-11-27 18:42:29\t<a@sender>\n"
    "bob@example.test\tbob@example.test\tINBOX\tg2\t2026-11-27 18:37:55\t<b@sender>\n"
)


def test_build_command_all_users():
    command = listing.build_command("doveadm", "all", "*", ["HEADER", "X-Continuity-Drill", "r1"])
    assert command[:5] == ["doveadm", "-f", "tab", "fetch", "-A"]
    assert command[-5:] == ["mailbox", "*", "HEADER", "X-Continuity-Drill", "r1"]


def test_build_command_one_user():
    command = listing.build_command("doveadm", "bob@example.test", "INBOX", ["ALL"])
    assert command[4:6] == ["-u", "bob@example.test"]


def test_parse_fetch_rows():
    messages = listing.parse_fetch(OUTPUT)
    assert [m["message_id"] for m in messages] == ["<a@sender>", "<b@sender>"]
    assert messages[0]["user"] == "alice@example.test"
    assert messages[1]["saved"] == "2026-11-27 18:37:55"


def test_parse_fetch_empty():
    assert listing.parse_fetch("") == []


def test_parse_fetch_rejects_odd_lines():
    with pytest.raises(ValueError):
        listing.parse_fetch(OUTPUT + "broken line without tabs\n")


def test_parse_fetch_rejects_missing_columns():
    with pytest.raises(ValueError, match="lacks column"):
        listing.parse_fetch("user\tmailbox\nalice\tINBOX\n")


def test_summarise_groups_by_user():
    users = listing.summarise(listing.parse_fetch(OUTPUT))
    assert users == {"alice@example.test": ["<a@sender>"], "bob@example.test": ["<b@sender>"]}
