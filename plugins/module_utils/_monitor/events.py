# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The site's state machine: alert events on state changes only.

Every tick it is given the site summary and the other readings; it returns the events for
what changed since the last tick: primary down, degraded, recovered, failed over, failed
back, drill failed, certificate expiring, oldest queued message too old, sync lag too high.
While the site verdict is not quorate the primary's state is held, never guessed. A
flapping primary's further ups and downs are not events (the "degraded" event says it
flaps). Recovery never fails back: the "recovered" event names the failback command.
"""

PRIMARY_DOWN = "primary_down"
DEGRADED = "degraded"
RECOVERED = "recovered"
FAILED_OVER = "failed_over"
FAILED_BACK = "failed_back"
DRILL_FAILED = "drill_failed"
CERT_EXPIRING = "cert_expiring"
QUEUE_OLD = "queue_old"
SYNC_LAG = "sync_lag"
FAILOVER_FAILED = "failover_failed"

KINDS = {
    PRIMARY_DOWN: ("critical", "ContinuityPrimaryDown"),
    DEGRADED: ("warning", "ContinuityDegraded"),
    RECOVERED: ("info", "ContinuityRecovered"),
    FAILED_OVER: ("critical", "ContinuityFailedOver"),
    FAILED_BACK: ("info", "ContinuityFailedBack"),
    DRILL_FAILED: ("warning", "ContinuityDrillFailed"),
    CERT_EXPIRING: ("warning", "ContinuityCertificateExpiring"),
    QUEUE_OLD: ("warning", "ContinuityQueueOld"),
    SYNC_LAG: ("warning", "ContinuitySyncLag"),
    FAILOVER_FAILED: ("critical", "ContinuityFailoverFailed"),
}


def event(kind, summary, description="", key=None, resolves=None, **labels):
    severity, alertname = KINDS[kind]
    return {
        "kind": kind,
        "severity": severity,
        "alertname": alertname,
        "summary": summary,
        "description": description,
        "key": key or kind,
        "resolves": resolves,
        "labels": dict((k, str(v)) for k, v in labels.items() if v is not None),
    }


class SiteState:
    def __init__(
        self,
        primary,
        failback_command,
        cert_days=14,
        queue_age_minutes=30,
        sync_lag_seconds=900,
    ):
        self.primary = primary
        self.failback_command = failback_command
        self.cert_days = cert_days
        self.queue_age = queue_age_minutes * 60.0
        self.sync_lag = sync_lag_seconds
        self.primary_down = False
        self.primary_since = None
        self.failed_over = None  # unknown until a state reading says
        self.failed_over_since = None
        self.degraded = set()
        self.drill_seen = None
        self.certs_told = set()
        self.queues_old = set()
        self.sync_lagging = False

    def update(
        self, summary, verdict, now, failed_over=None, drill=None, queues=None, sync_lag=None
    ):
        """Events for what changed; `now` is wall time."""
        events = []
        events += self._primary(summary, now)
        events += self._degraded(summary)
        events += self._failover(failed_over, now)
        events += self._drill(drill)
        events += self._certs(verdict, now)
        events += self._queues(queues or {})
        events += self._sync(sync_lag)
        return events

    def _primary(self, summary, now):
        if not summary["quorate"] or summary["primary_down"] == self.primary_down:
            return []
        if summary["flapping"]:
            return []  # the degraded event says it flaps; ups and downs are not news
        self.primary_down = summary["primary_down"]
        self.primary_since = now
        if self.primary_down:
            return [
                event(
                    PRIMARY_DOWN,
                    "primary %s is down by quorum" % self.primary,
                    "down by quorum: %s" % ", ".join(summary["primary_down_targets"]),
                    host=self.primary,
                )
            ]
        if self.failed_over:
            text = (
                "The primary answers again. Nothing fails back by itself: when it is ready, "
                "fail back with: %s" % self.failback_command
            )
        else:
            text = "The primary answers again; the site never failed over."
        return [
            event(
                RECOVERED,
                "primary %s has recovered" % self.primary,
                text,
                resolves=PRIMARY_DOWN,
                host=self.primary,
            )
        ]

    def _degraded(self, summary):
        reasons = set(summary["degraded"]) if summary["quorate"] else self.degraded
        new = sorted(reasons - self.degraded)
        self.degraded = reasons
        return [
            event(DEGRADED, "site degraded: %s" % reason, reason, key="degraded:%s" % reason)
            for reason in new
        ]

    def _failover(self, failed_over, now):
        if failed_over is None or failed_over == self.failed_over:
            return []
        before, self.failed_over = self.failed_over, failed_over
        self.failed_over_since = now
        if before is None:
            return []  # the first reading is the starting point, not a change
        if failed_over:
            return [
                event(FAILED_OVER, "site failed over from %s" % self.primary, host=self.primary)
            ]
        return [event(FAILED_BACK, "site failed back to %s" % self.primary, host=self.primary)]

    def _drill(self, drill):
        if not drill or drill.get("at") == self.drill_seen:
            return []
        first = self.drill_seen is None
        self.drill_seen = drill.get("at")
        if drill.get("ok") or (first and drill.get("told")):
            return []
        return [
            event(
                DRILL_FAILED,
                "the scheduled drill failed",
                drill.get("error") or "exit status %s" % drill.get("rc"),
                key="drill:%s" % drill.get("at"),
            )
        ]

    def _certs(self, verdict, now):
        events = []
        for key, entry in verdict["targets"].items():
            not_after = entry.get("cert_not_after")
            if not not_after:
                continue
            days = (not_after - now) / 86400.0
            told = (key, not_after)
            if days < self.cert_days and told not in self.certs_told:
                self.certs_told.add(told)
                events.append(
                    event(
                        CERT_EXPIRING,
                        "certificate of %s expires in %d days" % (key, max(days, 0)),
                        "threshold: %d days" % self.cert_days,
                        key="cert:%s:%s" % (key, int(not_after)),
                        target=key,
                    )
                )
        return events

    def _queues(self, queues):
        events = []
        for host, queue in sorted(queues.items()):
            oldest = queue.get("oldest_age")
            old = oldest is not None and oldest > self.queue_age
            if old and host not in self.queues_old:
                events.append(
                    event(
                        QUEUE_OLD,
                        "oldest queued message on %s is %d min old" % (host, oldest // 60),
                        "%s messages queued; threshold %d min"
                        % (queue.get("count"), self.queue_age // 60),
                        key="queue:%s" % host,
                        host=host,
                    )
                )
                self.queues_old.add(host)
            elif not old:
                self.queues_old.discard(host)
        return events

    def _sync(self, lag):
        if lag is None:
            return []
        lagging = lag > self.sync_lag
        if lagging == self.sync_lagging:
            return []
        self.sync_lagging = lagging
        if not lagging:
            return []
        return [
            event(
                SYNC_LAG,
                "mailbox sync lags %d s behind" % lag,
                "threshold: %d s" % self.sync_lag,
            )
        ]
