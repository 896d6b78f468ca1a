# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tiny smoke of each benchmark `make bench` runs: the real script, with the smoke arguments
of bench/run_all.py, against the containers it starts for itself. It keeps the scripts
working. What is checked can fail - the exit code, a row for our tool and for each tool it
is measured against, a time above zero in each, each run's own correctness check - but never
how long anything took: a smoke's numbers mean nothing.

The scripts run with the project's venv off PATH: each must find the venv's Ansible itself.
The results file of a real `make bench` run is put back afterwards; a smoke's is dropped.

Left out: the failover benchmark. It runs full drills and outages on the shared lab hosts
(mx1, mx2, ns1, ns2, sender) that the other integration tests use, for minutes per kind.
"""

import importlib.util
import json
import os
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("bench_run_all", ROOT / "bench" / "run_all.py")
run_all = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(run_all)
BENCHES = {bench["name"]: bench for bench in run_all.BENCHES}
DNS_CONTAINER = "continuity-lab-bench-dns"


def without_venv(path):
    venv = str(run_all.VENV_BIN)
    return os.pathsep.join(p for p in path.split(os.pathsep) if p.rstrip("/") != venv)


@pytest.fixture
def smoke(tmp_path):
    """smoke(name) runs one benchmark at its smoke size; returns (stdout, its results)."""
    put_back = []

    def run(name):
        bench = BENCHES[name]
        results = ROOT / bench["results"]
        kept = tmp_path / results.name
        if results.exists():
            shutil.move(results, kept)
        put_back.append((kept, results))
        proc = subprocess.run(
            bench["command"] + bench["smoke"],
            cwd=ROOT,
            env=dict(os.environ, PATH=without_venv(os.environ["PATH"])),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert proc.returncode == 0, "%s smoke failed (rc %d):\n%s\n%s" % (
            name,
            proc.returncode,
            proc.stdout[-3000:],
            proc.stderr[-3000:],
        )
        assert results.exists(), "the %s smoke wrote no %s" % (name, bench["results"])
        return proc.stdout, json.loads(results.read_text(encoding="utf-8"))

    yield run
    for kept, results in put_back:
        results.unlink(missing_ok=True)
        if kept.exists():
            shutil.move(kept, results)


@pytest.fixture
def dns_container():
    """The DNS bench keeps its BIND container for the next run; a smoke removes the one it
    started (one that was already there is left alone)."""
    names = ["docker", "ps", "-q", "--filter", "name=^%s$" % DNS_CONTAINER]
    there = subprocess.run(names, capture_output=True, text=True, check=True).stdout.strip()
    yield
    if not there:
        subprocess.run(["docker", "rm", "-f", DNS_CONTAINER], capture_output=True, check=False)


def assert_measured(series, tools):
    """Every tool has a row, with a time above zero at every size."""
    for tool in tools:
        assert series.get(tool), "no row for %s in %s" % (tool, sorted(series))
        for size, seconds in series[tool].items():
            assert isinstance(seconds, (int, float)) and seconds > 0, (tool, size, seconds)


def test_dns_smoke(smoke, dns_container):
    stdout, data = smoke("dns")
    tools = ["mx_switch", "nsupdate loop", "nsupdate CLI", "ansible start"]
    series = run_all.dns_rows(data)
    assert sorted(series) == sorted(tools)
    assert_measured(series, tools)
    # run_bench.py checks every zone after each method (it fails otherwise) and prints a table.
    assert "| 3 | " in stdout, stdout[-2000:]


def test_health_smoke(smoke):
    stdout, rows = smoke("health")
    tools = ["mail_health", "mail_health_nologin", "check_parallel", "check_loop", "wait_for"]
    series = run_all.health_rows(rows)
    assert sorted(series) == sorted(tools)
    assert_measured(series, tools)
    for row in rows:
        for tool in tools:
            assert row[tool][1]["ok"] == row["live"], "%s: %s" % (tool, row[tool])
    assert "| 4 (0) | " in stdout, stdout[-2000:]


def test_mailbox_sync_smoke(smoke):
    stdout, data = smoke("sync")
    tools = [row["tool"] for row in data["rows"]]
    assert "mailbox_sync module, compare=true (proof included)" in tools
    assert any(tool.startswith("mbsync") for tool in tools), tools
    assert len(tools) == 4, tools
    series = run_all.sync_rows(data)
    assert_measured(
        series, ["%s (%s)" % (tool, kind) for tool in tools for kind in ("full", "delta")]
    )
    # After each run both sides hold the same Message-IDs, each once, as many as expected.
    for row in data["rows"]:
        assert not any(row["problems"].values()), "%s: %s" % (row["tool"], row["problems"])
    assert "in sync, every Message-ID once" in stdout, stdout[-2000:]
