# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The site's verdict: every monitor's verdict combined by the quorum rule the quorum filter
uses (module_utils/_probe/quorum.py).

A monitor whose verdict is missing, unreadable or older than `max_age` abstains; abstainers
count in the total but never towards "down". When fewer than `needed` monitors are heard
(this one included) the site verdict is not quorate and nothing may act on it: a monitor
that cannot reach its peers does not act alone.

The result has the quorum filter's shape (vantage_points, abstained, needed, healthy, down,
up, undecided, targets with votes and probes), so it is handed to the failover flow as its
health verdict, plus what only a monitor knows: per target `held_down` (a majority each saw
at least `hold_down` consecutive failed probes), `flapping` and `blipping` (failures that
never reached `fall` on a majority).
"""

from collections import Counter

from ansible_collections.continuity.mail.plugins.module_utils._probe.quorum import (
    needed_votes,
    reachable,
    tally,
)

PRIMARY = "primary"
SECONDARY = "secondary"


def ballots(monitors, verdicts, now, max_age):
    """({monitor: verdict} of the fresh ones, {monitor: why it abstains})."""
    fresh, abstained = {}, {}
    for name in monitors:
        doc = verdicts.get(name)
        if isinstance(doc, dict) and isinstance(doc.get("targets"), dict):
            age = now - float(doc.get("at") or 0)
            if age > max_age:
                abstained[name] = "stale: verdict is %.1f s old" % age
            else:
                fresh[name] = doc
        else:
            abstained[name] = str(doc)[:200] if doc else "no verdict"
    return fresh, abstained


def combine(monitors, verdicts, now, max_age=5.0, needed=None, hold_down=3, blip_failures=3):
    """The site verdict from {monitor name: verdict document or error text}."""
    total = len(monitors)
    needed = needed_votes(total, needed)
    fresh, abstained = ballots(monitors, verdicts, now, max_age)
    targets, order = {}, []
    for name in monitors:
        if name not in fresh:
            continue
        for key, seen in fresh[name]["targets"].items():
            if key not in targets:
                order.append(key)
                targets[key] = dict(
                    (k, seen.get(k)) for k in ("host", "port", "protocol", "labels")
                )
                targets[key]["probes"] = {}
            targets[key]["probes"][name] = {
                "healthy": bool(seen.get("up")),
                "status": seen.get("status"),
                "error": seen.get("error"),
                "elapsed_ms": seen.get("elapsed_ms"),
                "fails": int(seen.get("fails") or 0),
                "recent_failures": int(seen.get("recent_failures") or 0),
                "flapping": bool(seen.get("flapping")),
                "cert_not_after": seen.get("cert_not_after"),
            }
    for key in order:
        entry = targets[key]
        votes = list(entry["probes"].values())
        down = sum(1 for v in votes if not v["healthy"])
        entry.update(tally(down, len(votes) - down, total, needed))
        entry["held_down"] = sum(1 for v in votes if v["fails"] >= hold_down) >= needed
        entry["blipping"] = sum(1 for v in votes if v["recent_failures"] >= blip_failures) >= needed
        entry["flapping"] = any(v["flapping"] for v in votes)
        side = [v["status"] for v in votes if v["healthy"] != entry["down"]]
        entry["status"] = Counter(side).most_common(1)[0][0] if side else "unknown"
        expiries = [v["cert_not_after"] for v in votes if v["cert_not_after"]]
        entry["cert_not_after"] = min(expiries) if expiries else None
    down = [k for k in order if targets[k]["down"]]
    return {
        "vantage_points": list(monitors),
        "abstained": abstained,
        "needed": needed,
        "quorate": reachable(len(fresh), total, needed),
        "healthy": not down,
        "down": down,
        "up": [k for k in order if not targets[k]["down"]],
        "undecided": [k for k in order if not targets[k]["decided"]],
        "targets": targets,
    }


def role(entry):
    return (entry.get("labels") or {}).get("role", PRIMARY)


def decisive(entry):
    """Targets whose loss means "the primary is down": the primary's targets labelled
    decisive, by default its SMTP (port 25) targets."""
    labels = entry.get("labels") or {}
    if role(entry) != PRIMARY:
        return False
    if "decisive" in labels:
        return bool(labels["decisive"])
    return entry.get("protocol") == "smtp"


def summary(verdict):
    """What the site's state machine needs: is the primary down (and held down), is it
    flapping, what is degraded."""
    targets = verdict["targets"]
    quorate = verdict["quorate"]
    decisive_keys = [k for k, e in targets.items() if decisive(e)]
    down = [k for k in decisive_keys if targets[k]["down"]] if quorate else []
    held = [k for k in decisive_keys if targets[k]["held_down"]] if quorate else []
    degraded = []
    if quorate:
        for key, entry in targets.items():
            if down and role(entry) == PRIMARY:
                continue  # the primary is down: its other services are part of that news
            if entry["down"] and key not in decisive_keys:
                degraded.append("%s is down" % key)
            elif entry["flapping"]:
                degraded.append("%s is flapping" % entry["host"])
            elif entry["blipping"] and not entry["down"]:
                degraded.append("%s fails intermittently" % entry["host"])
    return {
        "quorate": quorate,
        "primary_down": bool(down),
        "primary_down_targets": down,
        "primary_held_down": bool(held),
        "flapping": any(targets[k]["flapping"] for k in decisive_keys),
        "secondary_down": [
            k for k, e in targets.items() if quorate and role(e) == SECONDARY and e["down"]
        ],
        "degraded": sorted(set(degraded), key=degraded.index),
    }


def leader(deciders, fresh, self_name):
    """The monitor that alerts and acts: the first decider (in configured order, the same on
    every monitor) that this monitor hears, or that one it hears says it hears."""
    alive = set(fresh) | {self_name}
    for doc in fresh.values():
        alive.update(doc.get("hears") or [])
    for name in deciders:
        if name in alive:
            return name
    return None
