# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the monitor exports to node_exporter's textfile collector, built from its status:
per target (this monitor's view and the site's quorum), per mail host queue, the site's
failover state and since when, the last drill, sync lag, and the monitor's own health."""

from ansible_collections.continuity.mail.plugins.module_utils._monitor.metrics import Family


def _target_labels(name, entry):
    labels = entry.get("labels") or {}
    return {
        "target": name,
        "host": entry.get("host") or "",
        "protocol": entry.get("protocol") or "",
        "role": labels.get("role", "primary"),
    }


def collect(status, own):
    """[Family] from the service's status document and this monitor's own verdict."""
    wall = status["at"]
    up = Family("target_up", "gauge", "1 when this monitor sees the target healthy (rise/fall)")
    failures = Family("target_consecutive_failures", "gauge", "Failed probes in a row")
    latency = Family("target_latency_seconds", "gauge", "Duration of the last probe")
    phase = Family("target_phase_seconds", "gauge", "Duration of each phase of the last probe")
    expiry = Family(
        "target_cert_expiry_seconds", "gauge", "Seconds until the certificate presented expires"
    )
    site_down = Family(
        "target_down_by_quorum", "gauge", "1 when a majority of monitors see it down"
    )
    for name, entry in own["targets"].items():
        labels = _target_labels(name, entry)
        up.add(1 if entry["up"] else 0, **labels)
        failures.add(entry["fails"], **labels)
        if entry.get("elapsed_ms") is not None:
            latency.add(entry["elapsed_ms"] / 1000.0, **labels)
        for step, ms in sorted((entry.get("phases") or {}).items()):
            phase.add(ms / 1000.0, phase=step, **labels)
        if entry.get("cert_not_after"):
            expiry.add(entry["cert_not_after"] - wall, **labels)
    verdict = status.get("verdict") or {"targets": {}}
    for name, entry in verdict["targets"].items():
        site_down.add(1 if entry["down"] else 0, **_target_labels(name, entry))

    queue_size = Family("queue_messages", "gauge", "Messages in the mail host's queue")
    queue_age = Family("queue_oldest_age_seconds", "gauge", "Age of the oldest queued message")
    queue = status.get("queue")
    if queue:
        queue_size.add(queue["count"], host=queue["host"])
        queue_age.add(queue["oldest_age"], host=queue["host"])

    summary = status.get("summary") or {}
    failed_over = Family("site_failed_over", "gauge", "1 when the site runs on its secondary")
    failed_over_since = Family(
        "site_failed_over_since_timestamp_seconds", "gauge", "When the failover state last changed"
    )
    primary_down = Family("site_primary_down", "gauge", "1 when the primary is down by quorum")
    primary_since = Family(
        "site_primary_state_since_timestamp_seconds", "gauge", "When the primary's state changed"
    )
    quorate = Family("site_quorate", "gauge", "1 when this monitor hears a majority of monitors")
    degraded = Family("site_degraded", "gauge", "Number of reasons the site is degraded")
    if status.get("failed_over") is not None:
        failed_over.add(1 if status["failed_over"] else 0)
    failed_over_since.add(status.get("failed_over_since"))
    primary_down.add(1 if status.get("primary_down") else 0)
    primary_since.add(status.get("primary_since"))
    quorate.add(1 if summary.get("quorate") else 0)
    degraded.add(len(summary.get("degraded") or []))

    drill = status.get("drill") or {}
    drill_time = Family("drill_last_timestamp_seconds", "gauge", "When the last drill ended")
    drill_ok = Family("drill_last_success", "gauge", "1 when the last drill passed")
    drill_rto = Family("drill_last_rto_seconds", "gauge", "RTO measured by the last drill")
    drill_time.add(drill.get("at"))
    if drill:
        drill_ok.add(1 if drill.get("ok") else 0)
    drill_rto.add(drill.get("rto"))
    sync_lag = Family("sync_lag_seconds", "gauge", "Seconds since the last successful mailbox sync")
    sync_lag.add(status.get("sync_lag"))

    peers = Family("peers_heard", "gauge", "Monitors heard this tick, this one included")
    if verdict.get("vantage_points"):
        peers.add(len(verdict["vantage_points"]) - len(verdict.get("abstained") or {}))
    leader = Family("leader", "gauge", "1 when this monitor is the one that alerts and acts")
    leader.add(1 if status.get("leader") == status["monitor"] else 0)
    maintenance = Family("maintenance", "gauge", "1 while the maintenance switch is on")
    maintenance.add(1 if status.get("maintenance") else 0)
    auto = Family("auto_failover_enabled", "gauge", "1 when automatic failover is configured")
    auto.add(1 if status.get("auto_failover") else 0)
    last_auto = Family(
        "auto_failover_last_timestamp_seconds", "gauge", "When this monitor last started a failover"
    )
    last_auto.add(status.get("last_auto_failover"))
    sent = Family("alerts_sent_total", "counter", "Alerts delivered, per event")
    for kind, count in sorted((status.get("alerts_sent") or {}).items()):
        sent.add(count, event=kind)
    held = Family("alerts_held_back_total", "counter", "Alerts not sent, per reason")
    held.add(status.get("deduplicated", 0), reason="duplicate")
    held.add(status.get("rate_limited", 0), reason="rate_limit")
    held.add(status.get("alerts_failed", 0), reason="delivery_failed")
    updated = Family("last_update_timestamp_seconds", "gauge", "When this file was written")
    updated.add(wall)
    return [
        up,
        failures,
        latency,
        phase,
        expiry,
        site_down,
        queue_size,
        queue_age,
        failed_over,
        failed_over_since,
        primary_down,
        primary_since,
        quorate,
        degraded,
        drill_time,
        drill_ok,
        drill_rto,
        sync_lag,
        peers,
        leader,
        maintenance,
        auto,
        last_auto,
        sent,
        held,
        updated,
    ]
