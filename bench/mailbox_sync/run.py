#!/usr/bin/env python3
# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""mailbox_sync benchmark: the module (with its per-user proof) vs mbsync vs doveadm, side by side.

    .venv/bin/python bench/mailbox_sync/run.py [--users 100] [--messages 100] [--delta 10] \\
        [--repeat 3] [--image continuity-lab:latest] [--keep]

Run it under /work/coord/labq (it uses the shared Docker host). It starts two containers from
the lab image on a network of their own - continuity-bench-sync-a (172.30.63.10, where every
tool runs) and -b (172.30.63.11, reached over doveadm TCP and IMAP) - each a real Dovecot with
sdbox mailboxes on a tmpfs (the Docker storage driver would otherwise dominate every tool's
time). Then, for every tool in turn (the order rotates each repetition), from the same
snapshot:

  full   b holds USERS x MESSAGES messages (every user's INBOX), a holds the same users with
         empty mailboxes; the tool syncs both (a first failback round, or a new server);
  delta  DELTA new messages per user arrive on b (outside the timing), the tool syncs again
         (a later round: the mailboxes were already in sync).

Tools: mailbox_sync (compare=true, the default: it ends with its per-user proof) timed as the
module's own run (its AnsiballZ payload run on a, what Ansible runs there) and as a whole
`ansible` task; mbsync (isync, installed from Debian in container a; one channel per user,
IMAP to IMAP, state kept between full and delta, as admins run it); a sequential per-user
`doveadm sync -u` loop. After every run both sides are checked outside the
timing: per user the same Message-IDs on both sides, each exactly once, and the expected
number. Prints a Markdown table (medians, ratios to mbsync); raw samples go to
reports/bench-mailbox-sync.json. The containers and network are removed unless --keep.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from dovecot_minimal import dovecot_conf  # noqa: E402  pylint: disable=wrong-import-position

# The venv's ansible and ansible-playbook, whatever PATH the caller has.
VENV_BIN = ROOT / ".venv" / "bin"
os.environ["PATH"] = "%s%s%s" % (VENV_BIN, os.pathsep, os.environ.get("PATH", ""))

NETWORK, SUBNET = "continuity-bench-sync", "172.30.63.0/24"
LABEL = "continuity.mail.bench=sync"
A, B = "continuity-bench-sync-a", "continuity-bench-sync-b"
IPS = {A: "172.30.63.10", B: "172.30.63.11"}
PASSWORD = "Bench-doveadm-Vb8nRt"
USER_PASSWORD = "Bench-imap-Kq2Lw9"
DOVECOT_PORT = 12345
DEST = "tcp:%s:%d" % (IPS[B], DOVECOT_PORT)
MBSYNC_STATE = "/run/mbsync"

# IMAP for mbsync (plain IMAP inside the bench network; mbsync gets no TLS cost either).
IMAP_23 = "protocols = imap\ndisable_plaintext_auth = no\n"
IMAP_24 = "protocols = imap\nauth_allow_cleartext = yes\n"

# Writes one mbox per user with N messages tagged by side; runs inside the container.
MAKE_MBOXES = r"""
import os, sys
users, count, side, first = sys.argv[1].split(","), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
for user in users:
    path = "/tmp/mbox/%s.mbox" % user
    os.makedirs("/tmp/mbox/%s.d" % user, mode=0o777)  # each import its own index directory
    os.chmod("/tmp/mbox/%s.d" % user, 0o777)
    with open(path, "w") as out:
        for n in range(first, first + count):
            out.write("From bench@example.net Thu Jan  1 00:00:00 2026\n")
            out.write("From: bench@example.net\nTo: %s\nSubject: bench %s %d\n" % (user, side, n))
            out.write("Message-ID: <%s-%s-%d@bench>\n\n" % (side, user, n))
            out.write(("bench message %s %d for %s\n" % (side, n, user)) * 20 + "\n")
    os.chmod(path, 0o666)
"""
# Imports those mboxes into the users' INBOXes, 4 at a time.
IMPORT_MBOXES = (
    "cut -d: -f1 /etc/dovecot/users | xargs -P 4 -I{} "
    "doveadm import -u {} mbox:/tmp/mbox/{}.d:INBOX=/tmp/mbox/{}.mbox '' all "
    "&& rm -rf /tmp/mbox"
)
# Every user's Message-IDs on one side, in one doveadm run.
LIST_IDS = "doveadm -f json fetch -A 'mailbox hdr.message-id' all"


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
            "%s: %s failed (rc %d): %s %s"
            % (container, script[:200], proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
        )
    return proc


def docker(*args, check=True):
    return subprocess.run(["docker"] + list(args), capture_output=True, text=True, check=check)


def users_for(count):
    return ["u%03d@bench.test" % n for n in range(count)]


def remove():
    for name in IPS:
        docker("rm", "-f", name, check=False)
    docker("network", "rm", NETWORK, check=False)


def start(users, image):
    remove()
    docker("network", "create", "--label", LABEL, "--subnet", SUBNET, NETWORK)
    for name, ip in IPS.items():
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
            "--tmpfs",
            "/var/vmail:size=2g",
            "-v",
            "/sys/fs/cgroup:/sys/fs/cgroup:ro",
            "--network",
            NETWORK,
            "--ip",
            ip,
            image,
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
        version = sh(name, "dovecot --version").stdout.split()[0]
        imap = IMAP_24 if version.startswith("2.4") else IMAP_23
        sh(
            name,
            "(getent group vmail || (groupadd -g 5000 vmail && "
            "useradd -u 5000 -g vmail -d /var/vmail vmail)) >/dev/null && "
            "chown vmail:vmail /var/vmail && cat > /etc/dovecot/dovecot.conf && "
            "systemctl restart dovecot",
            input_text=dovecot_conf(PASSWORD, DOVECOT_PORT) + imap,
        )
        sh(
            name,
            "cat > /etc/dovecot/users",
            input_text="".join("%s:{PLAIN}%s::::::\n" % (u, USER_PASSWORD) for u in users),
        )


def install_mbsync():
    """isync from the image's Debian mirror, in container a only."""
    sh(
        A,
        "command -v mbsync >/dev/null || (apt-get update -qq && "
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends isync)",
        timeout=600,
    )
    return sh(A, "mbsync --version").stdout.strip()


