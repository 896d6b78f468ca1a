# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.continuity.mail.plugins.module_utils._monitor import metrics
from ansible_collections.continuity.mail.plugins.module_utils._monitor.textfile import collect

NOW = 1_800_000_000.0


def own():
    return {
        "targets": {
            "mx1 smtp": {
                "host": "mx1",
                "protocol": "smtp",
                "labels": {"role": "primary"},
                "up": False,
                "fails": 4,
                "elapsed_ms": 3000.0,
                "phases": {"connect": 3000.0},
                "cert_not_after": NOW + 86400,
            }
        }
    }


def status():
    return {
        "at": NOW,
        "monitor": "a",
        "leader": "a",
        "summary": {"quorate": True, "degraded": ["mx1 imaps is down"]},
        "verdict": {
            "vantage_points": ["a", "b", "c"],
            "abstained": {"c": "stale"},
            "targets": {
                "mx1 smtp": {"host": "mx1", "protocol": "smtp", "labels": {}, "down": True}
            },
        },
        "primary_down": True,
        "primary_since": NOW - 30,
        "failed_over": True,
        "failed_over_since": NOW - 20,
        "queue": {"host": "mx2", "count": 3, "oldest_age": 120},
        "drill": {"at": NOW - 3600, "ok": False, "rto": 8.5},
        "sync_lag": 42.0,
        "maintenance": False,
        "auto_failover": True,
        "last_auto_failover": NOW - 25,
        "alerts_sent": {"primary_down": 1, "failed_over": 1},
        "deduplicated": 3,
        "rate_limited": 0,
        "alerts_failed": 0,
    }


def test_the_prom_file_parses_and_shows_the_failed_over_state():
    text = metrics.render(collect(status(), own()))
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    target = (("host", "mx1"), ("protocol", "smtp"), ("role", "primary"), ("target", "mx1 smtp"))
    assert samples[("continuity_monitor_site_failed_over", ())] == 1.0
    assert samples[("continuity_monitor_site_failed_over_since_timestamp_seconds", ())] == NOW - 20
    assert samples[("continuity_monitor_target_up", target)] == 0.0
    assert samples[("continuity_monitor_target_cert_expiry_seconds", target)] == 86400.0
    phase = tuple(sorted(target + (("phase", "connect"),)))
    assert samples[("continuity_monitor_target_phase_seconds", phase)] == 3.0
    assert samples[("continuity_monitor_target_down_by_quorum", target)] == 1.0
    assert samples[("continuity_monitor_queue_oldest_age_seconds", (("host", "mx2"),))] == 120.0
    assert samples[("continuity_monitor_drill_last_success", ())] == 0.0
    assert samples[("continuity_monitor_drill_last_rto_seconds", ())] == 8.5
    assert samples[("continuity_monitor_sync_lag_seconds", ())] == 42.0
    assert samples[("continuity_monitor_peers_heard", ())] == 2.0
    assert samples[("continuity_monitor_alerts_sent_total", (("event", "failed_over"),))] == 1.0
    assert samples[("continuity_monitor_site_degraded", ())] == 1.0
