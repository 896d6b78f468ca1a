# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import asyncio
import json
import os
import sys

from ansible_collections.continuity.mail.plugins.module_utils._monitor import launcher

SUMMARY = {"primary_down_targets": ["mx1 smtp"]}


def test_evidence_carries_the_site_verdict_and_is_private(tmp_path):
    doc = launcher.evidence({"down": ["mx1 smtp"]}, SUMMARY, "ns2", 1234.5)
    evidence = doc[launcher.EVIDENCE_VAR]
    assert evidence["decided_by"] == "ns2" and evidence["health_verdict"] == {"down": ["mx1 smtp"]}
    assert evidence["reason"] == "primary down by quorum: mx1 smtp"
    path = launcher.write_evidence(str(tmp_path), doc, 1234.5)
    assert path.endswith("evidence-1234.json")
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    with open(path) as handle:
        assert json.load(handle) == doc


def test_playbook_gets_the_evidence_as_extra_vars(tmp_path):
    script = "import sys; print('args', sys.argv[1:]); sys.exit(3)"
    log = tmp_path / "failover.log"
    loop = asyncio.new_event_loop()
    try:
        result = loop.run_until_complete(
            launcher.run_playbook([sys.executable, "-c", script], "/x/e.json", str(log))
        )
    finally:
        loop.close()
    assert result == {"ok": False, "rc": 3, "tail": "args ['-e', '@/x/e.json']\n"}
    assert log.read_text() == result["tail"]


def test_awx_launch_then_poll_until_the_job_ends():
    calls = []
    answers = iter(
        [{"job": 42, "status": "pending"}, {"status": "running"}, {"status": "successful"}]
    )

    def request(method, url, token, body=None):
        calls.append((method, url, token, body))
        return next(answers)

    awx = {"url": "https://awx.example/", "job_template": 7}
    result = launcher.launch_awx(awx, "tok", {"v": 1}, request=request, sleep=lambda s: None)
    assert result == {"ok": True, "job": 42, "status": "successful"}
    assert calls[0] == (
        "POST",
        "https://awx.example/api/v2/job_templates/7/launch/",
        "tok",
        {"extra_vars": {"v": 1}},
    )
    assert calls[1][:2] == ("GET", "https://awx.example/api/v2/jobs/42/")
