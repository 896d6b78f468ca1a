#!/usr/bin/env python3
# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health benchmark: mail_health vs a wait_for loop vs check_smtp/check_imap, side by side.

    .venv/bin/python bench/health/run.py [--sizes 50,200,500] [--keep]

Builds continuity-lab-bench-health (see bench_lab.py), then for each size probes the same
endpoints (40% SMTP, 30% submission, 30% IMAP among the live ones; 5% dead = closed ports)
with every tool, one after another, and prints a Markdown table with times and ratios.
Results also go to reports/bench-health.json. The container is removed afterwards unless
--keep is given.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_lab

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TIMEOUT = 5


def endpoints(size):
    """The same deterministic endpoint list for every tool."""
    dead = size // 20
    live = size - dead
    smtp, submission = live * 40 // 100, live * 30 // 100
    imap = live - smtp - submission
    out = []
    for n in range(smtp):
        out.append(("smtp", bench_lab.SMTP_BASE + n, None))
    for n in range(submission):
        out.append(("submission", bench_lab.SUBMISSION_BASE + n, None))
    for n in range(imap):
        out.append(("imap", bench_lab.IMAP_BASE + n, bench_lab.user(n)))
    kinds = ("smtp", "submission", "imap")
    for n in range(dead):
        out.append((kinds[n % 3], bench_lab.DEAD_BASE + n, None))
    return out, live, dead, (smtp, submission, imap)


def health_targets(points, login=True):
    targets = []
    for protocol, port, user in points:
        target = {
            "name": "%s-%d" % (protocol, port),
            "host": bench_lab.IP,
            "port": port,
            "protocol": protocol,
            "server_name": bench_lab.SERVER_NAME,
        }
        if user and login:
            target.update(user=user, password=bench_lab.PASSWORD)
        targets.append(target)
    return targets


def playbook(name, extra, workdir):
    """Run bench/health/<name>.yml; returns (wall seconds, what it saw)."""
    extra = dict(extra, bench_timeout=TIMEOUT)
    vars_file = os.path.join(workdir, "vars-%s.json" % name)
    with open(vars_file, "w") as handle:
        json.dump(extra, handle)
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
    )
    env["PATH"] = str(ROOT / ".venv" / "bin") + os.pathsep + env["PATH"]
    start = time.monotonic()
    proc = subprocess.run(
        ["ansible-playbook", str(HERE / (name + ".yml")), "-e", "@" + vars_file],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise RuntimeError("%s failed: %s%s" % (name, proc.stdout[-3000:], proc.stderr[-3000:]))
    result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    if "summary" in result:  # mail_health
        return elapsed, {
            "ok": result["summary"]["healthy"],
            "failed": result["summary"]["unhealthy"],
            "by_status": result["summary"]["by_status"],
            "module_ms": result["elapsed_ms"],
        }
    seen = [bool(r.get("match_groups") is not None) for r in result["results"]]
    return elapsed, {"ok": sum(seen), "failed": len(seen) - sum(seen)}


def check_loop(points, jobs, workdir):
    tsv = os.path.join(workdir, "targets.tsv")
    with open(tsv, "w") as handle:
        for protocol, port, _user in points:
            handle.write("%s %s %d\n" % (protocol, bench_lab.IP, port))
    start = time.monotonic()
    proc = subprocess.run(
        ["bash", str(HERE / "check_loop.sh"), tsv, str(jobs), str(TIMEOUT)],
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.monotonic() - start
    ok, failed = (int(x) for x in proc.stdout.split())
    return elapsed, {"ok": ok, "failed": failed}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="50,200,500")
    parser.add_argument("--jobs", type=int, default=50, help="parallel check_* processes")
    parser.add_argument("--keep", action="store_true", help="keep the bench container")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    workdir = tempfile.mkdtemp(prefix="bench-health-")
    _, _, _, (smtp, submission, imap) = endpoints(max(sizes))
    print(
        "building %s: %d SMTP, %d submission, %d IMAP listeners"
        % (bench_lab.NAME, smtp, submission, imap)
    )
    ca_path = bench_lab.up(smtp, submission, imap, workdir)
    rows = []
    try:
        # Warm-up (not measured): Postfix spawns one smtpd per listener on first contact.
        points, _, _, _ = endpoints(max(sizes))
        playbook(
            "mail_health",
            {"bench_targets": health_targets(points), "bench_ca_path": ca_path},
            workdir,
        )
        for size in sizes:
            points, live, dead, mix = endpoints(size)
            row = {"size": size, "live": live, "dead": dead, "mix": mix}
            row["mail_health"] = playbook(
                "mail_health",
                {"bench_targets": health_targets(points), "bench_ca_path": ca_path},
                workdir,
            )
            # The same without IMAP logins: about the depth check_smtp/check_imap reach.
            row["mail_health_nologin"] = playbook(
                "mail_health",
                {"bench_targets": health_targets(points, login=False), "bench_ca_path": ca_path},
                workdir,
            )
            row["check_parallel"] = check_loop(points, args.jobs, workdir)
            row["check_loop"] = check_loop(points, 1, workdir)
            row["wait_for"] = playbook(
                "wait_for", {"bench_targets": health_targets(points)}, workdir
            )
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        if not args.keep:
            bench_lab.down()
    report = ROOT / "reports" / "bench-health.json"
    report.parent.mkdir(exist_ok=True)
    report.write_text(json.dumps(rows, indent=2))
    print(table(rows, args.jobs))


def table(rows, jobs):
    """Markdown: wall time per tool; ratios are against mail_health's whole playbook run."""
    head = (
        "| endpoints (dead) | mail_health, full depth: module / whole playbook "
        "| mail_health, no IMAP login: module / playbook "
        "| check_smtp + check_imap, `xargs -P %d` | check_smtp + check_imap, loop "
        "| `wait_for` loop |" % jobs
    )
    lines = [head, "|---|---|---|---|---|---|"]

    def health(row, key):
        seconds, seen = row[key]
        return "**%.2f s** / %.1f s (%d ok)" % (seen["module_ms"] / 1000.0, seconds, seen["ok"])

    def other(row, key):
        seconds, seen = row[key]
        base = row["mail_health"][0]
        return "%.1f s = %.1fx (%d ok)" % (seconds, seconds / base, seen["ok"])

    for row in rows:
        lines.append(
            "| %d (%d) | %s | %s | %s | %s | %s |"
            % (
                row["size"],
                row["dead"],
                health(row, "mail_health"),
                health(row, "mail_health_nologin"),
                other(row, "check_parallel"),
                other(row, "check_loop"),
                other(row, "wait_for"),
            )
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
