# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DNS engine both DNS modules share: read, check, apply per zone, wait, report.

Plan, then apply: the caller reads everything first (Engine.read) and turns what it read
into Changes; any problem at that point (zone not found, not authoritative, precondition
not met, wrong TSIG key) fails the run before a single UPDATE. Engine.finish then sends
one guarded UPDATE per changed zone (all zones pipelined on one connection), waits for
the authoritative servers when asked, and builds the module result.
"""

import collections
import time

try:
    import dns.message
    import dns.rdatatype
except ImportError:  # reported by the modules through missing_required_lib()
    pass

from ansible_collections.continuity.mail.plugins.module_utils._dns import plan
from ansible_collections.continuity.mail.plugins.module_utils._dns.transport import (
    PREREQUISITE_RCODES,
    Connection,
    DNSError,
    MessageRequest,
    rcode_error,
)
from ansible_collections.continuity.mail.plugins.module_utils._dns.update import UpdateRequest
from ansible_collections.continuity.mail.plugins.module_utils._dns.wait import wait_for_servers

# What a server answers an UPDATE it will not take unsigned (BIND: REFUSED; some: NOTAUTH).
UNSIGNED_HINT_RCODES = ("REFUSED", "NOTAUTH")


class Outcome:
    """Per-zone status of a run: unchanged, would_change (check mode), applied or failed."""

    def __init__(self, changes):
        self.changes = changes
        self.by_zone = collections.OrderedDict()
        for change in changes:
            self.by_zone.setdefault(change.zone, []).append(change)
        self.zones = collections.OrderedDict(
            (zone, {"zone": zone.to_text(), "status": "unchanged", "error": None})
            for zone in self.by_zone
        )
        self.servers = []
        self.warnings = []

    def zones_with(self, status):
        return [zone for zone, info in self.zones.items() if info["status"] == status]

    @property
    def changed(self):
        return bool(self.zones_with("applied") or self.zones_with("would_change"))

    def failure(self):
        """The message the module fails with, or None."""
        failed = self.zones_with("failed")
        if failed:
            applied = self.zones_with("applied")
            return "Applied in zone(s): %s. NOT applied in zone(s): %s" % (
                summary([z.to_text() for z in applied], 20).replace("; ", ", ") or "none",
                summary(["%s (%s)" % (z.to_text(), self.zones[z]["error"]) for z in failed]),
            )
        lagging = [s for s in self.servers if s.lagging]
        if lagging:
            return "Timeout (%d of %d servers in sync): %s" % (
                len(self.servers) - len(lagging),
                len(self.servers),
                summary([s.describe() for s in lagging]),
            )
        return None


def diff(changes):
    lines = {"before": [], "after": []}
    for change in changes:
        if change.changed:
            lines["before"] += change.zone_lines(change.before)
            lines["after"] += change.zone_lines(change.after)
    return dict((side, "\n".join(text) + "\n" if text else "") for side, text in lines.items())


class Engine:
    """One run against one primary server (settings from options.settings_from_params)."""

    def __init__(self, settings):
        self.settings = settings
        self.primary = Connection(
            settings.endpoint, settings.protocol, settings.timeout, settings.key
        )
        self.timings = {}

    def close(self):
        self.primary.close()

    def read(self, locate=(), zones=(), rrsets=()):
        """A plan.Reading; its problems also cover a TSIG key the server rejects."""
        started = time.monotonic()
        reading = plan.read(self.primary, locate, zones, rrsets)
        if not reading.problems and reading.zone_of:
            problem = self._check_key(next(iter(reading.zone_of.values())))
            if problem:
                reading.problems.append(problem)
        self.timings["read"] = round(time.monotonic() - started, 3)
        return reading

    def _check_key(self, zone):
        """Reads are plain queries (the UPDATE's prerequisites make that safe); one signed
        query tells a wrong key before any change is attempted, in check mode too."""
        if self.settings.key is None:
            return None
        query = dns.message.make_query(zone, dns.rdatatype.SOA, flags=0)
        reply = self.primary.exchange([MessageRequest(query)])[0]
        if isinstance(reply, DNSError):
            return "TSIG check: %s" % reply
        error = rcode_error(
            self.settings.endpoint.label, reply.rcode(), "signed SOA query for %s" % zone.to_text()
        )
        return "TSIG check: %s" % error if error else None

    def apply(self, outcome, check_mode):
        pending = [
            (zone, changes)
            for zone, changes in outcome.by_zone.items()
            if any(c.changed for c in changes)
        ]
        for zone, _changes in pending:
            outcome.zones[zone]["status"] = "would_change" if check_mode else "failed"
        if check_mode or not pending:
            return
        replies = self.primary.exchange([UpdateRequest(zone, changes) for zone, changes in pending])
        for (zone, _changes), reply in zip(pending, replies):
            info = outcome.zones[zone]
            error = (
                reply
                if isinstance(reply, DNSError)
                else rcode_error(
                    self.settings.endpoint.label, reply.rcode, "UPDATE of %s" % zone.to_text()
                )
            )
            if error is None:
                info["status"] = "applied"
            elif error.code in PREREQUISITE_RCODES:
                info["error"] = (
                    "%s: concurrent change: the data changed after it was read (%s: %s); "
                    "nothing was changed in this zone" % (error.server, error.code, error.detail)
                )
            elif self.settings.key is None and error.code in UNSIGNED_HINT_RCODES:
                info["error"] = (
                    "%s; the UPDATE was not signed: give key_name and key_secret "
                    "(a TSIG key the server allows to update %s)" % (error, zone.to_text())
                )
            else:
                info["error"] = str(error)

    def wait(self, outcome):
        zones = dict(
            (zone, changes)
            for zone, changes in outcome.by_zone.items()
            if outcome.zones[zone]["status"] in ("applied", "unchanged")
        )
        if not zones:
            return
        try:
            outcome.servers, outcome.warnings = wait_for_servers(
                self.primary,
                zones,
                self.settings.wait_servers,
                self.settings.protocol,
                self.settings.timeout,
                self.settings.wait_timeout,
            )
        except DNSError as exc:
            for zone in zones:
                outcome.zones[zone]["error"] = "cannot read the new serial: %s" % exc
            raise

    def finish(self, changes, check_mode, want_diff, rrsets=True):
        """Apply (unless check mode), wait when asked; returns (result dict, failure or None).
        rrsets=False leaves the per-RRset list out (mx_switch reports per domain instead)."""
        outcome = Outcome(changes)
        started = time.monotonic()
        self.apply(outcome, check_mode)
        self.timings["apply"] = round(time.monotonic() - started, 3)
        failure = outcome.failure()
        if self.settings.wait and not check_mode and failure is None:
            started = time.monotonic()
            try:
                self.wait(outcome)
                failure = outcome.failure()
            except DNSError as exc:
                failure = "Applied, but waiting failed: %s" % exc
            self.timings["wait"] = round(time.monotonic() - started, 3)
        result = {
            "changed": outcome.changed,
            "zones": list(outcome.zones.values()),
            "servers": [state.as_dict() for state in outcome.servers],
            "timings": self.timings,
        }
        if rrsets:
            result["rrsets"] = [change.as_dict() for change in changes]
        if outcome.warnings:
            result["warnings"] = outcome.warnings
        if want_diff:
            result["diff"] = diff(changes)
        return result, failure


def summary(items, limit=10):
    """Items joined by '; ', the first `limit` of them, so a thousand zones stay readable."""
    shown = "; ".join(items[:limit])
    return shown + ("; and %d more" % (len(items) - limit) if len(items) > limit else "")


def plan_failure(problems):
    return "Nothing was changed: %s" % summary(problems)
