# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import pathlib
import re

from ansible_collections.continuity.mail.plugins.module_utils._report import timeline

ROOT = pathlib.Path(__file__).resolve().parents[5]
T0 = 1000.0
# A full drill as the flows record it (seconds after T0).
FULL = [
    ("failover", "failover started", 20.0),
    ("failover", "lock taken", 21.5),
    ("failover", "secondary active, primary fenced", 25.0),
    ("failover", "DNS switched on every authoritative server", 27.0),
    ("failover", "canary readable on the secondary", 30.0),
    ("failback", "failback started", 60.0),
    ("failback", "primary healthy by quorum", 70.0),
    ("failback", "mailboxes in sync", 75.0),
    ("failback", "final sync and queue flush done", 90.0),
    ("failback", "canary readable on the primary", 95.0),
]
OUTAGE = {"started_at": T0 + 9.0, "applied_at": T0 + 10.0, "restored_at": T0 + 50.0}


def _events(rows):
    return [{"flow": flow, "name": name, "at": T0 + at} for flow, name, at in rows]


def _by_name(phases):
    return {p["name"]: (p["start_s"], p["end_s"], p["duration_s"]) for p in phases}


def test_every_phase_of_a_full_drill():
    got = _by_name(timeline.phases(_events(FULL), T0, OUTAGE, rto_s=19.5))
    assert got == {
        "outage": (10.0, 50.0, 40.0),
        "detection": (10.0, 20.0, 10.0),
        "lock": (20.0, 21.5, 1.5),
        "activation": (21.5, 25.0, 3.5),
        "DNS": (25.0, 27.0, 2.0),
        "first mail on the secondary": (27.0, 30.0, 3.0),
        "failback": (60.0, 95.0, 35.0),
        "reconcile": (70.0, 90.0, 20.0),
        "RTO": (10.0, 29.5, 19.5),
    }


def test_phases_come_in_drill_order_with_the_rto_last():
    names = [p["name"] for p in timeline.phases(_events(FULL), T0, OUTAGE, rto_s=19.5)]
    assert names[0] == "outage" and names[-1] == "RTO"
    assert names.index("detection") < names.index("lock") < names.index("failback")


def test_the_reconcile_step_ends_reconcile_when_recorded():
    rows = FULL + [("failback", "outage messages reconciled", 92.0)]
    assert _by_name(timeline.phases(_events(rows), T0, OUTAGE))["reconcile"] == (70.0, 92.0, 22.0)


def test_without_an_outage_record_only_the_flows_phases():
    got = _by_name(timeline.phases(_events(FULL), T0, None, rto_s=19.5))
    assert "outage" not in got and "detection" not in got and "RTO" not in got
    assert got["lock"] == (20.0, 21.5, 1.5)


def test_the_start_of_the_outage_when_not_applied_and_a_missing_restore():
    got = _by_name(timeline.phases(_events(FULL), T0, {"started_at": str(T0 + 9.0)}))
    assert got["detection"] == (9.0, 20.0, 11.0)
    assert "outage" not in got


def test_missing_and_out_of_order_steps_are_left_out():
    rows = [("failover", "failover started", 20.0), ("failover", "lock taken", 19.0)]
    assert timeline.phases(_events(rows), T0) == []
    assert timeline.phases([], T0) == []
    assert timeline.phases([{"flow": "failover", "name": "lock taken", "at": "x"}], T0) == []


def test_a_repeated_step_counts_once():
    rows = FULL + [("failover", "lock taken", 200.0)]
    assert _by_name(timeline.phases(_events(rows), T0))["lock"] == (20.0, 21.5, 1.5)


def test_every_step_the_phases_use_is_one_the_flows_record():
    """Renaming a step in failover.yml/failback.yml would silently drop a phase."""
    recorded = set()
    for flow in ("failover", "failback"):
        text = (ROOT / "playbooks" / (flow + ".yml")).read_text(encoding="utf-8")
        recorded |= {(flow, m) for m in re.findall(r"continuity_step: (.+)", text)}
        recorded |= {(flow, m) for m in re.findall(r"'name': '([^']+)'", text)}
    for name, starts, ends in timeline.PHASES:
        for event in starts + ends:
            if event[0] == "outage" or event == ("failback", "outage messages reconciled"):
                continue
            assert event in recorded, "%s uses %s, which no flow records" % (name, event)
