# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real broken mail endpoints for the health/queue integration tests, and helpers to run
continuity.mail modules and playbooks through Ansible against the lab.

The extra container continuity-lab-broken (172.30.53.40, label continuity.mail.lab=broken)
runs a real Postfix with one listener per failure:

  172.30.53.40:25   healthy smtpd (STARTTLS, certificate for broken.example.test)
  172.30.53.40:2420 421 greeting              (smtpd_client_restrictions at connect time)
  172.30.53.40:2421 banner delayed 30 s       (the `sleep` restriction before the greeting)
  172.30.53.40:2422 expired certificate
  172.30.53.40:2423 certificate for another name
  172.30.53.40:2424 nothing listening         (refused)
  172.30.53.41      blackholed address        (iptables DROP inside the container)
  172.30.53.42:25, 172.30.53.43:25  mail sinks behind a gate (421 when closed,
                    discard-delivery when open) for the mail_queue tests

The certificates come from a throwaway CA made here; pass `broken.ca_path` as ca_path.
"""

import json
import os
import subprocess
import tempfile
import textwrap

import pytest

from health_certs import make_ca, make_leaf, pem_cert, write_pair
from labtools import LAB_LABEL, ROOT, wait_until

NAME = "continuity-lab-broken"
IP = "172.30.53.40"
BLACKHOLE_IP = "172.30.53.41"
SINK_IPS = ("172.30.53.42", "172.30.53.43")
PORTS = {
    "good": 25,
    "tempfail": 2420,
    "slow": 2421,
    "expired": 2422,
    "wrong_name": 2423,
    "closed": 2424,
}
SERVER_NAME = "broken.example.test"

MAIN_CF = """\
compatibility_level = 3.6
myhostname = broken.example.test
mydestination =
inet_interfaces = all
inet_protocols = ipv4
maillog_file = /var/log/postfix.log
smtpd_banner = $myhostname ESMTP
alias_maps =
alias_database =
local_recipient_maps =
mynetworks = 127.0.0.0/8 172.30.53.0/24
smtpd_relay_restrictions = permit_mynetworks, reject
# Whatever arrives (only test traffic) is accepted and thrown away.
default_transport = discard:continuity test sink
local_transport = discard:continuity test sink
relay_transport = discard:continuity test sink
smtpd_tls_security_level = may
smtpd_tls_cert_file = /etc/postfix/certs/good.crt
smtpd_tls_key_file = /etc/postfix/certs/good.key
"""

MASTER_CF = """
{ip}:25 inet n - n - - smtpd
{sink1}:25 inet n - n - - smtpd -o smtpd_delay_reject=no -o {{smtpd_client_restrictions=check_client_access cidr:/etc/postfix/gate.cidr}}
{sink2}:25 inet n - n - - smtpd -o smtpd_delay_reject=no -o {{smtpd_client_restrictions=check_client_access cidr:/etc/postfix/gate.cidr}}
{tempfail} inet n - n - - smtpd -o smtpd_delay_reject=no -o {{smtpd_client_restrictions=static:{{421 4.3.2 continuity test: try again later}}}}
{slow} inet n - n - - smtpd -o smtpd_delay_reject=no -o {{smtpd_client_restrictions=sleep 30, permit}}
{expired} inet n - n - - smtpd -o smtpd_tls_cert_file=/etc/postfix/certs/expired.crt -o smtpd_tls_key_file=/etc/postfix/certs/expired.key
{wrong_name} inet n - n - - smtpd -o smtpd_tls_cert_file=/etc/postfix/certs/wrong.crt -o smtpd_tls_key_file=/etc/postfix/certs/wrong.key
"""  # noqa: E501 (one master.cf service per line)

GATE_CLOSED = "0.0.0.0/0 421 4.3.2 continuity test gate closed\n"
GATE_OPEN = "0.0.0.0/0 OK\n"


def docker(*args, check=True, timeout=120, input_text=None):
    result = subprocess.run(
        ["docker"] + list(args),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        input=input_text,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            "docker %s failed: %s%s" % (" ".join(args), result.stdout, result.stderr)
        )
    return result


class BrokenLab:
    def __init__(self, workdir):
        self.workdir = workdir
        self.ip = IP
        self.blackhole_ip = BLACKHOLE_IP
        self.sink_ips = SINK_IPS
        self.ports = PORTS
        self.server_name = SERVER_NAME
        self.ca_path = os.path.join(workdir, "ca.crt")

    def sh(self, command, check=True, input_text=None):
        return docker("exec", "-i", NAME, "bash", "-c", command, check=check, input_text=input_text)

    def start(self):
        docker("rm", "-f", NAME, check=False)
        docker(
            "run",
            "-d",
            "--name",
            NAME,
            "--hostname",
            "broken",
            "--label",
            LAB_LABEL + "=broken",
            "--network",
            "continuity-lab",
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
            "--stop-signal",
            "SIGRTMIN+3",
            "continuity-lab:latest",
            "/lib/systemd/systemd",
        )
        wait_until(
            lambda: (
                self.sh("systemctl is-system-running", check=False).stdout.strip()
                in ("running", "degraded")
            ),
            timeout=90,
            what="systemd in " + NAME,
        )
        self._certificates()
        for extra in (BLACKHOLE_IP,) + SINK_IPS:
            self.sh("ip addr add %s/32 dev eth0" % extra)
        # SYNs to the blackholed address vanish: a sender sees nothing at all.
        self.sh("iptables -I INPUT -d %s -j DROP" % BLACKHOLE_IP)
        self.sh("cat > /etc/postfix/main.cf", input_text=MAIN_CF)
        master = MASTER_CF.format(ip=IP, sink1=SINK_IPS[0], sink2=SINK_IPS[1], **PORTS)
        # The stock smtp listener on *:25 would clash with the address-bound ones.
        self.sh(
            "sed '/^smtp      inet/d' /etc/postfix/master.cf.proto > /etc/postfix/master.cf && "
            "cat >> /etc/postfix/master.cf",
            input_text=master,
        )
        self.gate(open_=False, reload=False)
        self.sh("postfix check && systemctl start postfix")
        wait_until(
            lambda: (
                self.sh(
                    "ss -ltn | grep -c ':%d '" % PORTS["wrong_name"], check=False
                ).stdout.strip()
                == "1"
            ),
            timeout=30,
            what="Postfix listeners in " + NAME,
        )

    def _certificates(self):
        from pathlib import Path

        folder = Path(self.workdir)
        ca = make_ca("continuity health test CA")
        Path(self.ca_path).write_bytes(pem_cert(ca[1]))
        write_pair(folder, "good", *make_leaf(ca, [SERVER_NAME, IP]))
        write_pair(
            folder,
            "expired",
            *make_leaf(ca, [SERVER_NAME, IP], not_before_days=-400, not_after_days=-3),
        )
        write_pair(folder, "wrong", *make_leaf(ca, ["somewhere-else.example.net"]))
        self.sh("mkdir -p /etc/postfix/certs")
        for stem in ("good", "expired", "wrong"):
            for ext in ("crt", "key"):
                docker("cp", str(folder / (stem + "." + ext)), "%s:/etc/postfix/certs/" % NAME)
        self.sh("chmod 600 /etc/postfix/certs/*.key")

    def gate(self, open_, reload=True):
        self.sh("cat > /etc/postfix/gate.cidr", input_text=GATE_OPEN if open_ else GATE_CLOSED)
        if reload:
            self.sh("postfix reload")

    def delivered(self, message_id):
        """How many times the sink delivered (discarded) a message with this Message-ID."""
        log = self.sh("cat /var/log/postfix.log", check=False).stdout
        queue_ids = {
            line.split(": ")[1]
            for line in log.splitlines()
            if "message-id=%s" % message_id in line and "cleanup" in line
        }
        return sum(
            1
            for line in log.splitlines()
            if "status=sent" in line and any(": %s: " % q in line for q in queue_ids)
        )

    def stop(self):
        docker("rm", "-f", NAME, check=False)


@pytest.fixture(scope="module")
def broken(lab):
    workdir = tempfile.mkdtemp(prefix="continuity-broken-")
    endpoints = BrokenLab(workdir)
    try:
        endpoints.start()
        yield endpoints
    finally:
        endpoints.stop()


def _ansible_env():
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_FORCE_COLOR="0",
    )
    env["PATH"] = os.path.join(ROOT, ".venv", "bin") + os.pathsep + env.get("PATH", "")
    return env


def run_module(host, module, args, check=False, diff=False, timeout=300):
    """Run one module through `ansible` (real connection, real module) and return its result."""
    argv = ["ansible", host, "-m", module] + (["-a", json.dumps(args)] if args else [])
    argv += ["--check"] if check else []
    argv += ["--diff"] if diff else []
    proc = subprocess.run(
        argv,
        cwd=ROOT,
        env=_ansible_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    try:
        report = json.loads(proc.stdout)
        return report["plays"][0]["tasks"][0]["hosts"][host]
    except (ValueError, KeyError, IndexError):
        raise AssertionError(
            "ansible %s -m %s gave no result (rc=%d): %s %s"
            % (host, module, proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
        ) from None


def run_playbook(text_or_path, extra_vars=None, timeout=600, json_output=True):
    """Run a playbook (YAML text or a path/FQCN); returns (rc, stdout, stderr)."""
    target = text_or_path
    if "\n" in text_or_path:
        with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
            handle.write(textwrap.dedent(text_or_path))
        target = handle.name
    argv = ["ansible-playbook", target]
    if extra_vars:
        argv += ["-e", json.dumps(extra_vars)]
    env = _ansible_env()
    if not json_output:
        env.pop("ANSIBLE_STDOUT_CALLBACK")
    proc = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return proc.returncode, proc.stdout, proc.stderr


def task_results(stdout, task_name):
    """{host: result} of the named task from ansible.posix.json output."""
    report = json.loads(stdout)
    for play in report["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"] == task_name:
                return task["hosts"]
    raise AssertionError("task %r not in the playbook output" % task_name)
