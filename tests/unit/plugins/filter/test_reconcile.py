# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.continuity.mail.plugins.filter.reconcile import reconcile

LISTING = [
    {"user": "alice@example.test", "message_id": "<1@s>"},
    {"user": "alice@example.test", "message_id": "<2@s>"},
    {"user": "alice@example.test", "message_id": "<2@s>"},
    {"user": "bob@example.test", "message_id": "<3@s>"},
]


def test_counts_present_missing_duplicated():
    result = reconcile(LISTING, ["<1@s>", "<2@s>", "<4@s>"])
    # present counts what arrived (once or more); the duplicate is reported on its own
    assert result["present"] == 2
    assert result["missing"] == ["<4@s>"]
    assert result["duplicated"] == {"<2@s>": 2}
    assert result["ok"] is False


def test_all_present_once_is_ok():
    result = reconcile(LISTING, ["<1@s>", "<3@s>"])
    assert result == {"expected": 2, "present": 2, "missing": [], "duplicated": {}, "ok": True}


def test_per_user_expectation_checks_the_right_mailbox():
    result = reconcile(
        LISTING,
        [
            {"user": "bob@example.test", "message_id": "<1@s>"},
            {"user": "BOB@example.test", "message_id": "<3@S>"},
        ],
    )
    assert result["present"] == 1
    assert result["missing"] == ["bob@example.test <1@s>"]


def test_rejects_non_lists():
    with pytest.raises(AnsibleFilterError):
        reconcile("nope", [])


def test_expected_twice_must_exist_twice():
    result = reconcile(LISTING, ["<2@s>", "<2@s>", "<1@s>", "<1@s>"])
    assert result["present"] == 3
    assert result["missing"] == ["<1@s>"]
    assert result["duplicated"] == {}
