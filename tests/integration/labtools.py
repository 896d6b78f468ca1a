"""Helpers for integration tests against the running lab (real containers, no mocks)."""
import os
import subprocess
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INVENTORY = os.path.join(ROOT, "inventories", "lab")
LAB_LABEL = "continuity.mail.lab"
CA_CERT = os.path.join(ROOT, ".lab", "pki", "ca.crt")


def _load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


class Lab:
    """What a test needs to know about the lab, read from inventories/lab (one source of truth)."""

    def __init__(self):
        hosts = _load(os.path.join(INVENTORY, "hosts.yml"))["all"]["children"]["lab"]["hosts"]
        self.ips = {name: data["lab_ip"] for name, data in hosts.items()}
        group_vars = {}
        folder = os.path.join(INVENTORY, "group_vars", "all")
        for name in sorted(os.listdir(folder)):
            group_vars.update(_load(os.path.join(folder, name)))
        self.vars = group_vars
        self.dns = group_vars["continuity_dns"]
        self.domains = group_vars["continuity_domains"]
        self.users = {u["name"]: u["password"] for u in group_vars["continuity_mail_users"]}
        self.ca_cert = CA_CERT

    @staticmethod
    def container(host):
        return "continuity-lab-" + host

    def ip(self, host):
        return self.ips[host]

    def exec(self, host, command, check=True, timeout=120, input_text=None):
        """Run a shell command inside a lab container; returns CompletedProcess."""
        result = subprocess.run(
            ["docker", "exec", "-i", self.container(host), "bash", "-c", command],
            capture_output=True, text=True, timeout=timeout, input=input_text, check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError("%s: %r failed (%d): %s%s" % (
                host, command, result.returncode, result.stdout, result.stderr))
        return result

    def running(self):
        out = subprocess.run(
            ["docker", "ps", "--filter", "label=" + LAB_LABEL, "--format", "{{.Names}}"],
            capture_output=True, text=True, timeout=30, check=False,
        ).stdout.split()
        return all(self.container(host) in out for host in self.ips)


def wait_until(predicate, timeout=60, interval=1.0, what="condition"):
    """Poll predicate() until it returns a truthy value; raise AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s (last: %r)" % (timeout, what, last))
