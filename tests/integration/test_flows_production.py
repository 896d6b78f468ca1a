# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Failover and failback driven by an inventory shaped like inventories/example, on the lab.

The inventory is written by the test: the groups of inventories/example only (primary,
secondary, dns, probes - no `lab` or `senders` group, no lab_* variable), its secrets in an
ansible-vault encrypted file (TSIG key, doveadm password, the canary's IMAP password), and the
canary on its production default path: SMTP with verified STARTTLS straight to the new active
server's MX name, read back over IMAP there. It points at the lab's containers.

One cycle, in order (each step leans on the one before; the module fixture puts the lab back
to normal whatever happens):

1. a forced failover completes, canary confirmed on mx2, the site state written;
2. a converge of the mailserver role on the fenced primary keeps it fenced and says so;
3. a failback whose secondary Ansible cannot reach (its mail still flows) stops, names it,
   releases the lock and changes nothing;
4. a failback with the same inventory completes: the outage window read from the state record,
   the canary confirmed on mx1 over STARTTLS, the fence lifted, the state written.
"""

import json
import os
import subprocess
import uuid

import pytest
import yaml

from flows_lab import ansible_env, playbook
from labtools import CA_CERT, ROOT, wait_until
from site_records import LOCK, accepts_smtp, state_record

RUN = uuid.uuid4().hex[:8]


def _write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(data, handle, default_flow_style=False, sort_keys=False)


def write_inventory(lab, folder):
    """inventories/example's shape, pointed at the lab containers; returns (inventory, vault
    password file)."""

    def mail_host(name, **extra):
        return dict(
            ansible_connection="community.docker.docker",
            ansible_host=lab.container(name),
            ansible_python_interpreter="/usr/bin/python3",
            # Where the control node reaches it (production: the name resolves).
            continuity_mail_address=lab.ip(name),
            mailserver_hostname="%s.example.test" % name,
            **extra,
        )

    inventory = os.path.join(folder, "site")
    _write(
        os.path.join(inventory, "hosts.yml"),
        {
            "all": {
                "hosts": {
                    "localhost": {
                        "ansible_connection": "local",
                        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                        # The site's own CA (the lab's): the control node's probes and canaries.
                        "continuity_probe_ca_path": CA_CERT,
                    }
                },
                "children": {
                    "primary": {"hosts": {"mx1": mail_host("mx1")}},
                    "secondary": {
                        "hosts": {
                            "mx2": mail_host("mx2", secondary_primary_host="mx1.example.test")
                        }
                    },
                    "dns": {"hosts": {"ns1": {}, "ns2": {}}},
                    "probes": {"hosts": {"localhost": {}}},
                },
            }
        },
    )
    dns = lab.dns
    _write(
        os.path.join(inventory, "group_vars", "all", "site.yml"),
        {
            "continuity_site": "lab",
            "continuity_domains": list(lab.domains),
            "continuity_dns": {
                "server": dns["server"],
                "port": 53,
                "protocol": "tcp",
                "key_name": dns["key_name"],
                "key_algorithm": dns["key_algorithm"],
                "key_secret": "{{ vault_continuity_tsig_secret }}",
                "servers": list(dns["servers"]),
            },
            "continuity_client_names": list(lab.vars["continuity_client_names"]),
            # The lab's TTL, so the zones end as the lab keeps them.
            "continuity_mx_ttl": lab.vars["continuity_mx_ttl"],
            "continuity_rto_target": 600,
            "continuity_canary_user": "canary@example.test",
            "continuity_canary_password": "{{ vault_continuity_canary_password }}",
        },
    )
    _write(
        os.path.join(inventory, "group_vars", "all", "mail.yml"),
        {
            "mailserver_domains": "{{ continuity_domains }}",
            "mailserver_doveadm_password": "{{ vault_continuity_doveadm_password }}",
            "continuity_mail_users": "{{ vault_continuity_mail_users }}",
            "mailserver_users": "{{ continuity_mail_users }}",
        },
    )
    vault = os.path.join(inventory, "group_vars", "all", "vault.yml")
    _write(
        vault,
        {
            "vault_continuity_tsig_secret": dns["key_secret"],
            "vault_continuity_doveadm_password": lab.vars["continuity_doveadm_password"],
            "vault_continuity_canary_password": lab.users["canary@example.test"],
            # Hashes only, as in production: the canary cannot come from this list.
            "vault_continuity_mail_users": [
                {"name": name, "password_hash": "{SHA512-CRYPT}$6$not-used-by-the-flows"}
                for name in sorted(lab.users)
            ],
        },
    )
    secret = os.path.join(folder, "vault-pass")
    with open(secret, "w", encoding="utf-8") as handle:
        handle.write("continuity-test-%s\n" % RUN)
    subprocess.run(
        ["ansible-vault", "encrypt", "--vault-password-file", secret, vault],
        cwd=ROOT,
        env=ansible_env(json_output=False),
        check=True,
        capture_output=True,
        timeout=120,
    )
    with open(vault, encoding="utf-8") as handle:
        assert handle.read().startswith("$ANSIBLE_VAULT;"), "the vault file is not encrypted"
    return inventory, secret


def run(path, inventories, vault=None, extra_vars=None, timeout=900):
    return playbook(path, extra_vars, timeout=timeout, inventories=inventories, vault=vault)


def task_results(result, name, host="localhost"):
    """Results on `host` of the tasks whose name contains `name` (role tasks are prefixed)."""
    found = []
    for play in (result.report or {}).get("plays", []):
        for task in play["tasks"]:
            if name in task["task"]["name"] and host in task["hosts"]:
                found.append(task["hosts"][host])
    return found


def preferred(lab, server, domain):
    answer = lab.exec("sender", "dig +short MX %s @%s" % (domain, lab.ip(server))).stdout
    records = sorted(
        (int(line.split()[0]), line.split()[1]) for line in answer.splitlines() if line.strip()
    )
    return records[0][1] if records else None


def lock_record(lab):
    return [
        lab.exec("sender", "dig +short TXT %s @%s" % (LOCK, lab.ip(server))).stdout.strip()
        for server in ("ns1", "ns2")
    ]


def fence_state(lab):
    return (
        lab.exec("mx1", "postconf -h master_service_disable").stdout.strip(),
        lab.exec("mx1", "test -e /var/lib/continuity-mail/fenced", check=False).returncode == 0,
    )


def run_report(site, run_id, flow):
    """The report a flow wrote for run `run_id`, from the reports folder the tests chose."""
    with open(
        os.path.join(site["reports"], "runs", "%s-%s.json" % (run_id, flow)), encoding="utf-8"
    ) as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def site(lab, tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("example-shaped"))
    inventory, vault = write_inventory(lab, folder)
    data = {
        "inventory": inventory,
        "vault": vault,
        "reports": os.path.join(folder, "reports"),
        "steps": [],
    }
    yield data
    # Back to the lab's normal state, whatever step failed: the lab's own failback.
    if "failed back" not in data["steps"]:
        back = run("playbooks/failback.yml", [os.path.join(ROOT, "inventories", "lab")])
        assert back.rc == 0, back.describe()
    assert all(preferred(lab, "ns1", d) == "mx1.%s." % d for d in lab.domains)
    assert lab.exec("mx2", "cat /etc/postfix/continuity-mode").stdout.strip() == "relay"
    assert fence_state(lab) == ("", False)
    # The release is made on ns1; ns2 follows by NOTIFY and zone transfer a moment later.
    wait_until(lambda: lock_record(lab) == ["", ""], timeout=60, what="no lock on ns1 and ns2")


def test_failover_with_an_example_shaped_inventory(lab, site):
    result = run(
        "playbooks/failover.yml",
        [site["inventory"]],
        vault=site["vault"],
        extra_vars={
            "force": True,
            "continuity_run_id": "prodshape-fo-" + RUN,
            "continuity_reports_dir": site["reports"],
        },
    )
    assert result.rc == 0, result.describe()
    site["steps"].append("failed over")

    canary = task_results(result, "Send a canary")
    assert canary and canary[0]["delivered"] is True, canary
    assert canary[0]["held_by"] == "mx2"
    # The production path: straight to mx2's MX name, with STARTTLS (certificate verified).
    assert canary[0]["path"] == "direct"
    assert canary[0]["smtp"]["host"] == lab.ip("mx2") and canary[0]["smtp"]["tls"] is True

    for server in ("ns1", "ns2"):
        for domain in lab.domains:
            assert preferred(lab, server, domain) == "mx2.%s." % domain
    assert lab.exec("mx2", "cat /etc/postfix/continuity-mode").stdout.strip() == "active"
    assert fence_state(lab) == ("inet", True)
    state = state_record(lab.ip("ns1"))
    assert state["state"] == "failed_over" and state["run_id"] == "prodshape-fo-" + RUN
    # The release is made on ns1; ns2 follows by NOTIFY and zone transfer a moment later.
    wait_until(lambda: lock_record(lab) == ["", ""], timeout=60, what="no lock on ns1 and ns2")

    report = run_report(site, "prodshape-fo-" + RUN, "failover")
    assert report["outcome"] == "completed" and report["error"] is None, report
    assert report["decision"]["case"] == "forced" and report["details"]["forced"] is True
    assert report["canary"]["delivered"] is True and report["canary"]["held_by"] == "mx2"
    assert report["target"] == "mx2" and report["primary"] == "mx1"
    names = [step["name"] for step in report["steps"]]
    assert names[0] == "failover started" and "canary readable on the secondary" in names
    assert [s["after_s"] for s in report["steps"]] == sorted(s["after_s"] for s in report["steps"])


def test_mailserver_converge_keeps_the_primary_fenced(lab, site):
    assert "failed over" in site["steps"]
    result = run(
        "tests/integration/playbooks/mailserver_converge.yml",
        [os.path.join(ROOT, "inventories", "lab")],
    )
    assert result.rc == 0, result.describe()
    said = task_results(result, "Say that this server stays fenced", host="mx1")
    assert said and "FENCED" in said[0]["msg"], said
    assert fence_state(lab) == ("inet", True)
    assert not accepts_smtp(lab.ip("mx1")), "mx1 accepts SMTP: the converge lifted the fence"


def unreachable_copy(inventory, folder, host):
    """A copy of the inventory in which Ansible cannot reach `host` (SSH to a closed port on
    loopback) while its mail services keep running: a secondary whose management path died."""
    copy = os.path.join(folder, "site-%s-unreachable" % host)
    subprocess.run(["cp", "-r", inventory, copy], check=True)
    hosts_file = os.path.join(copy, "hosts.yml")
    with open(hosts_file, encoding="utf-8") as handle:
        hosts = yaml.safe_load(handle)
    for group in hosts["all"]["children"].values():
        if host in group.get("hosts", {}):
            group["hosts"][host].update(
                ansible_connection="ssh",
                ansible_host="127.0.0.1",
                ansible_port=9,
                ansible_ssh_common_args="-o ConnectTimeout=3 -o BatchMode=yes",
            )
    _write(hosts_file, hosts)
    return copy


def test_failback_with_the_secondary_unreachable_changes_nothing(lab, site, tmp_path):
    assert "failed over" in site["steps"]
    inventory = unreachable_copy(site["inventory"], str(tmp_path), "mx2")
    result = run(
        "playbooks/failback.yml",
        [inventory],
        vault=site["vault"],
        extra_vars={
            "continuity_run_id": "prodshape-fb-unreachable-" + RUN,
            "continuity_reports_dir": site["reports"],
        },
    )
    assert result.rc != 0, result.describe()
    assert any("mx2" in m and "cannot be reached" in m for m in result.messages()), (
        result.messages()
    )
    # DNS still prefers mx2, which accepts mail; the primary stays fenced; no lock is left.
    for server in ("ns1", "ns2"):
        for domain in lab.domains:
            assert preferred(lab, server, domain) == "mx2.%s." % domain
    assert accepts_smtp(lab.ip("mx2")), "mx2 does not accept SMTP"
    assert fence_state(lab) == ("inet", True)
    assert lab.exec("mx2", "cat /etc/postfix/continuity-mode").stdout.strip() == "active"
    assert state_record(lab.ip("ns1"))["state"] == "failed_over"
    wait_until(lambda: lock_record(lab) == ["", ""], timeout=60, what="no lock on ns1 and ns2")
    report = run_report(site, "prodshape-fb-unreachable-" + RUN, "failback")
    assert report["outcome"] == "failed" and "mx2" in report["error"], report


def test_failback_with_an_example_shaped_inventory(lab, site):
    assert "failed over" in site["steps"]
    result = run(
        "playbooks/failback.yml",
        [site["inventory"]],
        vault=site["vault"],
        extra_vars={
            "continuity_run_id": "prodshape-fb-" + RUN,
            "continuity_reports_dir": site["reports"],
        },
    )
    assert result.rc == 0, result.describe()
    site["steps"].append("failed back")

    # The window came from the state record the failover wrote, not a guess.
    said = task_results(result, "Say what will happen")
    assert said and "recorded by the failover run prodshape-fo-" + RUN in said[0]["msg"], said
    canary = task_results(result, "Send a canary")
    assert canary and canary[0]["delivered"] is True and canary[0]["held_by"] == "mx1", canary
    assert canary[0]["path"] == "direct" and canary[0]["smtp"]["tls"] is True
    for server in ("ns1", "ns2"):
        for domain in lab.domains:
            assert preferred(lab, server, domain) == "mx1.%s." % domain
    assert fence_state(lab) == ("", False)
    assert accepts_smtp(lab.ip("mx1")), "mx1 does not accept SMTP after the failback"
    state = state_record(lab.ip("ns1"))
    assert state["state"] == "normal" and state["run_id"] == "prodshape-fb-" + RUN
    report = run_report(site, "prodshape-fb-" + RUN, "failback")
    assert report["outcome"] == "completed" and report["error"] is None, report
    assert report["canary"]["delivered"] is True and report["canary"]["held_by"] == "mx1"
    assert report["details"]["outage_since_recorded"] is True
    assert report["details"]["reconcile"]["ok"] is True, report["details"]
    assert "final sync and queue flush done" in [step["name"] for step in report["steps"]]
