# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Quorum over the real vantage points (localhost, sender, ns2 via delegate_to): a target cut
off from one probe by iptables inside that probe stays up; cut off from two, it is down."""

import contextlib
import json

from health_lab import broken, run_playbook, task_results  # noqa: F401  (broken is a fixture)

# The way the failover playbook uses it: mail_health delegated to every probe, then quorum.
PLAYBOOK = """\
- name: Probe from every vantage point and decide by quorum
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Probe
      continuity.mail.mail_health:
        targets: "{{ quorum_targets }}"
        timeout: 2
      delegate_to: "{{ item }}"
      loop: "{{ groups['probes'] }}"
      register: quorum_health
      ignore_unreachable: true

    - name: Verdict
      ansible.builtin.debug:
        msg: "{{ quorum_health | continuity.mail.quorum(expected=groups['probes']) | to_json }}"
"""


def verdict(broken):  # noqa: F811
    targets = [
        {"name": "broken smtp", "host": broken.ip, "tls_verify": False, "labels": {"site": "test"}}
    ]
    rc, out, err = run_playbook(PLAYBOOK, {"quorum_targets": targets})
    assert rc == 0, out[-3000:] + err[-3000:]
    probes = task_results(out, "Probe")["localhost"]["results"]
    return {r["item"]: r for r in probes}, json.loads(
        task_results(out, "Verdict")["localhost"]["msg"]
    )


@contextlib.contextmanager
def cut_off(lab, probes, target_ip):
    """Reject the probe's own connections to target_ip (only that address: nothing else of
    the shared lab is touched), and always restore."""
    rule = "OUTPUT -d %s -p tcp -j REJECT --reject-with tcp-reset" % target_ip
    added = []
    try:
        for probe in probes:
            lab.exec(probe, "iptables -I " + rule)
            added.append(probe)
        yield
    finally:
        for probe in added:
            lab.exec(probe, "iptables -D " + rule, check=False)


def test_all_vantage_points_agree_up(lab, broken):  # noqa: F811
    per_probe, result = verdict(broken)
    assert set(per_probe) == {"localhost", "sender", "ns2"}
    entry = result["targets"]["broken smtp"]
    assert entry["votes"] == {"down": 0, "up": 3, "abstain": 0}
    assert result["healthy"] is True and result["abstained"] == {}


def test_one_probe_cut_off_keeps_the_target_up(lab, broken):  # noqa: F811
    with cut_off(lab, ["ns2"], broken.ip):
        per_probe, result = verdict(broken)
    # the cut really happened: ns2 saw the target refuse
    assert per_probe["ns2"]["targets"][0]["status"] == "refused"
    assert per_probe["sender"]["targets"][0]["status"] == "ok"
    entry = result["targets"]["broken smtp"]
    assert entry["votes"] == {"down": 1, "up": 2, "abstain": 0}
    assert entry["down"] is False and entry["decided"] is True
    assert entry["probes"]["ns2"]["status"] == "refused"
    assert result["healthy"] is True and result["down"] == []
    assert "REJECT" not in lab.exec("ns2", "iptables -S OUTPUT").stdout


def test_two_probes_cut_off_is_down(lab, broken):  # noqa: F811
    with cut_off(lab, ["ns2", "sender"], broken.ip):
        _, result = verdict(broken)
    entry = result["targets"]["broken smtp"]
    assert entry["votes"] == {"down": 2, "up": 1, "abstain": 0}
    assert entry["down"] is True and entry["status"] == "refused"
    assert result["down"] == ["broken smtp"]
    for probe in ("ns2", "sender"):
        assert "REJECT" not in lab.exec(probe, "iptables -S OUTPUT").stdout