def mbsync_config(users, version):
    """One channel per user, IMAP (a, local) to IMAP (b), both ways, state in MBSYNC_STATE
    (a file per channel and mailbox: the prefix keeps users apart)."""
    # isync 1.5 renamed SSLType to TLSType.
    tls = "TLSType" if tuple(int(x) for x in version.split(".")[:2]) >= (1, 5) else "SSLType"
    blocks = []
    for n, user in enumerate(users):
        for side, host in (("near", "127.0.0.1"), ("far", IPS[B])):
            blocks.append(
                "IMAPAccount %s%d\nHost %s\nUser %s\nPass %s\n%s None\n"
                "AuthMechs LOGIN\n\nIMAPStore %s%d\nAccount %s%d\n\n"
                % (side, n, host, user, USER_PASSWORD, tls, side, n, side, n)
            )
        blocks.append(
            "Channel u%d\nFar :far%d:\nNear :near%d:\nPatterns *\nCreate Both\n"
            "Expunge Both\nSync All\nSyncState %s/u%d.\n\n" % (n, n, n, MBSYNC_STATE, n)
        )
    return "".join(blocks)


def fill(users, messages):
    """b gets `messages` messages per user, a none; both sides are the snapshot."""
    sh(
        B,
        "mkdir -p /tmp/mbox && chmod 1777 /tmp/mbox && python3 - %s %d b 0"
        % (",".join(users), messages),
        input_text=MAKE_MBOXES,
    )
    sh(B, IMPORT_MBOXES)
    for name in IPS:
        sh(name, "doveadm mailbox create -A INBOX 2>/dev/null; doveadm force-resync -A '*'")
        sh(name, "tar -C /var/vmail -cf /root/snapshot.tar .")


def reset():
    for name in IPS:
        sh(
            name,
            "doveadm kick '*' >/dev/null 2>&1; rm -rf /var/vmail/* /var/vmail/.[!.]* "
            "%s /var/lib/continuity-mail && tar -C /var/vmail -xf /root/snapshot.tar"
            % MBSYNC_STATE,
        )
    sh(A, "mkdir -p %s" % MBSYNC_STATE)


