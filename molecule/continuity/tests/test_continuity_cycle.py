# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The product, end to end: real outages, real traffic, failover and failback in the lab.

Each test runs the collection's playbooks exactly as an operator would (ansible-playbook
with the lab inventory) and then checks the result on the servers themselves - IMAP and
doveadm on mx1, dig against ns1 and ns2, Postfix on mx2 - not only the playbook's report.
"""

import collections
import json
import os
import re
import subprocess
import sys
import uuid

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from labtools import Lab, wait_until  # noqa: E402  pylint: disable=wrong-import-position

# Each full cycle costs about five minutes of CI. `make test` runs the two kinds that differ most
# (refused, a silent blackhole); CONTINUITY_OUTAGES=refused,blackhole,tempfail runs all three.
OUTAGES = os.environ.get("CONTINUITY_OUTAGES", "refused,blackhole").split(",")
RECAP = re.compile(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


@pytest.fixture(scope="module")
def lab():
    lab = Lab()
    assert lab.running(), "the lab is not running (molecule converge builds it)"
    return lab


def playbook(name, *extra, timeout=1500):
    env = dict(
        os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_FORCE_COLOR="0"
    )
    env["PATH"] = os.path.join(ROOT, ".venv", "bin") + os.pathsep + env.get("PATH", "")
    result = subprocess.run(
        ["ansible-playbook", os.path.join("playbooks", name + ".yml")] + list(extra),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    result.recap = {host: int(changed) for host, changed, _, _ in RECAP.findall(result.stdout)}
    return result


def tail(result, lines=60):
    return "\n".join((result.stdout + result.stderr).splitlines()[-lines:])


def preferred_mx(lab, server, domain):
    answer = lab.exec("sender", "dig +short MX %s @%s" % (domain, lab.ip(server))).stdout.split(
        "\n"
    )
    records = sorted((int(line.split()[0]), line.split()[1]) for line in answer if line.strip())
    return records[0][1] if records else None


def assert_normal_state(lab):
    """Both name servers prefer mx1, mx2 relays, mx1 is not fenced, no lock is left."""
    for server in ("ns1", "ns2"):
        for domain in lab.domains:
            assert preferred_mx(lab, server, domain) == "mx1.%s." % domain, (server, domain)
        # The lock lives on the primary name server (ns1), where every UPDATE goes; the
        # release reaches ns2 by NOTIFY and zone transfer, a moment after the run ends.
        wait_until(
            lambda server=server: (
                lab.exec(
                    "sender",
                    "dig +short TXT _continuity-lock.%s @%s" % (lab.domains[0], lab.ip(server)),
                ).stdout.strip()
                == ""
            ),
            timeout=60,
            what="no site lock on %s" % server,
        )
    assert lab.exec("mx2", "cat /etc/postfix/continuity-mode").stdout.strip() == "relay"
    assert sorted(lab.exec("mx2", "postconf -h relay_domains").stdout.split()) == sorted(
        lab.domains
    )
    assert lab.exec("mx1", "postconf -h master_service_disable").stdout.strip() == ""
    assert lab.exec("mx2", "postqueue -j").stdout.strip() == "", "mail left in mx2's queue"


def lab_secrets(lab):
    """Every secret the flows handle in the lab: TSIG key, doveadm password, every user's
    password (the canary's among them)."""
    found = {"TSIG secret": lab.dns["key_secret"]}
    found["doveadm password"] = lab.vars["continuity_doveadm_password"]
    found.update(("password of %s" % name, value) for name, value in lab.users.items())
    return found


def leaked(lab, texts):
    return sorted(
        name for name, value in lab_secrets(lab).items() if any(value in t for t in texts)
    )


@pytest.mark.parametrize("kind", OUTAGES)
def test_full_cycle_loses_and_duplicates_nothing(lab, kind, tmp_path):
    run_id = "test-%s-%s" % (kind, uuid.uuid4().hex[:8])
    # The first kind runs at -vvv: its failover, failback and drill report must not show a
    # secret anywhere (output, reports), however verbose the run.
    verbose = ["-vvv"] if kind == OUTAGES[0] else []
    result = playbook(
        "drill",
        *verbose,
        "-e",
        "mode=full",
        "-e",
        "outage=" + kind,
        "-e",
        "drill_run_id=" + run_id,
        "-e",
        "drill_reports_dir=" + str(tmp_path),
    )
    assert result.returncode == 0, tail(result)

    # What the sender's MTA accepted (its own log), independent of the playbook's bookkeeping.
    sent = [
        json.loads(line)
        for line in lab.exec(
            "sender", "cat /var/tmp/continuity-drill-%s.jsonl" % run_id
        ).stdout.splitlines()
        if line.strip()
    ]
    assert len(sent) >= 100
    listing = lab.exec(
        "mx1",
        "doveadm -f tab fetch -A 'user hdr.message-id' mailbox '*' HEADER X-Continuity-Drill %s"
        % run_id,
    ).stdout.splitlines()[1:]
    on_mx1 = collections.Counter(
        (row.split("\t")[1].lower(), row.split("\t")[2]) for row in listing
    )
    expected = collections.Counter((m["to"].lower(), m["message_id"]) for m in sent)
    assert on_mx1 == expected, {
        "lost": sorted(set(expected) - set(on_mx1))[:10],
        "duplicated": [key for key, count in on_mx1.items() if count > 1][:10],
        "unexpected": sorted(set(on_mx1) - set(expected))[:10],
    }

    reports = [os.path.join(tmp_path, d) for d in os.listdir(tmp_path)]
    assert len(reports) == 1
    with open(os.path.join(reports[0], "report.json"), encoding="utf-8") as handle:
        report = json.load(handle)
    assert report["outage_kind"] == kind and report["passed"] is True
    assert report["messages"] == {
        "sent": len(sent),
        "received": len(sent),
        "lost": 0,
        "duplicated": 0,
    }
    assert report["rto_s"] is not None and float(report["rto_s"]) > 0
    for name in ("junit.xml", "report.html"):
        assert os.path.getsize(os.path.join(reports[0], name)) > 0
    # The flows' own run reports, beside the drill's, for the drill's run id.
    for flow in ("failover", "failback"):
        with open(
            os.path.join(reports[0], "runs", "%s-%s.json" % (run_id, flow)), encoding="utf-8"
        ) as handle:
            assert json.load(handle)["outcome"] == "completed"
    if verbose:
        # What a person or a log collector sees: the -vvv output, the reports, the traffic log.
        texts = [result.stdout, result.stderr]
        texts.append(lab.exec("sender", "cat /var/tmp/continuity-drill-%s.jsonl" % run_id).stdout)
        for folder, _, names in os.walk(reports[0]):
            for name in names:
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8", errors="replace") as handle:
                    texts.append(handle.read())
        # The default callback prints each task's path from -vv on, with every result.
        assert "task path: " in result.stdout + result.stderr, "the drill did not run verbose"
        assert leaked(lab, texts) == [], "secrets shown by a -vvv drill or its reports"
    assert_normal_state(lab)


def test_failover_changes_nothing_while_the_primary_is_healthy(lab):
    result = playbook("failover")
    assert result.returncode == 0, tail(result)
    assert "NOT failing over" in result.stdout
    assert result.recap and set(result.recap.values()) == {0}, result.recap
    assert_normal_state(lab)


def test_second_failover_reports_no_change(lab):
    try:
        first = playbook("failover", "-e", "force=true")
        assert first.returncode == 0, tail(first)
        for server in ("ns1", "ns2"):
            for domain in lab.domains:
                assert preferred_mx(lab, server, domain) == "mx2.%s." % domain
        assert lab.exec("mx2", "cat /etc/postfix/continuity-mode").stdout.strip() == "active"

        second = playbook("failover", "-e", "force=true")
        assert second.returncode == 0, tail(second)
        assert "already failed over" in second.stdout
        assert second.recap and set(second.recap.values()) == {0}, second.recap
    finally:
        back = playbook("failback")
    assert back.returncode == 0, tail(back)
    assert_normal_state(lab)
