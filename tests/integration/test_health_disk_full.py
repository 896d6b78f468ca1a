# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A primary that greets but cannot take mail (disk full: 452 on MAIL FROM) is down for
mail_health, so a failover can be decided on it; restored, it is healthy again."""

from flows_lab import module, playbook


def _probe(lab):
    result = module(
        "localhost",
        "continuity.mail.mail_health",
        {
            "targets": [
                {
                    "name": "mx1 smtp",
                    "host": lab.ip("mx1"),
                    "server_name": "mx1.example.test",
                    "ca_path": lab.ca_cert,
                }
            ],
            "timeout": 5,
        },
    )
    assert not result.get("failed"), result
    return result["targets"][0]


def test_disk_full_primary_is_tempfail_on_the_envelope(lab, tmp_path):
    state = str(tmp_path / "outage.json")
    before = _probe(lab)
    assert before["status"] == "ok" and "envelope" in before["phases"], before
    injected = playbook(
        "playbooks/outage.yml", {"outage_kind": "disk-full", "outage_state_file": state}
    )
    try:
        assert injected.rc == 0, injected.describe()
        during = _probe(lab)
        assert during["status"] == "tempfail", during
        assert "MAIL FROM" in during["error"] and "452" in during["error"], during
    finally:
        restored = playbook(
            "playbooks/outage.yml", {"outage_action": "restore", "outage_state_file": state}
        )
    assert restored.rc == 0, restored.describe()
    assert _probe(lab)["status"] == "ok"
