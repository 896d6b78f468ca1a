# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""postqueue -j parsing, durations, the queue summary, message selection."""

import pytest

from ansible_collections.continuity.mail.plugins.module_utils._queue.status import (
    parse_duration,
    parse_postqueue_json,
    predict,
    select,
    summarize,
)

POSTQUEUE_J = """\
{"queue_name": "deferred", "queue_id": "5DD44E4135", "arrival_time": 1000, "message_size": 273, "forced_expire": false, "sender": "a@example.net", "recipients": [{"address": "alice@Example.Test", "delay_reason": "connect to mx1.example.test[172.30.53.20]:25: Connection refused"}, {"address": "bob@example.test", "delay_reason": "connect to mx1.example.test[172.30.53.20]:25: Connection refused"}, {"address": "carol@example.org", "delay_reason": "host mx1.example.org said: 421 busy"}]}
{"queue_name": "active", "queue_id": "63D56E401A", "arrival_time": 1500, "message_size": 270, "sender": "b@example.net", "recipients": [{"address": "alice@example.test"}]}
{"queue_name": "hold", "queue_id": "7A1B2C3D4E", "arrival_time": 900, "message_size": 100, "sender": "", "recipients": [{"address": "bob@example.test", "delay_reason": "held"}]}
{"queue_name": "deferred", "queue_id": "8F00000001", "arrival_time": 2000, "message_size": 10, "sender": "c@example.net", "recipients": [{"address": "dave@example.org"}]}
"""  # noqa: E501 (postqueue -j writes one message per line)


def test_parse_lines():
    messages = parse_postqueue_json(POSTQUEUE_J + "\n")
    assert [m["queue_id"] for m in messages] == [
        "5DD44E4135",
        "63D56E401A",
        "7A1B2C3D4E",
        "8F00000001",
    ]
    assert messages[0]["recipients"][2]["delay_reason"] == "host mx1.example.org said: 421 busy"


def test_empty_queue_text():
    assert parse_postqueue_json("") == []
    assert parse_postqueue_json("Mail queue is empty\n") == []


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("not json", "line 1 is not JSON"),
        ('{"queue_id": "X"}', "lacks queue_id/queue_name"),
        ("[1, 2]", "lacks"),
    ],
)
def test_bad_lines(text, fragment):
    with pytest.raises(ValueError) as info:
        parse_postqueue_json(text)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    "value,seconds",
    [
        ("5d", 432000),
        ("30d", 2592000),
        ("3600s", 3600),
        ("12h", 43200),
        ("2w", 1209600),
        ("7", 604800),
        ("90m", 5400),
    ],
)
def test_durations(value, seconds):
    assert parse_duration(value) == seconds


def test_bad_duration():
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_summary_counts_oldest_and_deferred_reasons():
    report = summarize(parse_postqueue_json(POSTQUEUE_J), now=10900, lifetime=100000)
    assert report["counts"] == {
        "maildrop": 0,
        "incoming": 0,
        "active": 1,
        "deferred": 2,
        "hold": 1,
        "total": 4,
    }
    assert report["oldest"] == {
        "queue_id": "7A1B2C3D4E",
        "queue": "hold",
        "age_seconds": 10000,
        "lifetime_left_seconds": 90000,
        "lifetime_used": 0.1,
    }
    test = report["deferred_by_domain"]["example.test"]
    assert test == {
        "messages": 1,
        "recipients": 2,
        "reasons": {"connect to mx1.example.test[172.30.53.20]:25: Connection refused": 2},
    }
    org = report["deferred_by_domain"]["example.org"]
    assert org["messages"] == 2 and org["recipients"] == 2
    assert org["reasons"] == {"host mx1.example.org said: 421 busy": 1, "(no reason recorded)": 1}


def test_empty_summary():
    report = summarize([], now=1, lifetime=432000)
    assert report["oldest"] is None and report["counts"]["total"] == 0


def test_selection_rules():
    messages = parse_postqueue_json(POSTQUEUE_J)
    # held mail is never swept up by hold/requeue; release only takes held mail
    assert select(messages, "requeue") == ["5DD44E4135", "63D56E401A", "8F00000001"]
    assert select(messages, "requeue", domain="EXAMPLE.TEST.") == ["5DD44E4135", "63D56E401A"]
    assert select(messages, "release") == ["7A1B2C3D4E"]
    assert select(messages, "flush_domain", domain="example.org") == ["5DD44E4135", "8F00000001"]
    assert select(messages, "hold", queue_ids=["63D56E401A", "7A1B2C3D4E"]) == ["63D56E401A"]
    assert select(messages, "requeue", queues=["hold"]) == ["7A1B2C3D4E"]
    assert select(messages, "flush", domain="nowhere.test") == []


def test_predicted_counts():
    messages = parse_postqueue_json(POSTQUEUE_J)
    counts = summarize(messages, 0, 1)["counts"]
    after = predict(counts, messages, "hold", ["5DD44E4135", "63D56E401A"])
    assert (after["deferred"], after["active"], after["hold"], after["total"]) == (1, 0, 3, 4)
    assert predict(counts, messages, "release", ["7A1B2C3D4E"])["deferred"] == 3
    assert predict(counts, messages, "flush", ["5DD44E4135"]) == counts
