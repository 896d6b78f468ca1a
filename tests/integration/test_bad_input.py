# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input: every module and every flow refuses it with a message naming the bad option,
and nothing changes in the lab.

The module cases run as one real ansible-playbook (argument_spec validation and all), one
task per case; the mail-host modules run on mx2 as they would in a flow. The flow cases run
the shipped playbooks with bad extra-vars. Afterwards the zones' serials on ns1 and ns2, the
site lock, mx2's mode and mx1's fence are what they were before.
"""

import json
import os
import subprocess

import pytest
import yaml

from dnslab import backends
from flows_lab import ansible_env, playbook
from labtools import ROOT, Lab

LAB = Lab()
DNS = dict(server=LAB.dns["server"], key_name=LAB.dns["key_name"], key_secret=LAB.dns["key_secret"])
RRSET = dict(name="_continuity-itest-bad.example.test", type="TXT", values=['"x"'])
MX = dict(DNS, domains=list(LAB.domains), active="mx2", client_names=["mail"])
TARGET = dict(host=LAB.ip("mx1"), protocol="smtp")
CANARY = dict(
    smtp_host=LAB.ip("mx2"),
    to="canary@example.test",
    imap_password=LAB.users["canary@example.test"],
    servers=[dict(host=LAB.ip("mx2"))],
)
PREFLIGHT = dict(domains=list(LAB.domains), primary=["mx1"], secondary=["mx2"])
SYNC = dict(destination="tcp:%s:12345" % LAB.ip("mx1"), doveadm_password="x")

# (case id, where the module runs, module, arguments, words the message must hold)
MODULE_CASES = [
    ("rrsets-malformed-tsig-secret", "localhost", "dns_rrsets",
     dict(DNS, key_secret="not*base64", rrsets=[RRSET]), ["key_secret", "base64"]),
    ("rrsets-half-a-key", "localhost", "dns_rrsets",
     dict(server=DNS["server"], key_name="continuity-lab", rrsets=[RRSET]), ["key_secret"]),
    ("rrsets-port-out-of-range", "localhost", "dns_rrsets",
     dict(DNS, port=70000, rrsets=[RRSET]), ["port"]),
    ("rrsets-negative-timeout", "localhost", "dns_rrsets",
     dict(DNS, timeout=-1, rrsets=[RRSET]), ["timeout"]),
    ("rrsets-negative-wait-timeout", "localhost", "dns_rrsets",
     dict(DNS, wait=True, wait_timeout=-5, rrsets=[RRSET]), ["wait_timeout"]),
    ("rrsets-unmanaged-type", "localhost", "dns_rrsets",
     dict(DNS, rrsets=[dict(RRSET, type="SOA")]), ["rrsets[0]", "SOA"]),
    ("rrsets-unknown-protocol", "localhost", "dns_rrsets",
     dict(DNS, protocol="sctp", rrsets=[RRSET]), ["protocol"]),
    ("rrsets-unknown-tsig-algorithm", "localhost", "dns_rrsets",
     dict(DNS, key_algorithm="hmac-sha3", rrsets=[RRSET]), ["key_algorithm"]),
    ("rrsets-wait-as-a-string", "localhost", "dns_rrsets",
     dict(DNS, wait="maybe", rrsets=[RRSET]), ["wait"]),
    ("mx-empty-domain-list", "localhost", "mx_switch",
     dict(MX, domains=[]), ["domains"]),
    ("mx-unknown-domain", "localhost", "mx_switch",
     dict(MX, domains=["no-such-domain.invalid"]), ["no-such-domain.invalid"]),
    ("mx-empty-active", "localhost", "mx_switch",
     dict(MX, active=""), ["active"]),
    ("mx-bad-wait-server", "localhost", "mx_switch",
     dict(MX, wait=True, wait_servers=["not a server!"]), ["wait_servers[0]"]),
    ("mx-unknown-client-type", "localhost", "mx_switch",
     dict(MX, client_type="bogus"), ["client_type"]),
    ("lock-unknown-action", "localhost", "site_lock",
     dict(DNS, name="_continuity-lock.example.test", action="grab"), ["action"]),
    ("state-unknown-state-to-write", "localhost", "site_state",
     dict(DNS, name="_continuity-state.example.test",
          write=dict(state="sideways", active="mx2", run_id="bad-input")), ["state"]),
    ("state-bad-server", "localhost", "site_state",
     dict(DNS, name="_continuity-state.example.test", servers=["not a server!"]),
     ["servers[0]"]),
    ("health-no-attempts", "localhost", "mail_health",
     dict(targets=[TARGET], attempts=0), ["attempts"]),
    ("health-negative-timeout", "localhost", "mail_health",
     dict(targets=[TARGET], timeout=-1), ["timeout"]),
    ("health-unknown-protocol", "localhost", "mail_health",
     dict(targets=[dict(TARGET, protocol="gopher")]), ["protocol"]),
    ("canary-zero-timeout", "localhost", "mail_canary",
     dict(CANARY, timeout=0), ["timeout"]),
    ("canary-recipient-not-an-address", "localhost", "mail_canary",
     dict(CANARY, to="not-an-address"), ["to"]),
    ("canary-delete-as-a-string", "localhost", "mail_canary",
     dict(CANARY, delete="sometimes"), ["delete"]),
    ("canary-port-zero", "localhost", "mail_canary",
     dict(CANARY, smtp_port=0), ["smtp_port"]),
    ("preflight-empty-domain-list", "localhost", "continuity_preflight",
     dict(PREFLIGHT, domains=[]), ["domains"]),
    ("preflight-negative-rto", "localhost", "continuity_preflight",
     dict(PREFLIGHT, rto_target=-5), ["rto_target"]),
    ("preflight-dkim-selector-for-another-domain", "localhost", "continuity_preflight",
     dict(PREFLIGHT, dkim_selectors={"other.test": "s1"}), ["dkim_selectors", "other.test"]),
    ("preflight-dkim-selector-with-a-space", "localhost", "continuity_preflight",
     dict(PREFLIGHT, dkim_selectors={"example.test": ["s 1"]}), ["dkim_selectors"]),
    ("queue-flush-domain-without-domain", "mx2", "mail_queue",
     dict(action="flush_domain"), ["domain"]),
    ("queue-unknown-queue", "mx2", "mail_queue",
     dict(queues=["bogus"]), ["queues"]),
    ("sync-all-and-named-users", "mx2", "mailbox_sync",
     dict(SYNC, users=["all", "alice@example.test"]), ["users"]),
    ("sync-no-parallelism", "mx2", "mailbox_sync",
     dict(SYNC, parallel=0), ["parallel"]),
    ("sync-conflicting-transport-options", "mx2", "mailbox_sync",
     dict(SYNC, destination="ssh:%s" % LAB.ip("mx1"), transport="ssh"), ["doveadm_password"]),
    ("sync-negative-timeout", "mx2", "mailbox_sync",
     dict(SYNC, timeout=-1), ["timeout"]),
    ("messages-no-users", "mx2", "mailbox_messages",
     dict(users=[]), ["users"]),
    ("messages-empty-query", "mx2", "mailbox_messages",
     dict(query=[]), ["query"]),
]  # fmt: skip

# (case id, playbook, extra-vars, words the message must hold)
FLOW_CASES = [
    ("failover-force-as-a-string", "failover", dict(force="maybe"), ["force", "maybe"]),
    ("failover-target-not-a-secondary", "failover", dict(continuity_failover_to="ns1"),
     ["continuity_failover_to", "ns1"]),
    ("failover-empty-domain-list", "failover", dict(continuity_domains=[]),
     ["continuity_domains"]),
    ("failover-malformed-tsig-secret", "failover",
     dict(continuity_dns=dict(LAB.dns, key_secret="not*base64")), ["continuity_dns.key_secret"]),
    ("failback-negative-timeout", "failback", dict(continuity_probe_timeout=-1),
     ["continuity_probe_timeout"]),
    ("failback-zero-ttl", "failback", dict(continuity_mx_ttl=0), ["continuity_mx_ttl"]),
    ("drill-unknown-mode", "drill", dict(mode="chaos"), ["mode"]),
    ("drill-unknown-outage", "drill", dict(mode="full", outage="flood"), ["outage"]),
]  # fmt: skip


def site_snapshot(lab):
    """What bad input must not change: zone serials everywhere, lock, mode, fence."""
    bind = backends()["bind"]
    return dict(
        serials={
            (server, zone): bind.serial(server, zone)
            for server in bind.servers
            for zone in bind.zones
        },
        lock=bind.query(bind.primary, "_continuity-lock.%s." % lab.domains[0], "TXT"),
        mode=lab.exec("mx2", "cat /etc/postfix/continuity-mode").stdout.strip(),
        fence=lab.exec("mx1", "postconf -h master_service_disable").stdout.strip(),
    )


@pytest.fixture(scope="module")
def unchanged(lab):
    before = site_snapshot(lab)
    yield before
    assert site_snapshot(lab) == before, "bad input changed the site"


@pytest.fixture(scope="module")
def module_results(unchanged, tmp_path_factory):
    """Run every module case as one task of one playbook; results by case id."""
    tasks = []
    for case, where, module, args, _words in MODULE_CASES:
        task = {"name": case, "continuity.mail." + module: args, "ignore_errors": True}
        if where != "localhost":
            task["delegate_to"] = where
        tasks.append(task)
    path = tmp_path_factory.mktemp("bad_input") / "modules.yml"
    play = {"name": "Bad input", "hosts": "localhost", "gather_facts": False, "tasks": tasks}
    path.write_text(yaml.safe_dump([play], sort_keys=False))
    proc = subprocess.run(
        ["ansible-playbook", str(path)],
        cwd=ROOT,
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(
            "no JSON from ansible-playbook: %s %s" % (proc.stdout, proc.stderr)
        ) from None
    return {
        task["task"]["name"]: task["hosts"]["localhost"] for task in report["plays"][0]["tasks"]
    }


def test_there_are_at_least_25_cases():
    assert len(MODULE_CASES) + len(FLOW_CASES) >= 25
    assert len({case[0] for case in MODULE_CASES + FLOW_CASES}) == len(MODULE_CASES + FLOW_CASES)
    modules = {name[:-3] for name in os.listdir(os.path.join(ROOT, "plugins", "modules"))}
    modules.discard("__init__")
    assert modules <= {case[2] for case in MODULE_CASES}, "a module without a bad-input case"


@pytest.mark.parametrize(
    "case, words", [(c[0], c[4]) for c in MODULE_CASES], ids=[c[0] for c in MODULE_CASES]
)
def test_module_refuses_bad_input_naming_the_option(module_results, case, words):
    result = module_results[case]
    assert result.get("failed") is True, result
    assert result.get("changed") is not True, result
    for word in words:
        assert word in result["msg"], result["msg"]


@pytest.mark.parametrize("case, flow, extra, words", FLOW_CASES, ids=[c[0] for c in FLOW_CASES])
def test_flow_refuses_bad_extra_vars_naming_the_option(unchanged, case, flow, extra, words):
    run = playbook(os.path.join("playbooks", flow + ".yml"), extra_vars=extra, timeout=300)
    assert run.rc != 0, run.describe()
    messages = " ".join(run.messages())
    for word in words:
        assert word in messages, run.describe()
    # it stopped before touching anything: no task changed anything on any host
    assert all(stats["changed"] == 0 for stats in run.report["stats"].values()), run.describe()
