#!/usr/bin/env python3
# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Resource bounds of mail_health (docs/reliability.md): many targets, half of them blackholed.

    .venv/bin/python bench/health/bounds.py [--targets 2000] [--timeout 2] [--concurrency 100]

Everything is on loopback. Live targets are one small SMTP responder (banner, EHLO, MAIL
FROM:<>, RSET, QUIT) in this process; blackholed targets are one listening socket whose
accept queue is kept full, so the kernel drops every SYN and each probe's connect runs into
its timeout, as with a server whose packets are dropped. The module runs as its own
process, exactly as Ansible runs it, and the figures are its peak resident memory, its CPU
time and its wall time beside the bound that its per-phase timeout and concurrency imply.
Prints one JSON object; the figures are measurements, never pass/fail thresholds.
"""

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from loopback import start_blackhole, start_smtp_responder

ROOT = Path(__file__).resolve().parent.parent.parent
MODULE = "ansible_collections.continuity.mail.plugins.modules.mail_health"


def targets(count, live_port, dead_port):
    live = count - count // 2
    out = []
    for n in range(count):
        alive = n < live
        out.append(
            {
                "name": "%s-%d" % ("live" if alive else "blackholed", n),
                "host": "127.0.0.1",
                "port": live_port if alive else dead_port,
                "protocol": "smtp",
                "starttls": False,
            }
        )
    return out, live


def run_module(args, timeout):
    """Run mail_health as Ansible does (a process of its own, arguments in a JSON file)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
    env = dict(os.environ, PYTHONPATH=str(ROOT / ".collections"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", MODULE, handle.name],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    os.unlink(handle.name)
    result = json.loads(proc.stdout)
    return result, {
        "wall_s": round(wall, 2),
        "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 2),
        # ru_maxrss of children is the largest child's peak, in KiB on Linux.
        "peak_rss_mib": round(after.ru_maxrss / 1024.0, 1),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=2000)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=100)
    options = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))

    live_port = start_smtp_responder()
    dead_port, keep = start_blackhole()
    points, live = targets(options.targets, live_port, dead_port)
    dead = options.targets - live
    # Every blackholed probe holds a connection slot for one full connect timeout.
    bound = math.ceil(dead / options.concurrency) * options.timeout + options.timeout
    result, figures = run_module(
        {
            "targets": points,
            "timeout": options.timeout,
            "concurrency": options.concurrency,
            "attempts": 1,
            "helo_name": "bench.test",
        },
        timeout=bound * 4 + 60,
    )
    statuses = {}
    for target in result.get("targets", []):
        kind = target["name"].split("-", 1)[0]
        statuses.setdefault(kind, {}).setdefault(target["status"], 0)
        statuses[kind][target["status"]] += 1
    print(
        json.dumps(
            dict(
                figures,
                targets=options.targets,
                live=live,
                blackholed=dead,
                timeout_s=options.timeout,
                concurrency=options.concurrency,
                bound_s=bound,
                within_bound=figures["wall_s"] <= bound,
                statuses=statuses,
                module_failed=bool(result.get("failed")),
                module_msg=result.get("msg"),
            ),
            indent=2,
            sort_keys=True,
        )
    )
    del keep


if __name__ == "__main__":
    main()
