# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Nagios/Icinga check over the monitor's status file: exit 0 OK, 1 WARNING, 2 CRITICAL,
3 UNKNOWN, one line of text, then perfdata after "|".

Without a target it checks the site (primary down or failed over: CRITICAL; degraded,
not quorate or maintenance: WARNING); with --target NAME it checks that one service
(down by quorum: CRITICAL; down or failing on some monitors: WARNING), so a site can keep
one check per service.
"""

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
LABELS = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}


def _perf(label, value, unit="", warn="", crit=""):
    if value is None:
        return None
    return "'%s'=%s%s;%s;%s;;" % (label.replace("'", ""), round(value, 3), unit, warn, crit)


def _finish(code, text, perf):
    line = "%s - %s" % (LABELS[code], text)
    perf = [p for p in perf if p]
    if perf:
        line += " | " + " ".join(perf)
    return code, line


def evaluate(status, now, target=None, max_age=None):
    """(exit code, output line) for a status document (None when unreadable)."""
    if not status:
        return _finish(UNKNOWN, "no monitor status (is the continuity monitor running?)", [])
    max_age = max_age or max(10.0, 5 * float(status.get("interval") or 1.0))
    age = now - float(status.get("at") or 0)
    if age > max_age:
        return _finish(UNKNOWN, "monitor status is %d s old" % age, [])
    verdict = status.get("verdict") or {"targets": {}}
    summary = status.get("summary") or {}
    if target:
        return _target(verdict, target)
    return _site(status, summary, verdict)


def _target(verdict, name):
    entry = verdict["targets"].get(name)
    if entry is None:
        return _finish(
            UNKNOWN, "no target %s (known: %s)" % (name, ", ".join(verdict["targets"])), []
        )
    votes = entry["votes"]
    probes = entry["probes"].values()
    latencies = [p["elapsed_ms"] for p in probes if p.get("elapsed_ms") is not None]
    perf = [
        _perf("down_votes", votes["down"], "", "1", str(verdict["needed"])),
        _perf("up_votes", votes["up"]),
        _perf("latency", max(latencies) / 1000.0 if latencies else None, "s"),
    ]
    text = "%s %s (%d down, %d up, %d abstain)" % (
        name,
        "DOWN by quorum" if entry["down"] else "up",
        votes["down"],
        votes["up"],
        votes["abstain"],
    )
    if entry["down"]:
        return _finish(CRITICAL, text + ": " + entry["status"], perf)
    if votes["down"] or entry.get("blipping") or entry.get("flapping"):
        return _finish(WARNING, text, perf)
    return _finish(OK, text, perf)


def _site(status, summary, verdict):
    heard = len(verdict.get("vantage_points") or []) - len(verdict.get("abstained") or {})
    perf = [
        _perf("monitors_heard", heard, "", "", ""),
        _perf("targets_down", len(verdict.get("down") or [])),
        _perf("failed_over", 1 if status.get("failed_over") else 0),
    ]
    notes = []
    if status.get("maintenance"):
        notes.append("maintenance switch on")
    if status.get("primary_down"):
        code, text = (
            CRITICAL,
            "primary down by quorum (%s)" % ", ".join(summary.get("primary_down_targets") or []),
        )
    elif status.get("failed_over"):
        code, text = CRITICAL, "site runs on its secondary (failed over)"
    elif not summary.get("quorate"):
        code, text = WARNING, "this monitor does not hear a majority of monitors"
    elif summary.get("degraded"):
        code, text = WARNING, "degraded: " + "; ".join(summary["degraded"])
    else:
        code, text = OK, "primary up, site not failed over"
    if notes:
        code = max(code, WARNING)
        text += " (%s)" % ", ".join(notes)
    return _finish(code, text, perf)
