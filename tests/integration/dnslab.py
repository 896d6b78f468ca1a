# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DNS side of the lab for the DNS modules' integration tests: two server implementations.

`bind`: ns1 (BIND primary) and ns2 (BIND secondary by NOTIFY/IXFR) serving the mail
domains. `knot`: ns3 (Knot DNS primary) serving zones of its own (roles/lab_knot). Modules
run through real `ansible` ad-hoc calls; checks and restores talk to the servers directly
with dnspython, independently of the code under test.
"""

import json
import os
import subprocess

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.update
import yaml

from labtools import ROOT, Lab

KNOT_DEFAULTS = os.path.join(ROOT, "roles", "lab_knot", "defaults", "main.yml")


class Backend:
    """One authoritative setup: where updates go, which zones, which servers serve them."""

    def __init__(self, name, lab, primary, zones, servers, secondary=None):
        self.name = name
        self.lab = lab
        self.primary = primary
        self.zones = zones
        self.servers = servers
        self.secondary = secondary
        self.key = dns.tsig.Key(
            lab.dns["key_name"], lab.dns["key_secret"], lab.dns.get("key_algorithm", "hmac-sha256")
        )

    def connection(self, **extra):
        args = dict(
            server=self.primary,
            key_name=self.lab.dns["key_name"],
            key_secret=self.lab.dns["key_secret"],
        )
        args.update(extra)
        return args

    def query(self, server, name, rdtype):
        """Sorted zone-file texts of one RRset as server serves it (empty if none)."""
        query = dns.message.make_query(name, rdtype)
        query.flags = 0
        answer = dns.query.tcp(query, server, timeout=5)
        rrset = answer.get_rrset(
            answer.answer, dns.name.from_text(name), 1, dns.rdatatype.from_text(rdtype)
        )
        return sorted(r.to_text() for r in rrset) if rrset else []

    def serial(self, server, zone):
        query = dns.message.make_query(zone, "SOA")
        query.flags = 0
        return dns.query.tcp(query, server, timeout=5).answer[0][0].serial

    def write(self, zone, edit):
        """Change the zone directly (another writer than the code under test)."""
        update = dns.update.UpdateMessage(dns.name.from_text(zone), keyring=self.key)
        edit(update)
        response = dns.query.tcp(update, self.primary, timeout=10)
        if response.rcode() != dns.rcode.NOERROR:
            raise AssertionError(
                "direct update of %s failed: %s" % (zone, dns.rcode.to_text(response.rcode()))
            )

    def restore(self, extra_names=()):
        """The lab state: MX 10 mx1, 20 mx2; mail CNAME mx1; test names removed."""
        for zone in self.zones:

            def edit(update, zone=zone):
                origin = dns.name.from_text(zone)
                update.replace(origin, 60, "MX", "10 mx1.%s." % zone, "20 mx2.%s." % zone)
                update.delete(dns.name.from_text("mail", origin), "A")
                update.replace(dns.name.from_text("mail", origin), 60, "CNAME", "mx1.%s." % zone)
                for label in extra_names:
                    update.delete(dns.name.from_text(label, origin))

            self.write(zone, edit)

    def is_restored(self, server):
        return all(
            self.query(server, zone + ".", "MX") == ["10 mx1.%s." % zone, "20 mx2.%s." % zone]
            and self.query(server, "mail.%s." % zone, "CNAME") == ["mx1.%s." % zone]
            for zone in self.zones
        )


def backends():
    lab = Lab()
    with open(KNOT_DEFAULTS, encoding="utf-8") as handle:
        knot_zones = yaml.safe_load(handle)["lab_knot_zones"]
    return {
        "bind": Backend(
            "bind",
            lab,
            lab.ip("ns1"),
            list(lab.domains),
            [lab.ip("ns1"), lab.ip("ns2")],
            secondary="ns2",
        ),
        "knot": Backend("knot", lab, lab.ip("ns3"), knot_zones, [lab.ip("ns3")]),
    }


def run_module(module, args, check=False, diff=False):
    """Run continuity.mail.<module> with ansible on localhost; returns its result dict."""
    command = ["ansible", "localhost", "-m", "continuity.mail." + module, "-a", json.dumps(args)]
    if check:
        command.append("--check")
    if diff:
        command.append("--diff")
    env = dict(
        os.environ,
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
    )
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    try:
        output = json.loads(done.stdout)
    except ValueError:
        raise AssertionError(
            "ansible printed no JSON (rc %d): %s %s" % (done.returncode, done.stdout, done.stderr)
        ) from None
    return output["plays"][0]["tasks"][0]["hosts"]["localhost"]


def stop_named(lab, host):
    lab.exec(host, "systemctl stop named")


def start_named(lab, host):
    lab.exec(
        host,
        "systemctl start named && for i in $(seq 50); do rndc status >/dev/null 2>&1 && exit 0; "
        "sleep 0.2; done; exit 1",
    )
