# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from ansible_collections.continuity.mail.plugins.module_utils._monitor import check

NOW = 1000.0


def status(**values):
    base = {
        "at": NOW - 1,
        "interval": 1.0,
        "summary": {"quorate": True, "degraded": [], "primary_down_targets": []},
        "verdict": {
            "vantage_points": ["a", "b", "c"],
            "abstained": {},
            "needed": 2,
            "down": [],
            "targets": {
                "mx1 smtp": {
                    "down": False,
                    "status": "ok",
                    "votes": {"down": 0, "up": 3, "abstain": 0},
                    "probes": {"a": {"elapsed_ms": 12.0}, "b": {"elapsed_ms": 20.0}},
                }
            },
        },
        "primary_down": False,
        "failed_over": False,
        "maintenance": False,
    }
    base.update(values)
    return base


def test_site_ok_with_perfdata():
    code, line = check.evaluate(status(), NOW)
    assert code == check.OK
    assert line == (
        "OK - primary up, site not failed over | 'monitors_heard'=3;;;; "
        "'targets_down'=0;;;; 'failed_over'=0;;;;"
    )


def test_site_states():
    down = status(
        primary_down=True, summary={"quorate": True, "primary_down_targets": ["mx1 smtp"]}
    )
    assert check.evaluate(down, NOW)[0] == check.CRITICAL
    assert check.evaluate(status(failed_over=True), NOW)[0] == check.CRITICAL
    lonely = status(summary={"quorate": False})
    assert check.evaluate(lonely, NOW)[0] == check.WARNING
    code, line = check.evaluate(status(maintenance=True), NOW)
    assert code == check.WARNING and "maintenance switch on" in line
    degraded = status(summary={"quorate": True, "degraded": ["mx2 smtp is down"]})
    assert check.evaluate(degraded, NOW)[0] == check.WARNING


def test_unknown_without_a_fresh_status():
    assert check.evaluate(None, NOW)[0] == check.UNKNOWN
    code, line = check.evaluate(status(at=NOW - 60), NOW)
    assert code == check.UNKNOWN and "60 s old" in line


def test_one_check_per_service():
    code, line = check.evaluate(status(), NOW, target="mx1 smtp")
    assert code == check.OK
    assert line.startswith("OK - mx1 smtp up (0 down, 3 up, 0 abstain) | 'down_votes'=0;1;2;;")
    assert "'latency'=0.02s;;;;" in line
    doc = status()
    entry = doc["verdict"]["targets"]["mx1 smtp"]
    entry["votes"] = {"down": 1, "up": 2, "abstain": 0}
    assert check.evaluate(doc, NOW, target="mx1 smtp")[0] == check.WARNING
    entry.update(down=True, status="timeout", votes={"down": 2, "up": 1, "abstain": 0})
    code, line = check.evaluate(doc, NOW, target="mx1 smtp")
    assert code == check.CRITICAL and "DOWN by quorum (2 down, 1 up, 0 abstain): timeout" in line
    assert check.evaluate(doc, NOW, target="nope")[0] == check.UNKNOWN
