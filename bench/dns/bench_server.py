#!/usr/bin/env python3
# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A dedicated BIND for the DNS benchmark: container continuity-lab-bench-dns at 172.30.53.50.

Serves ZONES zones bench-NNNN.test (MX 10 mx1.bench.test., 20 mx2.bench.test.; mail CNAME
mx1.bench.test.; NS ns.bench.test.) plus bench.test, all updatable with one TSIG key. It
lives on the lab network with the lab label (so `make lab-down` removes it) and never
touches the five shared lab hosts. `prepare(n)` resets every zone to that initial state.
"""

import base64
import io
import os
import subprocess
import tarfile
import time

NAME = "continuity-lab-bench-dns"
IP = "172.30.53.50"
NETWORK = "continuity-lab"
LABEL = "continuity.mail.lab=bench-dns"
IMAGE = "continuity-lab:latest"
ZONE_DIR = "/var/lib/bind/bench"
KEY_NAME = "bench-dns"
STATE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    ".lab",
    "bench-dns",
)


def zone_name(index):
    return "bench-%04d.test" % index


def docker(*args, check=True, input_bytes=None):
    return subprocess.run(
        ["docker"] + list(args), check=check, capture_output=True, input=input_bytes
    )


def key_secret():
    """The bench TSIG secret, made once and kept in .lab/bench-dns (git-ignored)."""
    os.makedirs(STATE, mode=0o700, exist_ok=True)
    path = os.path.join(STATE, "key.secret")
    if not os.path.exists(path):
        with open(path, "w", encoding="ascii") as handle:
            handle.write(base64.b64encode(os.urandom(32)).decode())
    with open(path, encoding="ascii") as handle:
        return handle.read().strip()


def ensure_container():
    running = (
        docker("ps", "--filter", "name=^%s$" % NAME, "--format", "{{.Names}}")
        .stdout.decode()
        .split()
    )
    if (
        NAME in running
        and docker("exec", NAME, "mountpoint", "-q", ZONE_DIR, check=False).returncode == 0
    ):
        return
    docker("rm", "-f", NAME, check=False)
    docker(
        "run",
        "-d",
        "--name",
        NAME,
        "--hostname",
        "bench-dns",
        "--label",
        LABEL,
        "--network",
        NETWORK,
        "--ip",
        IP,
        "--tmpfs",
        "/run",
        "--tmpfs",
        "/run/lock",
        "-v",
        "/sys/fs/cgroup:/sys/fs/cgroup:ro",
        "--cap-add",
        "NET_ADMIN",
        # Zone files and journals on tmpfs: the container root is fuse-overlayfs on this
        # machine, where every journal fsync costs milliseconds; all methods share it.
        "--tmpfs",
        ZONE_DIR + ":mode=1777",
        "--stop-signal",
        "SIGRTMIN+3",
        IMAGE,
        "/lib/systemd/systemd",
    )
    for _ in range(60):
        state = (
            docker("exec", NAME, "systemctl", "is-system-running", check=False)
            .stdout.decode()
            .strip()
        )
        if state in ("running", "degraded"):
            return
        time.sleep(1)
    raise SystemExit("%s did not boot" % NAME)


def _files(count, secret):
    files = {}
    conf = ['key "%s" { algorithm hmac-sha256; secret "%s"; };' % (KEY_NAME, secret)]
    for zone in ["bench.test"] + [zone_name(i) for i in range(count)]:
        conf.append(
            'zone "%s" { type primary; file "/var/lib/bind/bench/db.%s"; '
            "update-policy { grant %s zonesub ANY; }; };" % (zone, zone, KEY_NAME)
        )
        head = (
            "$TTL 60\n@ IN SOA ns.bench.test. hostmaster.bench.test. 1 60 30 86400 60\n"
            "@ IN NS ns.bench.test.\n"
        )
        if zone == "bench.test":
            body = "ns IN A %s\nmx1 IN A 172.30.53.20\nmx2 IN A 172.30.53.21\n" % IP
        else:
            body = (
                "@ IN MX 10 mx1.bench.test.\n"
                "@ IN MX 20 mx2.bench.test.\n"
                "mail IN CNAME mx1.bench.test.\n"
            )
        files["var/lib/bind/bench/db.%s" % zone] = head + body
    files["etc/bind/named.conf.local"] = "\n".join(conf) + "\n"
    files["etc/bind/named.conf.options"] = (
        'options {\n directory "/var/cache/bind";\n listen-on { any; };\n listen-on-v6 { none; };\n'
        " recursion no;\n allow-query { any; };\n dnssec-validation no;\n notify no;\n};\n"
    )
    return files


def prepare(count):
    """(Re)start named with count fresh zones; returns the TSIG secret."""
    ensure_container()
    secret = key_secret()
    docker(
        "exec",
        NAME,
        "bash",
        "-c",
        "systemctl stop named; find %s -mindepth 1 -delete; "
        % ZONE_DIR
        + "test -f /etc/bind/rndc.key || rndc-confgen -a -A hmac-sha256; "
        "chgrp bind /etc/bind/rndc.key; chmod 640 /etc/bind/rndc.key",
    )
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, text in _files(count, secret).items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    docker("exec", "-i", NAME, "tar", "-C", "/", "-x", input_bytes=buffer.getvalue())
    docker(
        "exec",
        NAME,
        "bash",
        "-c",
        "chown -R bind:bind /var/lib/bind/bench && named-checkconf "
        "&& systemctl enable --now named >/dev/null 2>&1 && systemctl restart named",
    )
    for _ in range(100):
        probe = subprocess.run(
            ["dig", "+short", "@" + IP, "SOA", zone_name(count - 1)], capture_output=True
        )
        if probe.stdout.strip():
            return secret
        time.sleep(0.2)
    raise SystemExit("named in %s does not answer for %s" % (NAME, zone_name(count - 1)))


if __name__ == "__main__":
    import sys

    prepare(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
    print("%s at %s serves %s zones" % (NAME, IP, sys.argv[1] if len(sys.argv) > 1 else 1000))
