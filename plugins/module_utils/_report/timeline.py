# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The phases of a drill (outage, detection, lock, activation, DNS, first mail on the
secondary, failback, reconcile, and the RTO) from the timeline the flows record.

The flows append {flow, name, at} events (playbooks/continuity_tasks/step.yml); the lab's
outage record gives the moment the fault was in place and the moment it was lifted. A phase
is drawn only when both of its ends were recorded. Standard library only.
"""

OUTAGE_START = "outage in place"
OUTAGE_END = "outage lifted"

# (phase, start event(s), end event(s)): an event is (flow, step name); with several, the
# first one recorded wins. Step names are the flows' own (failover.yml, failback.yml).
PHASES = (
    ("outage", [("outage", OUTAGE_START)], [("outage", OUTAGE_END)]),
    ("detection", [("outage", OUTAGE_START)], [("failover", "failover started")]),
    ("lock", [("failover", "failover started")], [("failover", "lock taken")]),
    (
        "activation",
        [("failover", "lock taken")],
        [("failover", "secondary active, primary fenced")],
    ),
    (
        "DNS",
        [("failover", "secondary active, primary fenced")],
        [("failover", "DNS switched on every authoritative server")],
    ),
    (
        "first mail on the secondary",
        [("failover", "DNS switched on every authoritative server")],
        [("failover", "canary readable on the secondary")],
    ),
    (
        "failback",
        [("failback", "failback started")],
        [("failback", "canary readable on the primary")],
    ),
    (
        "reconcile",
        [("failback", "primary healthy by quorum")],
        [
            ("failback", "outage messages reconciled"),
            ("failback", "final sync and queue flush done"),
        ],
    ),
)


def _number(value):
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def events(timeline, outage=None):
    """{(flow, name): first time} from the flows' timeline and the outage record."""
    found = {}
    for event in sorted(timeline or [], key=lambda e: _number(e.get("at")) or 0.0):
        at = _number(event.get("at"))
        key = (str(event.get("flow", "")), str(event.get("name", "")))
        if at is not None and key not in found:
            found[key] = at
    outage = outage or {}
    start = _number(outage.get("applied_at")) or _number(outage.get("started_at"))
    if start is not None:
        found[("outage", OUTAGE_START)] = start
    end = _number(outage.get("restored_at"))
    if end is not None:
        found[("outage", OUTAGE_END)] = end
    return found


def phases(timeline, started_at, outage=None, rto_s=None):
    """[{name, start_s, end_s, duration_s}] relative to the drill's start, in drill order;
    the RTO (outage in place -> first canary readable on the secondary) comes last."""
    origin = _number(started_at) or 0.0
    seen = events(timeline, outage)
    out = []
    for name, starts, ends in PHASES:
        start = next((seen[e] for e in starts if e in seen), None)
        end = next((seen[e] for e in ends if e in seen), None)
        if start is None or end is None or end < start:
            continue
        out.append(_phase(name, start - origin, end - origin))
    rto = _number(rto_s)
    outage_start = seen.get(("outage", OUTAGE_START))
    if rto is not None and outage_start is not None:
        out.append(_phase("RTO", outage_start - origin, outage_start - origin + rto))
    return out


def _phase(name, start_s, end_s):
    return {
        "name": name,
        "start_s": round(start_s, 3),
        "end_s": round(end_s, 3),
        "duration_s": round(end_s - start_s, 3),
    }
