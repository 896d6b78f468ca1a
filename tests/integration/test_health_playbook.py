# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`ansible-playbook continuity.mail.health` against the lab: targets from the inventory,
probes from every vantage point, one table per site, non-zero exit when down by quorum."""

import json

from health_lab import broken, run_playbook  # noqa: F401  (broken is a fixture)
from labtools import wait_until


def test_lab_is_healthy_by_quorum(lab, tmp_path):
    report = tmp_path / "verdict.json"

    def attempt():
        rc, out, err = run_playbook(
            "continuity.mail.health", {"health_report_file": str(report)}, json_output=False
        )
        # A colleague's outage drill may have a lab server down right now: wait it out.
        return (rc, out, err) if rc == 0 else None

    _rc, out, _err = wait_until(attempt, timeout=600, interval=15, what="a healthy lab")
    verdict = json.loads(report.read_text())
    assert verdict["vantage_points"] == ["localhost", "sender", "ns2"]
    assert verdict["abstained"] == {} and verdict["healthy"] is True
    names = {
        "%s %s" % (host, service)
        for host in ("mx1", "mx2")
        for service in ("smtp", "submission", "imap")
    }
    assert set(verdict["targets"]) == names
    for name, entry in verdict["targets"].items():
        assert entry["votes"]["up"] == 3, (name, entry)
        assert entry["labels"]["site"] == "lab"
    assert verdict["targets"]["mx1 smtp"]["labels"]["role"] == "primary"
    assert verdict["targets"]["mx2 imap"]["labels"]["role"] == "secondary"
    assert "site lab: 6 target(s), 0 down (down needs 2 of 3 vantage points)" in out
    for name in names:
        assert name in out


def test_down_target_fails_the_run_and_is_reported(lab, broken):  # noqa: F811
    targets = [
        {
            "name": "broken closed",
            "host": broken.ip,
            "port": broken.ports["closed"],
            "labels": {"site": "drill"},
        },
        {
            "name": "broken good",
            "host": broken.ip,
            "tls_verify": False,
            "labels": {"site": "drill"},
        },
    ]
    rc, out, _err = run_playbook(
        "continuity.mail.health", {"health_targets": targets}, json_output=False
    )
    assert rc != 0
    assert "site drill: 2 target(s), 1 down" in out
    assert "down by quorum: broken closed" in out
    rc, out, _err = run_playbook(
        "continuity.mail.health",
        {"health_targets": targets, "health_fail_on_down": False},
        json_output=False,
    )
    assert rc == 0, out[-2000:]
