# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""mail_queue on the lab's secondary (mx2), with real mail queued for real reasons.

Test mail goes to address literals of two sinks on continuity-lab-broken whose gate answers
421 while closed, so mx2 defers it; opening the gate and flushing delivers it exactly once.
Only messages for those sinks are touched; mx2's queue holds none of them afterwards.
"""

import uuid

import pytest

from health_lab import broken, run_module  # noqa: F401  (broken is a fixture)
from labtools import wait_until


def queue(**args):
    return run_module("mx2", "continuity.mail.mail_queue", args)


def ours(result, domain):
    return sorted(
        m["queue_id"]
        for m in result.get("messages", [])
        if any(r["address"].endswith("@" + domain) for r in m["recipients"])
    )


def submit(lab, domain, tag):
    message_id = "<%s@continuity.test>" % tag
    lab.exec(
        "mx2",
        "sendmail -f queue-test@example.net probe@%s" % domain,
        input_text="Message-ID: %s\nSubject: mail_queue test\n\nqueued on purpose\n" % message_id,
    )
    return message_id


@pytest.fixture(scope="module")
def queued(lab, broken):  # noqa: F811
    first, second = ("[%s]" % ip for ip in broken.sink_ips)
    run = uuid.uuid4().hex[:10]
    ids = {
        "first": [submit(lab, first, "q-%s-%d" % (run, n)) for n in range(2)],
        "second": [submit(lab, second, "q-%s-2" % run)],
    }

    def deferred():
        result = queue(list_messages=True, max_messages=100000)
        by_domain = result["deferred_by_domain"]
        if (
            by_domain.get(first, {}).get("messages") == 2
            and by_domain.get(second, {}).get("messages") == 1
        ):
            return result
        return None

    try:
        status = wait_until(deferred, timeout=120, interval=2, what="test mail deferred on mx2")
        yield {"first": first, "second": second, "ids": ids, "status": status}
    finally:
        broken.gate(open_=True)
        # Anything of ours still queued (a failed test) is removed; nobody else's mail.
        leftovers = queue(list_messages=True, max_messages=100000)
        stale = ours(leftovers, first) + ours(leftovers, second)
        if stale:
            lab.exec("mx2", "postsuper -d - ", input_text="\n".join(stale) + "\n", check=False)


def test_status_reports_counts_reasons_and_lifetime(queued):
    status = queued["status"]
    assert status["changed"] is False
    assert status["counts"]["deferred"] >= 3
    assert status["counts"]["total"] >= 3
    first = status["deferred_by_domain"][queued["first"]]
    assert first["messages"] == 2 and first["recipients"] == 2
    ((reason, count),) = first["reasons"].items()
    assert "421 4.3.2" in reason and "gate closed" in reason and count == 2
    # mx2 is the secondary: it keeps mail for 30 days (secondary_queue_lifetime)
    assert status["lifetime_seconds"] == 30 * 86400
    assert 0 <= status["oldest"]["age_seconds"] < status["lifetime_seconds"]
    assert status["oldest"]["lifetime_left_seconds"] > 0
    assert len(ours(status, queued["first"])) == 2


def test_hold_in_check_mode_changes_nothing(queued):
    result = run_module(
        "mx2",
        "continuity.mail.mail_queue",
        {"action": "hold", "domain": queued["first"]},
        check=True,
        diff=True,
    )
    assert result["changed"] is True
    assert result["selected"] == ours(queued["status"], queued["first"])
    assert result["counts"]["hold"] == result["counts_before"]["hold"] + 2
    assert result["diff"]["after"]["hold"] == result["diff"]["before"]["hold"] + 2
    after = queue(list_messages=True, max_messages=100000)
    assert after["deferred_by_domain"][queued["first"]]["messages"] == 2


def test_hold_release_requeue_only_touch_the_selection(queued):
    mine = ours(queued["status"], queued["first"])
    held = queue(action="hold", domain=queued["first"])
    assert held["changed"] is True and held["affected"] == 2 and held["selected"] == mine
    listing = queue(list_messages=True, max_messages=100000)
    assert {m["queue"] for m in listing["messages"] if m["queue_id"] in mine} == {"hold"}
    # the other sink's message was not selected
    assert listing["deferred_by_domain"][queued["second"]]["messages"] == 1
    again = queue(action="hold", domain=queued["first"])
    assert again["changed"] is False and again["selected"] == []  # held mail is not re-held

    released = queue(action="release", queue_ids=mine)
    assert released["changed"] is True and released["affected"] == 2

    requeued = queue(action="requeue", domain=queued["first"])
    assert requeued["affected"] == 2
    # requeued mail is routed again and deferred again (the gate is still closed)
    wait_until(
        lambda: queue()["deferred_by_domain"].get(queued["first"], {}).get("messages") == 2,
        timeout=120,
        interval=2,
        what="requeued mail deferred again",
    )


def test_flush_in_check_mode_selects_deferred_mail(queued):
    listing = queue(list_messages=True, max_messages=100000)  # requeue gave new queue IDs
    mine = ours(listing, queued["first"]) + ours(listing, queued["second"])
    result = run_module("mx2", "continuity.mail.mail_queue", {"action": "flush"}, check=True)
    assert result["changed"] is True
    assert len(mine) == 3 and set(mine) <= set(result["selected"])
    assert result["counts"] == result["counts_before"]


def test_flush_domain_then_flush_deliver_each_message_once(lab, broken, queued):  # noqa: F811
    broken.gate(open_=True)
    flushed = queue(action="flush_domain", domain=queued["first"])
    assert flushed["changed"] is True and flushed["affected"] == 2
    wait_until(
        lambda: (
            queued["first"] not in queue()["deferred_by_domain"]
            and all(broken.delivered(mid) == 1 for mid in queued["ids"]["first"])
        ),
        timeout=120,
        interval=2,
        what="the first sink's mail delivered",
    )
    # flush_domain left the other sink's mail alone
    assert queue()["deferred_by_domain"][queued["second"]]["messages"] == 1
    assert broken.delivered(queued["ids"]["second"][0]) == 0

    flushed = queue(action="flush")
    assert flushed["changed"] is True
    wait_until(
        lambda: (
            queued["second"] not in queue()["deferred_by_domain"]
            and broken.delivered(queued["ids"]["second"][0]) == 1
        ),
        timeout=120,
        interval=2,
        what="the second sink's mail delivered",
    )
    for message_id in queued["ids"]["first"] + queued["ids"]["second"]:
        assert broken.delivered(message_id) == 1, message_id
    leftovers = queue(list_messages=True, max_messages=100000)
    assert ours(leftovers, queued["first"]) == [] and ours(leftovers, queued["second"]) == []


def test_bad_input_is_refused(queued):
    result = queue(action="flush_domain")
    assert result.get("failed") is True and "domain" in result["msg"]
    result = queue(action="status", domain="example.test")
    assert result.get("failed") is True and "action=status takes none" in result["msg"]
