# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for integration tests against the running lab (real containers, no mocks)."""

import os
import subprocess
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INVENTORY = os.path.join(ROOT, "inventories", "lab")
LAB_LABEL = "continuity.mail.lab"
# The lab's state (CA included) belongs to the machine's lab, not to this checkout.
STATE_DIR = os.environ.get("CONTINUITY_LAB_STATE", "/var/lib/continuity-lab")
CA_CERT = os.path.join(STATE_DIR, "pki", "ca.crt")


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
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input_text,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                "%s: %r failed (%d): %s%s"
                % (host, command, result.returncode, result.stdout, result.stderr)
            )
        return result

    def running(self):
        out = subprocess.run(
            ["docker", "ps", "--filter", "label=" + LAB_LABEL, "--format", "{{.Names}}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
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


def imap_search(lab, host, user, subject_token, delete=False):
    """Count messages in user's INBOX on a lab mail host whose Subject holds the token.

    Logs in over IMAP with STARTTLS, verifying the server certificate against the lab CA
    (connecting by address, verifying the name mail.<domain> the certificate covers).
    """
    import imaplib
    import ssl

    context = ssl.create_default_context(cafile=lab.ca_cert)
    domain = user.split("@", 1)[1]
    client = imaplib.IMAP4(lab.ip(host), 143, timeout=10)
    try:
        # imaplib verifies against the host it connected to; check the name explicitly.
        context.check_hostname = False
        client.starttls(ssl_context=context)
        cert = client.sock.getpeercert()
        names = [value for kind, value in cert.get("subjectAltName", ()) if kind == "DNS"]
        assert "mail." + domain in names, "certificate of %s does not cover mail.%s" % (
            host,
            domain,
        )
        client.login(user, lab.users[user])
        client.select("INBOX")
        status, data = client.search(None, "SUBJECT", '"%s"' % subject_token)
        assert status == "OK", data
        ids = data[0].split()
        if delete and ids:
            for msg_id in ids:
                client.store(msg_id, "+FLAGS", "\\Deleted")
            client.expunge()
        return len(ids)
    finally:
        try:
            client.logout()
        except Exception:  # pylint: disable=broad-except
            pass


def swaks(lab, to, server=None, subject="continuity test", extra="", host="sender"):
    """Send one message with swaks from a lab host; returns the CompletedProcess (no check)."""
    target = "--server %s" % server if server else "--server 127.0.0.1"
    command = "swaks --to %s --from probe@example.net %s --header 'Subject: %s' %s" % (
        to,
        target,
        subject,
        extra,
    )
    return lab.exec(host, command, check=False)
