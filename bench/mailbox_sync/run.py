#!/usr/bin/env python3
# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""mailbox_sync benchmark: the module vs `doveadm sync -A` vs a parallel shell loop, side by side.

    .venv/bin/python bench/mailbox_sync/run.py [--sizes 50x20,200x10] [--parallel 8] \\
        [--repeat 3] [--keep]

Builds two extra lab containers - continuity-lab-bench-sync-a (172.30.53.63, where every tool
runs) and -b (172.30.53.64, reached over doveadm TCP) - each a real Dovecot with sdbox
mailboxes. For each size USERSxMESSAGES both sides start with MESSAGES different messages per
user, then every tool in turn, from the same snapshot, runs three rounds:

  initial      both sides have never been synced (the failback's first round)
  incremental  one new message per user arrived on b since (a later round)
  no-op        nothing changed (the round that proves "the delta is empty")

After every round both sides are compared user by user (outside the timing); a tool whose
round leaves them different is reported as such. Prints a Markdown table with times and ratios
to `doveadm sync -A`; results also go to reports/bench-mailbox-sync.json. The containers are
removed afterwards unless --keep is given.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from dovecot_minimal import dovecot_conf  # noqa: E402  pylint: disable=wrong-import-position

NETWORK = "continuity-lab"
LABEL = "continuity.mail.lab=bench-sync"
A, B = "continuity-lab-bench-sync-a", "continuity-lab-bench-sync-b"
IPS = {A: "172.30.53.63", B: "172.30.53.64"}
PASSWORD = "Bench-doveadm-Vb8nRt"
DOVECOT_PORT = 12345
DEST = "tcp:%s:%d" % (IPS[B], DOVECOT_PORT)
DOVECOT_CONF = dovecot_conf(PASSWORD, DOVECOT_PORT)

# Writes one mbox per user with N messages tagged by side; runs inside the container.
MAKE_MBOXES = r"""
import sys
users, count, side, first = sys.argv[1].split(","), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
for user in users:
    with open("/tmp/%s.mbox" % user, "w") as out:
        for n in range(first, first + count):
            out.write("From bench@example.net Thu Jan  1 00:00:00 2026\n")
            out.write("From: bench@example.net\nTo: %s\nSubject: bench %s %d\n" % (user, side, n))
            out.write("Message-ID: <%s-%s-%d@bench>\n\n" % (side, user, n))
            out.write(("bench message %s %d for %s\n" % (side, n, user)) * 20 + "\n")
"""
# Imports those mboxes into the users' INBOXes (users given as a space-separated list).
IMPORT_MBOXES = (
    "for u in %s; do "
    "doveadm import -u $u mbox:/tmp/mboxroot:INBOX=/tmp/$u.mbox '' all || exit 1; "
    "rm /tmp/$u.mbox; "
    "done"
)


def sh(container, script, input_text=None, check=True, timeout=1800):
    proc = subprocess.run(
        ["docker", "exec", "-i", container, "bash", "-c", script],
        input=input_text,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise RuntimeError(
            "%s: %s failed: %s %s" % (container, script[:200], proc.stdout, proc.stderr)
        )
    return proc


def docker(*args, check=True):
    return subprocess.run(["docker"] + list(args), capture_output=True, text=True, check=check)


def users_for(count):
    return ["u%03d@bench.test" % n for n in range(count)]


def start(users):
    for name, ip in IPS.items():
        docker("rm", "-f", name, check=False)
        docker(
            "run",
            "-d",
            "--name",
            name,
            "--hostname",
            name.rsplit("-", 1)[-1],
            "--label",
            LABEL,
            "--tmpfs",
            "/run",
            "--tmpfs",
            "/run/lock",
            "-v",
            "/sys/fs/cgroup:/sys/fs/cgroup:ro",
            "--network",
            NETWORK,
            "--ip",
            ip,
            "continuity-lab:latest",
            "/lib/systemd/systemd",
        )
    for name in IPS:
        deadline = time.monotonic() + 120
        while sh(name, "systemctl is-system-running", check=False).stdout.strip() not in (
            "running",
            "degraded",
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("systemd did not come up in %s" % name)
            time.sleep(0.5)
        sh(
            name,
            "groupadd -g 5000 vmail && useradd -u 5000 -g vmail -d /var/vmail vmail && "
            "install -d -o vmail -g vmail /var/vmail && cat > /etc/dovecot/dovecot.conf && "
            "systemctl restart dovecot",
            input_text=DOVECOT_CONF,
        )
        sh(
            name,
            "cat > /etc/dovecot/users",
            input_text="".join("%s:{PLAIN}unused::::::\n" % u for u in users),
        )


def fill(users, messages):
    """Both sides get `messages` different messages per user; the result is the snapshot."""
    for name, side in ((A, "a"), (B, "b")):
        sh(name, "rm -rf /var/vmail/* /var/lib/continuity-mail")
        sh(
            name,
            "mkdir -p /tmp/mboxroot && python3 - %s %d %s 0" % (",".join(users), messages, side),
            input_text=MAKE_MBOXES,
        )
        sh(
            name,
            IMPORT_MBOXES % " ".join(users),
        )
        sh(name, "tar -C /var/vmail -cf /root/snapshot.tar .")


def reset():
    for name in IPS:
        sh(
            name,
            "rm -rf /var/vmail/* /var/lib/continuity-mail "
            "&& tar -C /var/vmail -xf /root/snapshot.tar",
        )


def arrive(users):
    """One new message per user on b (mail that reached the secondary after the last round)."""
    stamp = int(time.time() * 1000)
    sh(
        B,
        "mkdir -p /tmp/mboxroot && python3 - %s 1 new %d" % (",".join(users), stamp),
        input_text=MAKE_MBOXES,
    )
    sh(
        B,
        IMPORT_MBOXES % " ".join(users),
    )


def in_sync(users):
    script = (
        "for u in %s; do echo \"== $u\"; doveadm -f tab fetch -u $u 'mailbox guid' all | sort; done"
        % " ".join(users)
    )
    return sh(A, script).stdout == sh(B, script).stdout


def module_tool(parallel, **extra):
    args = {"destination": IPS[B], "users": ["all"], "parallel": parallel}
    args.update(extra)
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    argv = [
        "ansible",
        "all",
        "-i",
        A + ",",
        "-c",
        "community.docker.docker",
        "-e",
        "ansible_python_interpreter=/usr/bin/python3",
        "-m",
        "continuity.mail.mailbox_sync",
        "-a",
        json.dumps(args),
    ]

    def run():
        proc = subprocess.run(
            argv, cwd=str(ROOT), env=env, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError("mailbox_sync failed: %s" % proc.stdout[-2000:])

    return run


def ansible_ping():
    """What any Ansible task on this host costs before the module does anything."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    argv = [
        "ansible",
        "all",
        "-i",
        A + ",",
        "-c",
        "community.docker.docker",
        "-e",
        "ansible_python_interpreter=/usr/bin/python3",
        "-m",
        "ansible.builtin.ping",
    ]

    def run():
        subprocess.run(argv, cwd=str(ROOT), env=env, capture_output=True, text=True, check=True)

    return run


def doveadm_all():
    def run():
        sh(A, "doveadm sync -A %s" % DEST)

    return run


def xargs_loop(parallel):
    def run():
        sh(A, "doveadm user '*' | xargs -P %d -I{} doveadm sync -u {} %s" % (parallel, DEST))

    return run


ROUNDS = ("initial", "incremental", "no-op")


def measure(users, tools, repeat):
    """Every tool runs the three rounds `repeat` times, tools interleaved (the order rotates
    each time) so a busy machine slows all of them alike; the median of each round counts."""
    times = dict((name, dict((r, []) for r in ROUNDS)) for name, dummy in tools)
    synced = dict((name, dict((r, True) for r in ROUNDS)) for name, dummy in tools)
    for repetition in range(repeat):
        shift = repetition % len(tools)
        for name, tool in tools[shift:] + tools[:shift]:
            reset()
            for round_name in ROUNDS:
                if round_name == "incremental":
                    arrive(users)
                started = time.monotonic()
                tool()
                times[name][round_name].append(time.monotonic() - started)
                synced[name][round_name] &= in_sync(users)
            print(
                "  %d %-60s %s"
                % (repetition, name, [round(times[name][r][-1], 2) for r in ROUNDS]),
                file=sys.stderr,
            )
    rows = []
    for name, dummy in tools:
        row = {"tool": name, "samples": times[name]}
        for round_name in ROUNDS:
            row[round_name] = round(statistics.median(times[name][round_name]), 2)
            row[round_name + "_in_sync"] = synced[name][round_name]
        rows.append(row)
    return rows


def table(size, rows):
    base = rows[0]
    lines = [
        "",
        "%s users x %s messages per side (median of the repetitions):" % size,
        "",
        "| tool | initial s | incremental s | no-op s "
        "| vs `doveadm sync -A` (initial / incremental / no-op) |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        marks = "".join(
            "" if row[r + "_in_sync"] or "ping" in row["tool"] else " (NOT in sync after %s)" % r
            for r in ("initial", "incremental", "no-op")
        )
        ratios = " / ".join(
            "%.2f" % (row[r] / base[r]) if base[r] else "-"
            for r in ("initial", "incremental", "no-op")
        )
        lines.append(
            "| %s%s | %.2f | %.2f | %.2f | %s |"
            % (row["tool"], marks, row["initial"], row["incremental"], row["no-op"], ratios)
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50x20,200x10")
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    options = parser.parse_args()
    sizes = [tuple(int(x) for x in item.split("x")) for item in options.sizes.split(",")]
    results = []
    try:
        for user_count, messages in sizes:
            users = users_for(user_count)
            print("size %dx%d: building" % (user_count, messages), file=sys.stderr)
            start(users)
            fill(users, messages)
            tools = [
                ("`doveadm sync -A` (serial)", doveadm_all()),
                ("`xargs -P %d doveadm sync -u`" % options.parallel, xargs_loop(options.parallel)),
                (
                    "mailbox_sync parallel=%d (defaults: bulk groups, compare)" % options.parallel,
                    module_tool(options.parallel),
                ),
                (
                    "mailbox_sync parallel=%d compare=false" % options.parallel,
                    module_tool(options.parallel, compare=False),
                ),
                (
                    "mailbox_sync parallel=%d stateful=true (one doveadm per user)"
                    % options.parallel,
                    module_tool(options.parallel, stateful=True),
                ),
                ("(Ansible's own cost: `ansible -m ping`, syncs nothing)", ansible_ping()),
            ]
            rows = measure(users, tools, options.repeat)
            results.append({"users": user_count, "messages": messages, "rows": rows})
            print(table((user_count, messages), rows))
    finally:
        if not options.keep:
            for name in IPS:
                docker("rm", "-f", name, check=False)
    (ROOT / "reports").mkdir(exist_ok=True)
    with open(ROOT / "reports" / "bench-mailbox-sync.json", "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
