#!/usr/bin/env python3
# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The monitor's memory and CPU over a long run of 1 s probing (docs/reliability.md).

    .venv/bin/python bench/monitor/soak.py [--seconds 600] [--sample 10]

Runs continuity-monitor (the program the monitor role installs, from this checkout) as its
own process against loopback targets shaped like a site: the primary's SMTP and submission
and the secondary's SMTP answer (a small SMTP responder in this process), and one more of
the secondary's endpoints is blackholed (every SYN dropped), so each round also waits out a
timeout. Samples the process's resident memory and CPU time from /proc and prints one JSON
object: a measurement, never a pass/fail threshold.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from loopback import start_blackhole, start_smtp_responder

ROOT = Path(__file__).resolve().parent.parent.parent
MAIN = "ansible_collections.continuity.mail.plugins.module_utils._monitor.main"
TICK = os.sysconf("SC_CLK_TCK")


def config(folder, live, dead):
    def target(name, port, role):
        return {
            "name": name,
            "host": "127.0.0.1",
            "port": port,
            "protocol": "smtp",
            "starttls": False,
            "role": role,
        }

    return {
        "name": "soak",
        "site": "bench",
        "interval": 1.0,
        "timeout": 2.0,
        "targets": [
            target("primary-smtp", live, "primary"),
            target("primary-submission", live, "primary"),
            target("secondary-smtp", live, "secondary"),
            target("secondary-blackholed", dead, "secondary"),
        ],
        "state_dir": os.path.join(folder, "state"),
        "metrics_path": os.path.join(folder, "continuity_monitor.prom"),
        "maintenance_file": os.path.join(folder, "maintenance"),
    }


def sample(pid):
    """(resident memory in MiB, CPU seconds so far) of a running process."""
    with open("/proc/%d/status" % pid, encoding="ascii") as handle:
        rss = next(int(line.split()[1]) for line in handle if line.startswith("VmRSS:"))
    with open("/proc/%d/stat" % pid, encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return rss / 1024.0, (int(fields[11]) + int(fields[12])) / TICK


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--sample", type=float, default=10)
    options = parser.parse_args(argv)
    live = start_smtp_responder()
    dead, keep = start_blackhole()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "monitor.json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(config(folder, live, dead), handle)
        env = dict(os.environ, PYTHONPATH=str(ROOT / ".collections"))
        proc = subprocess.Popen(
            [sys.executable, "-m", MAIN, "run", "-c", path],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        samples = []
        started = time.monotonic()
        try:
            while time.monotonic() - started < options.seconds:
                time.sleep(options.sample)
                if proc.poll() is not None:
                    raise SystemExit("the monitor exited: %s" % proc.stderr.read()[-2000:])
                rss, cpu = sample(proc.pid)
                samples.append((round(time.monotonic() - started), round(rss, 1), cpu))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        with open(os.path.join(folder, "continuity_monitor.prom"), encoding="utf-8") as handle:
            metrics = [line for line in handle if line.startswith("continuity_monitor_")]
    elapsed = samples[-1][0]
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "targets": 4,
                "interval_s": 1.0,
                "rss_mib_first": samples[0][1],
                "rss_mib_max": max(s[1] for s in samples),
                "rss_mib_last": samples[-1][1],
                "cpu_s": round(samples[-1][2], 2),
                "cpu_percent": round(100.0 * samples[-1][2] / elapsed, 2),
                # The blackholed target fails every round: its failure count is the rounds run.
                "rounds": next(
                    int(float(line.split()[-1]))
                    for line in metrics
                    if line.startswith("continuity_monitor_target_consecutive_failures")
                    and 'target="secondary-blackholed"' in line
                ),
                "samples": [{"at_s": s[0], "rss_mib": s[1]} for s in samples],
            },
            indent=2,
        )
    )
    del keep


if __name__ == "__main__":
    main()
