# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""continuity.mail.quorum: combine mail_health results from several vantage points.

A target is down only when a strict majority of ALL vantage points (including those that
could not vote) report it unhealthy: one probe's broken network never triggers a failover.
The rule itself lives in module_utils/_probe/quorum.py; the continuity monitor uses it too.
"""

from collections import Counter

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_sequence
from ansible.module_utils.six import string_types

from ansible_collections.continuity.mail.plugins.module_utils._probe.quorum import (
    needed_votes,
    tally,
)


def _probe_name(result, index):
    item = result.get("item")
    if isinstance(item, string_types) and item:
        return item  # loop over groups['probes'] with delegate_to: "{{ item }}"
    return result.get("vantage_point") or "probe%d" % (index + 1)


def _ballots(results):
    """[(vantage point, result)] from a loop registration, a list, a dict or one result."""
    if isinstance(results, dict) and "results" in results and "targets" not in results:
        results = results["results"]  # the whole registered variable of a loop
    if isinstance(results, dict) and "targets" in results:
        results = [results]
    if isinstance(results, dict):
        return [(str(name), result) for name, result in results.items()]
    if not is_sequence(results):
        raise AnsibleFilterError(
            "quorum: expects mail_health results (a list, a dict of "
            "vantage point -> result, or a loop registration)"
        )
    ballots, seen = [], set()
    for index, result in enumerate(results):
        if not isinstance(result, dict):
            raise AnsibleFilterError("quorum: result %d is not a mapping" % index)
        name = _probe_name(result, index)
        if name in seen:
            raise AnsibleFilterError("quorum: vantage point %r appears twice" % name)
        seen.add(name)
        ballots.append((name, result))
    return ballots


def _abstention(result):
    """Why a vantage point cannot vote (None when it can)."""
    if result is None:
        return "no result"
    if result.get("unreachable"):
        return ("unreachable: %s" % result.get("msg", ""))[:200]
    if result.get("skipped"):
        return "skipped"
    if not isinstance(result.get("targets"), list):
        return ("failed: %s" % result.get("msg", "no targets in the result"))[:200]
    return None


def quorum(results, expected=None, needed=None):
    """Per-target verdict over all vantage points; see quorum.yml for the contract."""
    ballots = _ballots(results)
    names = [name for name, dummy in ballots]
    if isinstance(expected, (list, tuple)):
        names += [str(n) for n in expected if str(n) not in names]
        expected = None
    total = max(int(expected or 0), len(names))
    try:
        needed = needed_votes(total, needed)
    except ValueError as exc:
        raise AnsibleFilterError("quorum: %s" % exc) from exc

    abstained = {}
    targets = {}
    order = []
    by_name = dict(ballots)
    for name in names:
        reason = _abstention(by_name.get(name))
        if reason:
            abstained[name] = reason
            continue
        for target in by_name[name]["targets"]:
            key = target["name"]
            if key not in targets:
                order.append(key)
                targets[key] = dict(
                    (k, target.get(k)) for k in ("host", "port", "protocol", "labels")
                )
                targets[key]["probes"] = {}
            targets[key]["probes"][name] = dict(
                (k, target.get(k)) for k in ("healthy", "status", "error", "elapsed_ms")
            )

    for key in order:
        entry = targets[key]
        votes = entry["probes"].values()
        down = sum(1 for v in votes if not v["healthy"])
        up = sum(1 for v in votes if v["healthy"])
        entry.update(tally(down, up, total, needed))
        side = [v["status"] for v in votes if bool(v["healthy"]) != entry["down"]]
        entry["status"] = Counter(side).most_common(1)[0][0] if side else "unknown"

    down = [k for k in order if targets[k]["down"]]
    return {
        "vantage_points": names,
        "abstained": abstained,
        "needed": needed,
        "healthy": not down,
        "down": down,
        "up": [k for k in order if not targets[k]["down"]],
        "undecided": [k for k in order if not targets[k]["decided"]],
        "targets": targets,
    }


class FilterModule:
    def filters(self):
        return {"quorum": quorum}
