# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DNS primary stops answering in the middle of a failover (docs/reliability.md).

A forced failover activates mx2 and fences mx1; the moment the fence is up, ns1 (the server
that takes every UPDATE and holds the site lock) is frozen with `docker pause`, before the
DNS step. The run must fail clearly, naming ns1; no zone may be half-switched; the lock it
could not release is reported with the time its lease expires, and the run report says all
of it. Mail sent meanwhile goes to mx2, which is active. Once ns1 answers again and the dead
lease has expired, a rerun completes the failover; a failback then brings every message
sent across the fault to mx1 exactly once.
"""

import json
import os
import subprocess
import time

from flows_lab import (
    count_tagged,
    expunge_tagged,
    finish,
    playbook,
    smtp_send,
    start,
    tagged_message,
    token,
)
from labtools import wait_until
from site_records import lock_texts, mx_set, prefers, state_record

USER = "bob@example.org"
# Short, so the test waits out the dead run's lease instead of breaking it.
LEASE = 30


def docker(*args):
    subprocess.run(["docker", *args], check=True, timeout=120, capture_output=True)


def preferred(bind, server, zone):
    return bind.query(server, zone + ".", "MX")[0].split()[1]


def test_a_failover_whose_dns_primary_stops_answering_is_completed_by_a_rerun(
    lab, bind_normal, tmp_path
):
    bind = bind_normal
    ns1 = lab.container("ns1")
    paused = False
    tags = []
    reports = str(tmp_path / "reports")
    run_id = token("ns1-down")
    try:
        proc = start(
            "playbooks/failover.yml",
            {
                "force": True,
                "continuity_run_id": run_id,
                "continuity_lock_lease": LEASE,
                "continuity_reports_dir": reports,
                "continuity_dns_wait_timeout": 20,
            },
        )
        try:
            wait_until(
                lambda: (
                    lab.exec("mx1", "postconf -h master_service_disable").stdout.strip() == "inet"
                ),
                timeout=300,
                interval=0.1,
                what="the failover fencing mx1",
            )
            docker("pause", ns1)
            paused = True
        finally:
            run = finish(proc)
        assert run.rc != 0, run.describe()
        message = " ".join(run.messages())
        assert lab.ip("ns1") in message, message
        assert "the site lock could not be released" in message and "expires" in message, message
        with open(
            os.path.join(reports, "runs", "%s-failover.json" % run_id), encoding="utf-8"
        ) as f:
            report = json.load(f)
        assert report["outcome"] == "failed" and lab.ip("ns1") in report["error"], report
        assert report["lock_release_error"], report

        # mx1 refuses SMTP (fenced), so senders use mx2, which is active and keeps the mail.
        for _ in range(2):
            tag = token("ns1-down")
            tags.append(tag)
            smtp_send(lab.ip("mx2"), tagged_message(tag, USER))
        for tag in tags:
            wait_until(
                lambda tag=tag: count_tagged(lab, "mx2", USER, tag) == 1,
                timeout=60,
                what="%s delivered on mx2" % tag,
            )

        docker("unpause", ns1)
        paused = False
        # No zone is half-switched: each still lists both servers and prefers one of them.
        for server in bind.servers:
            for zone in bind.zones:
                assert mx_set(bind, server, zone) == sorted(["mx1.%s." % zone, "mx2.%s." % zone]), (
                    server,
                    zone,
                )
                assert preferred(bind, server, zone) in ("mx1.%s." % zone, "mx2.%s." % zone)
        held = lock_texts(bind)
        assert len(held) == 1 and run_id in held[0], held

        # The dead run's lease expires by itself; then a rerun completes the failover.
        expires = int(held[0].split("expires=", 1)[1].split()[0])
        time.sleep(max(0, expires - time.time()) + 1)
        again = playbook("playbooks/failover.yml", {"force": True}, timeout=900)
        assert again.rc == 0, again.describe()
        assert prefers(bind, "mx2") and lock_texts(bind) == []
        assert state_record(bind.primary)["state"] == "failed_over"

        back = playbook("playbooks/failback.yml", timeout=900)
        assert back.rc == 0, back.describe()
        assert prefers(bind, "mx1") and state_record(bind.primary)["state"] == "normal"
        for tag in tags:
            assert count_tagged(lab, "mx1", USER, tag) == 1, tag
    finally:
        if paused:
            docker("unpause", ns1)
        for text in lock_texts(bind):  # the lease of a run this test left behind
            expires = int(text.split("expires=", 1)[1].split()[0])
            time.sleep(min(max(0, expires - time.time()) + 1, LEASE + 5))
        if not prefers(bind, "mx1") or state_record(bind.primary)["state"] != "normal":
            restore = playbook("playbooks/failback.yml", timeout=900)
            assert restore.rc == 0, restore.describe()
        for tag in tags:
            for host in ("mx1", "mx2"):
                expunge_tagged(lab, host, USER, tag)
