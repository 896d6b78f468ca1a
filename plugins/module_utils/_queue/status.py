# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Postfix queue as data: `postqueue -j` lines, counts, ages, deferral reasons, and
which messages an action selects. No commands run here (see actions).

Standard library only: mail_queue runs on the mail servers themselves.
"""

import json
import re

QUEUES = ("maildrop", "incoming", "active", "deferred", "hold")

# Where each action takes messages from. Held mail is never swept up by hold/requeue:
# someone put it on hold on purpose, and only `release` lets it go.
SOURCES = {
    "flush": ("deferred",),
    "flush_domain": ("deferred",),
    "hold": ("incoming", "active", "deferred"),
    "release": ("hold",),
    "requeue": ("incoming", "active", "deferred"),
}

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_TIME = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")


def parse_postqueue_json(text):
    """One message dict per `postqueue -j` line; ValueError names a bad line."""
    messages = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if line == "Mail queue is empty":  # printed instead of JSON by older Postfix
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise ValueError(
                "postqueue -j line %d is not JSON (%s): %.120s" % (number, exc, line)
            ) from exc
        if not isinstance(record, dict) or "queue_id" not in record or "queue_name" not in record:
            raise ValueError("postqueue -j line %d lacks queue_id/queue_name" % number)
        record.setdefault("recipients", [])
        messages.append(record)
    return messages


def parse_duration(value):
    """Postfix time value to seconds ('5d', '30d', '3600s', '12h'; no unit means days)."""
    match = _TIME.match(str(value))
    if not match:
        raise ValueError("not a Postfix time value: %r" % value)
    return int(match.group(1)) * _UNITS[match.group(2) or "d"]


def recipient_domain(address):
    return address.rpartition("@")[2].lower() if "@" in address else ""


def summarize(messages, now, lifetime):
    """Counts per queue, the oldest message against maximal_queue_lifetime, and deferred
    messages per destination domain with their reasons."""
    counts = dict((name, 0) for name in QUEUES)
    oldest = None
    deferred = {}
    for message in messages:
        queue = message["queue_name"]
        counts[queue] = counts.get(queue, 0) + 1
        arrival = message.get("arrival_time")
        if arrival is not None and (oldest is None or arrival < oldest["arrival_time"]):
            oldest = message
        if queue != "deferred":
            continue
        seen = set()
        for rcpt in message["recipients"]:
            domain = recipient_domain(rcpt.get("address", ""))
            entry = deferred.setdefault(domain, {"messages": 0, "recipients": 0, "reasons": {}})
            entry["recipients"] += 1
            if domain not in seen:
                entry["messages"] += 1
                seen.add(domain)
            reason = rcpt.get("delay_reason") or "(no reason recorded)"
            entry["reasons"][reason] = entry["reasons"].get(reason, 0) + 1
    counts["total"] = len(messages)
    result = {
        "counts": counts,
        "deferred_by_domain": deferred,
        "lifetime_seconds": lifetime,
        "oldest": None,
    }
    if oldest is not None:
        age = max(0, int(now - oldest["arrival_time"]))
        result["oldest"] = {
            "queue_id": oldest["queue_id"],
            "queue": oldest["queue_name"],
            "age_seconds": age,
            "lifetime_left_seconds": lifetime - age,
            "lifetime_used": round(float(age) / lifetime, 4) if lifetime else None,
        }
    return result


def select(messages, action, domain=None, queue_ids=None, queues=None):
    """Queue IDs (sorted, unique) an action applies to."""
    sources = set(queues or SOURCES[action])
    wanted = set(queue_ids or [])
    domain = (domain or "").lower().rstrip(".")
    chosen = set()
    for message in messages:
        if message["queue_name"] not in sources:
            continue
        if wanted and message["queue_id"] not in wanted:
            continue
        if domain and not any(
            recipient_domain(r.get("address", "")) == domain for r in message["recipients"]
        ):
            continue
        chosen.add(message["queue_id"])
    return sorted(chosen)


def predict(counts, messages, action, selected):
    """Counts after the action, for check mode and diff (flushes move nothing between
    queues by themselves; delivery happens afterwards)."""
    after = dict(counts)
    target = {"hold": "hold", "release": "deferred", "requeue": "maildrop"}.get(action)
    if target is None:
        return after
    chosen = set(selected)
    for message in messages:
        if message["queue_id"] in chosen and message["queue_name"] != target:
            after[message["queue_name"]] -= 1
            after[target] += 1
            chosen.discard(message["queue_id"])
    return after


def message_view(message, now):
    return {
        "queue_id": message["queue_id"],
        "queue": message["queue_name"],
        "sender": message.get("sender"),
        "size": message.get("message_size"),
        "age_seconds": max(0, int(now - message.get("arrival_time", now))),
        "recipients": [
            {"address": r.get("address"), "delay_reason": r.get("delay_reason")}
            for r in message["recipients"]
        ],
    }
