# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The site lock in the real flows: a lease in DNS that stops a second run, names its
holder, and is taken over once a dead run's lease expires.

Every test starts from the lab's normal state (mx1 preferred, mx2 relaying) and leaves it
that way: a test that fails over ends with a failback. The lock record is read and planted
with dnspython, independently of the code under test.
"""

import os
import signal
import subprocess
import time

import dns.name
import pytest

from flows_lab import (
    count_tagged,
    expunge_tagged,
    finish,
    playbook,
    smtp_send,
    start,
    tagged_message,
    token,
)
from labtools import ROOT, wait_until
from site_records import LOCK, ZONE, lock_texts, prefers, state_record

USER = "bob@example.org"
# Short enough for the test to wait it out, long enough to cover a rerun's health check.
LEASE = 40


@pytest.fixture
def bind(bind_normal):
    return bind_normal


def plant(bind, text):
    bind.write(
        ZONE, lambda update: update.replace(dns.name.from_text(LOCK), 30, "TXT", '"%s"' % text)
    )


def remove_lock(bind):
    bind.write(ZONE, lambda update: update.delete(dns.name.from_text(LOCK), "TXT"))


def iso(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def switched(run):
    """Whether this run changed the MX records (its mx_switch task reported a change)."""
    for play in (run.report or {}).get("plays", []):
        for task in play["tasks"]:
            if task["task"]["name"].startswith("Make the secondary the preferred MX"):
                return bool(task["hosts"].get("localhost", {}).get("changed"))
    return False


def failback_to_normal(bind):
    run = playbook("playbooks/failback.yml", timeout=900)
    assert run.rc == 0, run.describe()
    assert prefers(bind, "mx1")
    assert lock_texts(bind) == []


def test_a_fresh_lock_planted_by_hand_stops_a_forced_failover(bind):
    run_id = token("planted")
    expires = int(time.time()) + 600
    planted = "v=1 owner=other run=%s host=ctl9 expires=%d" % (run_id, expires)
    plant(bind, planted)
    try:
        run = playbook("playbooks/failover.yml", {"force": True}, timeout=600)
        assert run.rc != 0, run.describe()
        message = " ".join(run.messages())
        assert run_id in message and iso(expires) in message and "ctl9" in message, message
        assert "Nothing was changed" in message
        assert lock_texts(bind) == [planted]
        assert not switched(run) and prefers(bind, "mx1")
        assert run.changed("mx2") == 0 and run.changed("mx1") == 0
    finally:
        remove_lock(bind)
    assert all(bind.is_restored(server) for server in bind.servers)


def task_facts(run, name):
    """ansible_facts set on localhost by the last task called `name`."""
    found = None
    for play in (run.report or {}).get("plays", []):
        for task in play["tasks"]:
            if task["task"]["name"] == name and "localhost" in task["hosts"]:
                found = task["hosts"]["localhost"].get("ansible_facts", found)
    return found or {}


def test_two_forced_failovers_at_once_then_failback_from_a_fresh_clone(lab, bind, tmp_path):
    # Two checkouts: this one and a fresh clone (no local files, as an AWX job would have).
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", ROOT, str(clone)], check=True, timeout=120)
    assert not (clone / "reports").exists()
    checkouts = {token("race"): ROOT, token("race"): str(clone)}
    procs = {
        run_id: start(
            "playbooks/failover.yml", {"force": True, "continuity_run_id": run_id}, cwd=cwd
        )
        for run_id, cwd in checkouts.items()
    }
    runs = {}
    for run_id, proc in procs.items():
        runs[run_id] = finish(proc)
    tags = []
    try:
        winners = [run_id for run_id, run in runs.items() if run.rc == 0]
        assert len(winners) == 1, [run.describe() for run in runs.values()]
        (winner,) = winners
        (loser,) = [run_id for run_id in runs if run_id != winner]
        assert switched(runs[winner]) and not switched(runs[loser])
        message = " ".join(runs[loser].messages())
        assert "held by run %s" % winner in message and " until " in message, message
        assert runs[loser].changed("mx1") == 0 and runs[loser].changed("mx2") == 0
        assert prefers(bind, "mx2") and lock_texts(bind) == []
        state = state_record(bind.primary)
        started = float(
            task_facts(runs[winner], "Start the failover timeline")["failover_started_at"]
        )
        assert state["state"] == "failed_over" and state["run_id"] == winner
        assert state["active"] == "mx2" and state["since"] == int(started)

        # Mail that arrives during the outage, on the secondary only.
        for _ in range(3):
            tag = token("outage")
            tags.append(tag)
            smtp_send(lab.ip("mx2"), tagged_message(tag, USER))
        for tag in tags:
            wait_until(
                lambda tag=tag: count_tagged(lab, "mx2", USER, tag) == 1,
                timeout=60,
                what="outage message on mx2",
            )

        clone = tmp_path / "fresh"
        subprocess.run(["git", "clone", "-q", ROOT, str(clone)], check=True, timeout=120)
        back = finish(start("playbooks/failback.yml", {}, cwd=str(clone)))
        assert back.rc == 0, back.describe()
        decided = task_facts(back, "Record the decision")
        assert int(decided["failback_since"]) == state["since"]
        assert decided["failback_since_recorded"] in (True, "True")
        for tag in tags:
            assert count_tagged(lab, "mx1", USER, tag) == 1
        assert prefers(bind, "mx1") and lock_texts(bind) == []
        assert state_record(bind.primary)["state"] == "normal"
    finally:
        if not prefers(bind, "mx1"):
            failback_to_normal(bind)
        for tag in tags:
            for host in ("mx1", "mx2"):
                expunge_tagged(lab, host, USER, tag)


def test_a_run_killed_after_taking_the_lock_blocks_until_its_lease_expires(bind, tmp_path):
    dead = token("dead")
    with open(tmp_path / "dead.log", "w", encoding="utf-8") as log:
        proc = start(
            "playbooks/failover.yml",
            {"force": True, "continuity_run_id": dead, "continuity_lock_lease": LEASE},
            stdout=log,
        )
        try:
            wait_until(
                lambda: any("run=%s " % dead in text for text in lock_texts(bind)),
                timeout=300,
                interval=0.05,
                what="the killed run's lock",
            )
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    (record,) = lock_texts(bind)
    expires = int(record.rsplit("expires=", 1)[1])
    try:
        early = playbook(
            "playbooks/failover.yml",
            {"force": True, "continuity_lock_lease": LEASE},
            timeout=600,
        )
        assert time.time() < expires, "the rerun took longer than the lease; raise LEASE"
        assert early.rc != 0, early.describe()
        message = " ".join(early.messages())
        assert dead in message and iso(expires) in message, message
        assert lock_texts(bind) == [record] and not switched(early)

        time.sleep(max(0, expires - time.time()) + 1)
        late = playbook(
            "playbooks/failover.yml",
            {"force": True, "continuity_lock_lease": LEASE},
            timeout=900,
        )
        assert late.rc == 0, late.describe()
        assert switched(late) and prefers(bind, "mx2")
        assert lock_texts(bind) == []
    finally:
        if lock_texts(bind):
            remove_lock(bind)
        failback_to_normal(bind)
