# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench/run_all.py (`make bench`) turns each benchmark's results into the generated part of
docs/benchmarks.md (medians, ratios, machine facts, plots) and replaces only that part.
No timing is asserted: the inputs are recorded results and small fixtures."""

import importlib.util
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("bench_run_all", ROOT / "bench" / "run_all.py")
run_all = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(run_all)

HEALTH = [
    {
        "size": 50,
        "mix": [16, 12, 12],
        "mail_health": [1.5, {"ok": 40}],
        "wait_for": [6.0, {"ok": 40}],
        "live": 40,
    },
    {"size": 200, "mail_health": [2.0, {"ok": 160}], "wait_for": [30.0, {"ok": 160}], "live": 160},
]
SYNC_OLD = [
    {"users": 5, "messages": 10, "rows": [{"tool": "mailbox_sync parallel=8", "median": 2.0}]},
    {
        "users": 10,
        "messages": 10,
        "rows": [{"tool": "mailbox_sync parallel=8", "seconds": [3.0, 5.0, 4.0]}],
    },
]
SYNC_NEW = {
    "options": {"users": 20, "messages": 50},
    "rows": [
        {"tool": "mbsync", "full": 9.0, "delta": 2.0},
        {"tool": "mailbox_sync", "full": 3.0, "delta": 1.0},
    ],
}


def test_medians_per_size_from_each_format():
    committed = sorted((ROOT / "bench" / "dns" / "results").glob("*.json"))[-1]
    dns = run_all.dns_rows(json.loads(committed.read_text()))
    assert set(dns) >= {"mx_switch", "nsupdate CLI"} and all(dns["mx_switch"].values())
    assert run_all.health_rows(HEALTH) == {
        "mail_health": {50: 1.5, 200: 2.0},
        "wait_for": {50: 6.0, 200: 30.0},
    }
    assert run_all.sync_rows(SYNC_OLD) == {"mailbox_sync parallel=8": {50: 2.0, 100: 4.0}}
    assert run_all.sync_rows(SYNC_NEW)["mbsync (full)"] == {1000: 9.0}


def test_the_generated_part_has_facts_commands_ratios_and_plots(tmp_path):
    runs = {
        "health": {
            "command": ".venv/bin/python bench/health/run.py",
            "rc": 0,
            "seconds": 61,
            "stdout": "",
        }
    }
    results = {"health": run_all.health_rows(HEALTH), "sync": run_all.sync_rows(SYNC_OLD)}
    facts = run_all.machine_facts()
    section = run_all.render(facts, runs, results, tmp_path, plots=tmp_path / "plots")
    assert "%s CPUs" % facts["cpus"] in section
    assert "Command: `.venv/bin/python bench/health/run.py`" in section
    assert "| **mail_health** | 1.50 | 2.00 |" in section
    assert "| wait_for | 6.00 (4x) | 30.00 (15x) |" in section
    assert "![Health](plots/health.svg)" in section
    svg = (tmp_path / "plots" / "health.svg").read_text()
    assert svg.startswith("<?xml") and "<svg" in svg
    assert (tmp_path / "plots" / "sync.svg").exists()


def test_only_the_generated_part_is_replaced(tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nHand-written analysis.\n")
    for number in (1, 2):
        run_all.rewrite(doc, "%s\nrun %d\n%s\n" % (run_all.START, number, run_all.END))
    text = doc.read_text()
    assert text.count(run_all.START) == 1 and "run 2" in text and "run 1" not in text
    assert text.startswith("# Benchmarks\n\nHand-written analysis.\n")


def test_every_benchmark_script_starts():
    """A smoke that costs nothing: every script make bench runs imports and parses its options
    (the tiny real runs are tests/integration/test_bench_smoke.py, with the lab up)."""
    import subprocess
    import sys

    for bench in run_all.BENCHES:
        script = ROOT / bench["command"][1]
        proc = subprocess.run(
            [sys.executable, str(script), "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0 and "usage" in proc.stdout, script


def test_one_run_per_size_is_read_back_as_one_series(tmp_path, monkeypatch):
    monkeypatch.setattr(run_all, "ROOT", tmp_path)
    (tmp_path / "reports").mkdir()
    for number, users in enumerate((10, 20)):
        data = dict(SYNC_NEW, options={"users": users, "messages": 10})
        (tmp_path / "reports" / ("bench-mailbox-sync.%d.json" % number)).write_text(
            json.dumps(data)
        )
    (sync,) = [dict(b) for b in run_all.BENCHES if b["name"] == "sync"]
    assert run_all.load(sync)["mbsync (full)"] == {100: 9.0, 200: 9.0}
