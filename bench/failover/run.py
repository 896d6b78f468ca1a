#!/usr/bin/env python3
# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""RTO per outage kind, beside what plain backup-MX fallback gives a sender.

    .venv/bin/python bench/failover/run.py [--kinds refused,blackhole,tempfail] [--window 120]

For each outage kind, in one run on the lab:
1. continuity.mail: a full drill (outage, traffic, failover, failback); the drill report's
   rto_s is outage start -> first canary from the internet readable on the secondary.
2. plain backup MX (no failover): the same outage; one message from the internet sender;
   how long until the backup MX has accepted it, and whether the user can read it within
   the window (they cannot: it waits in the backup MX's queue until the primary returns).
Prints a Markdown table for docs/benchmarks.md. Timings are measurements, never test
thresholds.
"""

import argparse
import imaplib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from labtools import Lab, imap_search  # noqa: E402  pylint: disable=wrong-import-position


def playbook(*args):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    env["PATH"] = os.path.join(ROOT, ".venv", "bin") + os.pathsep + env["PATH"]
    result = subprocess.run(
        ["ansible-playbook"] + list(args),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.exit("ansible-playbook %s failed:\n%s" % (" ".join(args), result.stdout[-3000:]))
    return result


def drill(kind):
    with tempfile.TemporaryDirectory() as reports:
        started = time.time()
        playbook(
            "playbooks/drill.yml",
            "-e",
            "mode=full",
            "-e",
            "outage=" + kind,
            "-e",
            "drill_reports_dir=" + reports,
        )
        folder = os.path.join(reports, os.listdir(reports)[0])
        with open(os.path.join(folder, "report.json"), encoding="utf-8") as handle:
            report = json.load(handle)
    steps = {step["name"]: step for step in report["steps"]}
    state_dir = os.environ.get("CONTINUITY_LAB_STATE", "/var/lib/continuity-lab")
    with open(os.path.join(state_dir, "outage.json"), encoding="utf-8") as handle:
        outage = json.load(handle)
    failover_start = steps["failover: failover started"]["ended_at"]
    canary = steps["failover: canary readable on the secondary"]["ended_at"]
    return {
        "rto": float(report["rto_s"]),
        # from the moment the outage took effect, as rto_s is: detect + act == rto
        "detect": failover_start - float(outage.get("applied_at") or outage["started_at"]),
        "act": canary - failover_start,
        "messages": report["messages"],
        "total": time.time() - started,
    }


def mx2_has(lab, token):
    queue = lab.exec("mx2", "postqueue -j").stdout
    for line in queue.splitlines():
        queue_id = json.loads(line)["queue_id"]
        if token in lab.exec("mx2", "postcat -hq %s" % queue_id, check=False).stdout:
            return True
    return False


def readable_on(lab, host, token):
    """True when alice can read the token on host; an unreachable host (the outage) is False."""
    try:
        return bool(imap_search(lab, host, "alice@example.test", token))
    except (OSError, imaplib.IMAP4.error):
        return False


def backup_mx_only(lab, kind, window):
    playbook("playbooks/outage.yml", "-e", "outage_action=inject", "-e", "outage_kind=" + kind)
    try:
        token = "bench-backup-mx-" + uuid.uuid4().hex
        started = time.time()
        lab.exec(
            "sender",
            "swaks --to alice@example.test --from bench@example.net --server 127.0.0.1 "
            "--header 'Subject: %s'" % token,
        )
        accepted = None
        readable = None
        rounds = 0
        while time.time() - started < window:
            rounds += 1
            if accepted is None and mx2_has(lab, token):
                accepted = time.time() - started
            # An IMAP probe of a blackholed mx1 costs its 10 s timeout: until the backup MX
            # has the message, look for it in the mailboxes only every few rounds.
            if (accepted is not None or rounds % 10 == 0) and (
                readable_on(lab, "mx2", token) or readable_on(lab, "mx1", token)
            ):
                readable = time.time() - started
                break
            time.sleep(0.2 if accepted is None else 1)
    finally:
        playbook("playbooks/outage.yml", "-e", "outage_action=restore")
    lab.exec("mx2", "postqueue -f")
    deadline = time.time() + 120
    while time.time() < deadline and not imap_search(lab, "mx1", "alice@example.test", token):
        time.sleep(1)
    imap_search(lab, "mx1", "alice@example.test", token, delete=True)
    return {"accepted": accepted, "readable": readable}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kinds", default="refused,blackhole,tempfail")
    parser.add_argument(
        "--window",
        type=int,
        default=120,
        help="seconds to watch for the message during a backup-MX-only outage",
    )
    args = parser.parse_args()
    lab = Lab()
    if not lab.running():
        sys.exit("the lab is not running: make lab")
    rows = []
    for kind in args.kinds.split(","):
        ours = drill(kind)
        theirs = backup_mx_only(lab, kind, args.window)
        rows.append((kind, ours, theirs))
        print(kind, ours, theirs, file=sys.stderr)
    print(
        "| outage | continuity.mail RTO (outage -> canary readable on the secondary)"
        " | of which detection by quorum"
        " | of which decision, lock, switch, DNS wait, canary"
        " | drill messages sent / lost / duplicated"
        " | backup MX only: sender's delay until the backup MX accepts"
        " | backup MX only: readable by the user |"
    )
    print("|---|---|---|---|---|---|---|")
    for kind, ours, theirs in rows:
        accepted = (
            "%.1f s" % theirs["accepted"]
            if theirs["accepted"] is not None
            else "not within %d s" % args.window
        )
        readable = (
            "%.1f s" % theirs["readable"]
            if theirs["readable"] is not None
            else "not within %d s (queued until the primary returns)" % args.window
        )
        print(
            "| %s | **%.1f s** | %.1f s | %.1f s | %d / %d / %d | %s | %s |"
            % (
                kind,
                ours["rto"],
                ours["detect"],
                ours["act"],
                ours["messages"]["sent"],
                ours["messages"]["lost"],
                ours["messages"]["duplicated"],
                accepted,
                readable,
            )
        )


if __name__ == "__main__":
    main()
