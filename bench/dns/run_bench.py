#!/usr/bin/env python3
# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DNS engine benchmark: switch the MX set of 10, 100 and 1000 zones and verify it, three ways,
side by side in one run on the same BIND (bench_server.py, 172.30.53.50):

  mx_switch      one Ansible task: continuity.mail.mx_switch with wait: true (reads, guarded
                 UPDATE per zone, then polls the zone's NS set until it serves the new data)
  nsupdate loop  community.general.nsupdate looped over the zones, then a loop of asserts on
                 community.general.dig lookups to verify
  nsupdate CLI   one `nsupdate -v` batch (bind9-dnsutils) and one `dig -f` batch to verify

Each method moves every zone to the other MX set (10 mx1/20 mx2 <-> 10 mx2/20 mx1), so all
do the same work; every timing includes verification and the tool's own start-up.
Usage: python bench/dns/run_bench.py [--sizes 10,100,1000] [--repeat 3] [--loop-max 1000]
"""

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import bench_server

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RESULTS = os.path.join(bench_server.STATE, "results.json")


def mx_set(active):
    other = "mx1" if active == "mx2" else "mx2"
    return ["10 %s.bench.test." % active, "20 %s.bench.test." % other]


def ansible_env():
    # The JSON callback for every playbook: results come back without an extra debug task.
    return dict(
        os.environ,
        ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        PATH=os.path.join(ROOT, ".venv", "bin") + os.pathsep + os.environ["PATH"],
    )


def playbook(text, extra):
    with tempfile.NamedTemporaryFile(
        "w", suffix=".yml", dir=bench_server.STATE, delete=False
    ) as handle:
        handle.write(text)
    vars_file = handle.name + ".json"
    with open(vars_file, "w", encoding="utf-8") as handle_vars:
        json.dump(extra, handle_vars)
    try:
        started = time.monotonic()
        done = subprocess.run(
            ["ansible-playbook", handle.name, "-e", "@" + vars_file],
            cwd=ROOT,
            env=ansible_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.monotonic() - started
    finally:
        os.unlink(handle.name)
        os.unlink(vars_file)
    if done.returncode != 0:
        raise SystemExit("playbook failed:\n%s\n%s" % (done.stdout[-3000:], done.stderr[-3000:]))
    return elapsed, done.stdout


MX_SWITCH = """
- name: Switch with continuity.mail.mx_switch
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Switch every zone and wait until the servers serve it
      continuity.mail.mx_switch:
        server: "{{ bench_ip }}"
        key_name: "{{ bench_key_name }}"
        key_secret: "{{ bench_key_secret }}"
        domains: "{{ bench_zones }}"
        active: "{{ bench_active }}.bench.test"
        wait: true
        wait_timeout: 120
"""

NSUPDATE_LOOP = """
- name: Switch with community.general.nsupdate
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Replace the MX set of each zone
      community.general.nsupdate:
        server: "{{ bench_ip }}"
        protocol: tcp
        key_name: "{{ bench_key_name }}"
        key_secret: "{{ bench_key_secret }}"
        key_algorithm: hmac-sha256
        zone: "{{ item }}"
        record: "{{ item }}."
        type: MX
        ttl: 60
        value: "{{ bench_values }}"
      loop: "{{ bench_zones }}"
    - name: Verify each zone
      ansible.builtin.assert:
        that: >-
          lookup('community.general.dig', item, '@' ~ bench_ip, qtype='MX', wantlist=True,
                 real_empty=True, tcp=true) | sort == bench_values | sort
        quiet: true
      loop: "{{ bench_zones }}"
"""


EMPTY = """
- name: Nothing but Ansible's own start-up
  hosts: localhost
  gather_facts: false
  tasks: []
"""


def run_baseline(_zones, _active, _secret):
    """ansible-playbook with no task: the part of every playbook timing that is Ansible itself."""
    return playbook(EMPTY, {})[0], {}


def run_mx_switch(zones, active, secret):
    elapsed, out = playbook(
        MX_SWITCH,
        dict(
            bench_ip=bench_server.IP,
            bench_key_name=bench_server.KEY_NAME,
            bench_key_secret=secret,
            bench_zones=zones,
            bench_active=active,
        ),
    )
    result = json.loads(out)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    if len(result["servers"]) != 1 or not result["servers"][0]["in_sync"]:
        raise SystemExit("mx_switch did not verify on the bench server: %s" % result["servers"])
    return elapsed, result["timings"]


def run_nsupdate_loop(zones, active, secret):
    elapsed, _out = playbook(
        NSUPDATE_LOOP,
        dict(
            bench_ip=bench_server.IP,
            bench_key_name=bench_server.KEY_NAME,
            bench_key_secret=secret,
            bench_zones=zones,
            bench_values=mx_set(active),
        ),
    )
    return elapsed, {}


def run_cli(zones, active, secret):
    values = mx_set(active)
    lines = ["server %s" % bench_server.IP]
    for zone in zones:
        lines += ["zone %s" % zone, "update delete %s. MX" % zone]
        lines += ["update add %s. 60 MX %s" % (zone, value) for value in values]
        lines.append("send")
    key = "hmac-sha256:%s:%s" % (bench_server.KEY_NAME, secret)
    queries = "\n".join("%s MX" % zone for zone in zones) + "\n"
    with tempfile.TemporaryDirectory(dir=bench_server.STATE) as work:
        batch, digs = os.path.join(work, "batch"), os.path.join(work, "digs")
        with open(batch, "w", encoding="ascii") as handle:
            handle.write("\n".join(lines) + "\n")
        with open(digs, "w", encoding="ascii") as handle:
            handle.write(queries)
        started = time.monotonic()
        subprocess.run(["nsupdate", "-v", "-y", key, batch], check=True, capture_output=True)
        update_done = time.monotonic()
        dig = subprocess.run(
            ["dig", "@" + bench_server.IP, "+tcp", "+norecurse", "+noall", "+answer", "-f", digs],
            check=True,
            capture_output=True,
            text=True,
        )
        elapsed = time.monotonic() - started
    served = {}
    for line in dig.stdout.splitlines():
        owner, _ttl, _cls, _type, preference, exchange = line.split()
        served.setdefault(owner.rstrip("."), []).append("%s %s" % (preference, exchange))
    wrong = [z for z in zones if sorted(served.get(z, [])) != sorted(values)]
    if wrong:
        raise SystemExit("nsupdate CLI: %d zones not switched, e.g. %s" % (len(wrong), wrong[:3]))
    return elapsed, {
        "apply": round(update_done - started, 3),
        "verify": round(elapsed - (update_done - started), 3),
    }


def verify(zones, active):
    """Independent check after each method: every zone serves the expected MX set."""
    import dns.message
    import dns.query

    for zone in zones:
        answer = dns.query.tcp(dns.message.make_query(zone, "MX"), bench_server.IP, timeout=5)
        got = sorted(r.to_text() for rrset in answer.answer for r in rrset)
        if got != sorted(mx_set(active)):
            raise SystemExit("%s serves %s after switching to %s" % (zone, got, active))


METHODS = [
    ("ansible start", run_baseline),
    ("mx_switch", run_mx_switch),
    ("nsupdate loop", run_nsupdate_loop),
    ("nsupdate CLI", run_cli),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--loop-max", type=int, default=1000, help="largest size the nsupdate loop runs"
    )
    parser.add_argument(
        "--loop-repeat", type=int, default=1, help="runs of the nsupdate loop at the largest size"
    )
    options = parser.parse_args()
    sizes = [int(s) for s in options.sizes.split(",")]
    results = {}
    for size in sizes:
        # Fresh zones for every size: all start at 10 mx1 / 20 mx2, journals empty.
        secret = bench_server.prepare(max(sizes))
        active = "mx1"
        zones = [bench_server.zone_name(i) for i in range(size)]
        # Rounds go through every method in turn, so load from anything else on the machine
        # falls on all of them alike.
        for round_number in range(options.repeat):
            for name, method in METHODS:
                if name == "nsupdate loop" and (
                    size > options.loop_max
                    or (size == max(sizes) and round_number >= options.loop_repeat)
                ):
                    continue
                if name != "ansible start":
                    active = "mx2" if active == "mx1" else "mx1"
                load = os.getloadavg()[0]
                elapsed, detail = method(zones, active, secret)
                verify(zones, active)
                results.setdefault(str(size), {}).setdefault(name, []).append(
                    {"seconds": round(elapsed, 3), "detail": detail, "load": round(load, 1)}
                )
                print(
                    "%5d zones  %-14s %7.2f s  load %4.1f  %s"
                    % (size, name, elapsed, load, detail or ""),
                    flush=True,
                )
    with open(RESULTS, "w", encoding="utf-8") as handle:
        json.dump(
            {"when": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "results": results}, handle, indent=1
        )
    print()
    print(table(results))


def table(results):
    rows = [
        "| zones | mx_switch (one task) | community.general.nsupdate loop | nsupdate CLI "
        "| empty playbook | loop / mx_switch | mx_switch / CLI "
        "| mx_switch in the module (read+apply+wait) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, methods in results.items():
        median = dict(
            (name, statistics.median(r["seconds"] for r in runs)) for name, runs in methods.items()
        )
        inside = statistics.median(sum(r["detail"].values()) for r in methods["mx_switch"])
        loop = median.get("nsupdate loop")
        rows.append(
            "| %s | %.2f s | %s | %.2f s | %.2f s | %s | %.1fx | %.2f s |"
            % (
                size,
                median["mx_switch"],
                "%.1f s" % loop if loop else "not run",
                median["nsupdate CLI"],
                median["ansible start"],
                "%.0fx" % (loop / median["mx_switch"]) if loop else "-",
                median["mx_switch"] / median["nsupdate CLI"],
                inside,
            )
        )
    return "\n".join(rows)


if __name__ == "__main__":
    main()