def arrive(users, count, first):
    """`count` new messages per user on b (mail that reached the secondary since)."""
    sh(
        B,
        "mkdir -p /tmp/mbox && chmod 1777 /tmp/mbox && python3 - %s %d new %d"
        % (",".join(users), count, first),
        input_text=MAKE_MBOXES,
    )
    sh(B, IMPORT_MBOXES)


def message_ids(name):
    """{user: {message-id: count}} on one side (mailbox names aside: mbsync keeps them)."""
    rows = json.loads(sh(name, LIST_IDS).stdout or "[]")
    ids = {}
    for row in rows:
        mine = ids.setdefault(row["username"], {})
        key = row["hdr.message-id"].strip()
        mine[key] = mine.get(key, 0) + 1
    return ids


def check(users, expected):
    """None when both sides hold, per user, the same Message-IDs, each once, `expected` of
    them; else what is wrong (first few users)."""
    sides = {name: message_ids(name) for name in IPS}
    problems = []
    for user in users:
        a, b = sides[A].get(user, {}), sides[B].get(user, {})
        if a != b:
            problems.append("%s: a and b differ" % user)
        elif any(count != 1 for count in a.values()):
            problems.append("%s: duplicated Message-IDs" % user)
        elif len(a) != expected:
            problems.append("%s: %d messages, expected %d" % (user, len(a), expected))
    return "; ".join(problems[:3]) or None


# --- the tools -----------------------------------------------------------------------------


def ansible_argv(module, args):
    return [
        "ansible",
        "all",
        "-i",
        A + ",",
        "-c",
        "community.docker.docker",
        "-e",
        "ansible_python_interpreter=/usr/bin/python3",
        "-m",
        module,
        "-a",
        json.dumps(args),
    ]


