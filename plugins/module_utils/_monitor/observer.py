# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""This monitor's own view: the last probe result and rise/fall state of every target, and
the verdict document it publishes to its peers (and writes into the metrics)."""

import calendar
import time

from ansible_collections.continuity.mail.plugins.module_utils._monitor.counters import RiseFall
from ansible_collections.continuity.mail.plugins.module_utils._monitor.flap import FlapDetector
from ansible_collections.continuity.mail.plugins.module_utils._probe.status import (
    HEALTHY_STATUSES,
)

VERDICT_VERSION = 1


def cert_not_after(result):
    """The certificate's notAfter as a Unix time, when the probe saw a certificate."""
    cert = result.get("cert") or {}
    text = cert.get("not_after")
    if not text:
        return None
    try:
        return float(calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")))
    except ValueError:
        return None


class TargetView:
    def __init__(self, target, counter):
        self.target = target
        self.counter = counter
        self.result = None
        self.seq = 0
        self.observed_at = None  # wall time of the last applied result

    def as_dict(self, mono, wall):
        target, counter, result = self.target, self.counter, self.result or {}
        since = None
        if counter.since is not None:
            since = round(wall - (mono - counter.since), 3)
        return {
            "host": target["host"],
            "port": target["port"],
            "protocol": target["protocol"],
            "labels": target.get("labels") or {},
            "up": counter.up,
            "fails": counter.fails,
            "oks": counter.oks,
            "since": since,
            "recent_failures": counter.recent_failures(mono),
            "status": result.get("status", "unknown"),
            "error": result.get("error"),
            "elapsed_ms": result.get("elapsed_ms"),
            "phases": result.get("phases") or {},
            "cert_not_after": cert_not_after(result),
            "observed_at": self.observed_at,
            "seq": self.seq,
        }


class Observer:
    def __init__(self, name, targets, clock, rise=2, fall=3, window=60.0, flap=None):
        self.name = name
        self.clock = clock
        self.flap = flap or FlapDetector()
        self.views = dict(
            (t["name"], TargetView(t, RiseFall(rise=rise, fall=fall, window=window)))
            for t in targets
        )
        self.order = [t["name"] for t in targets]
        self.changes = []  # (target name, "up"/"down", monotonic) since the last take_changes()

    def on_result(self, target, seq, started, result):
        """Apply one probe result (the rounds scheduler's callback)."""
        view = self.views[target["name"]]
        now = self.clock.monotonic()
        view.result = result
        view.seq = seq
        view.observed_at = self.clock.wall()
        change = view.counter.observe(result.get("status") in HEALTHY_STATUSES, now)
        if change:
            self.flap.record(target["name"], now)
            self.changes.append((target["name"], change, now))

    def take_changes(self):
        changes, self.changes = self.changes, []
        return changes

    def verdict(self, extra=None):
        """The document served to peers: this monitor's view of every target."""
        mono, wall = self.clock.monotonic(), self.clock.wall()
        targets = {}
        for name in self.order:
            entry = self.views[name].as_dict(mono, wall)
            entry["flapping"] = self.flap.flapping(name, mono)
            targets[name] = entry
        doc = {"version": VERDICT_VERSION, "monitor": self.name, "at": wall, "targets": targets}
        doc.update(extra or {})
        return doc