def ansible(module, args, env=None):
    proc = subprocess.run(
        ansible_argv(module, args),
        cwd=str(ROOT),
        env=dict(
            os.environ,
            ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
            ANSIBLE_CALLBACK_RESULT_FORMAT="json",
            **(env or {}),
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError("%s failed: %s" % (module, proc.stdout[-3000:] + proc.stderr[-2000:]))
    return proc.stdout


# The doveadm password comes from a's own Dovecot configuration, as on a site.
# The benchmark servers run dovecot_minimal: plain doveadm TCP, by address (no certificates).
MODULE_ARGS = {"destination": IPS[B], "tls": False, "users": ["all"]}


def module_payload():
    """The module's AnsiballZ payload as Ansible leaves it on a (ANSIBLE_KEEP_REMOTE_FILES),
    copied to /root/mailbox_sync.py: the module run without Ansible's own start-up. Run once
    here (in compare mode would embed other arguments: this is a real sync, before reset)."""
    sh(A, "rm -rf /root/.ansible/tmp")
    ansible("continuity.mail.mailbox_sync", MODULE_ARGS, env={"ANSIBLE_KEEP_REMOTE_FILES": "1"})
    sh(A, "cp /root/.ansible/tmp/ansible-tmp-*/AnsiballZ_mailbox_sync.py /root/mailbox_sync.py")


def proven(stdout):
    """The module's own verdict: every user in sync, none failed."""
    result, dummy = json.JSONDecoder().raw_decode(stdout[stdout.index("{") :])
    if not (result.get("in_sync") is True and result["counts"]["failed"] == 0):
        raise RuntimeError("mailbox_sync did not prove the sync: %s" % stdout[-2000:])


def module_alone():
    def run():
        proven(sh(A, "python3 /root/mailbox_sync.py").stdout)

    return run


def module_task():
    def run():
        out = ansible("continuity.mail.mailbox_sync", MODULE_ARGS)
        proven(out[out.index("=>") + 2 :])

    return run


def mbsync():
    def run():
        sh(A, "mbsync -q -c /root/mbsyncrc -a")

    return run


def doveadm_loop():
    def run():
        sh(A, "for u in $(doveadm user '*'); do doveadm sync -u $u %s || exit 1; done" % DEST)

    return run


ROUNDS = ("full", "delta")


def measure(users, tools, repeat, messages, delta):
    times = dict((name, dict((r, []) for r in ROUNDS)) for name, dummy in tools)
    problems = dict((name, dict((r, []) for r in ROUNDS)) for name, dummy in tools)
    for repetition in range(repeat):
        shift = repetition % len(tools)
        for name, tool in tools[shift:] + tools[:shift]:
            reset()
            for round_name in ROUNDS:
                expected = messages
                if round_name == "delta":
                    arrive(users, delta, 1000 + repetition * delta)
                    expected = messages + delta
                started = time.monotonic()
                tool()
                times[name][round_name].append(time.monotonic() - started)
                problem = check(users, expected)
                if problem:
                    problems[name][round_name].append(problem)
            print(
                "  %d %-55s %s %s"
                % (
                    repetition,
                    name,
                    [round(times[name][r][-1], 2) for r in ROUNDS],
                    [problems[name][r][-1:] for r in ROUNDS],
                ),
                file=sys.stderr,
            )
    rows = []
    for name, dummy in tools:
        row = {"tool": name, "samples": times[name], "problems": problems[name]}
        for round_name in ROUNDS:
            row[round_name] = statistics.median(times[name][round_name])
        rows.append(row)
    return rows


def table(rows, reference):
    base = next(row for row in rows if row["tool"] == reference)
    lines = [
        "| tool | full s | delta s | mbsync / tool: full | mbsync / tool: delta | checked |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        ok = all(not row["problems"][r] for r in ROUNDS)
        lines.append(
            "| %s | %.2f | %.2f | %.1fx | %.1fx | %s |"
            % (
                row["tool"],
                row["full"],
                row["delta"],
                base["full"] / row["full"],
                base["delta"] / row["delta"],
                "in sync, every Message-ID once" if ok else "PROBLEMS: %s" % row["problems"],
            )
        )
    return "\n".join(lines)


def machine():
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "load_before": os.getloadavg(),
        "docker_storage": docker("info", "-f", "{{.Driver}}", check=False).stdout.strip(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--messages", type=int, default=100, help="per user, on b (full)")
    parser.add_argument("--delta", type=int, default=10, help="new messages per user (delta)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--image", default="continuity-lab:latest")
    parser.add_argument("--keep", action="store_true")
    options = parser.parse_args()
    users = users_for(options.users)
    facts = machine()
    try:
        print("building: %d users x %d messages" % (len(users), options.messages), file=sys.stderr)
        start(users, options.image)
        facts["dovecot"] = sh(A, "dovecot --version").stdout.strip()
        facts["mbsync"] = install_mbsync()
        sh(
            A,
            "cat > /root/mbsyncrc && chmod 600 /root/mbsyncrc",
            input_text=mbsync_config(users, facts["mbsync"].split()[-1]),
        )
        fill(users, options.messages)
        module_payload()
        mbsync_name = "mbsync -a (isync %s, one channel per user)" % facts["mbsync"].split()[-1]
        tools = [
            ("mailbox_sync module, compare=true (proof included)", module_alone()),
            ("mailbox_sync as an `ansible` task (proof included)", module_task()),
            (mbsync_name, mbsync()),
            ("sequential `doveadm sync -u` loop", doveadm_loop()),
        ]
        rows = measure(users, tools, options.repeat, options.messages, options.delta)
    finally:
        if not options.keep:
            remove()
    facts["load_after"] = os.getloadavg()
    print(
        "\n%d users, full: %d messages on b; delta: +%d (median of %d, Dovecot %s):\n"
        % (
            len(users),
            len(users) * options.messages,
            len(users) * options.delta,
            options.repeat,
            facts["dovecot"],
        )
    )
    print(table(rows, mbsync_name))
    print("\nmachine: %s" % json.dumps(facts))
    (ROOT / "reports").mkdir(exist_ok=True)
    with open(ROOT / "reports" / "bench-mailbox-sync.json", "w", encoding="utf-8") as handle:
        json.dump({"options": vars(options), "machine": facts, "rows": rows}, handle, indent=2)


if __name__ == "__main__":
    main()
