# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Failbacks that do not finish, and the reruns that must (docs/reliability.md).

One failover, then three failbacks, each leaning on the one before:

1. the secondary dies in the middle: the moment the failback has lifted mx1's fence (its step
   2, before any sync or DNS change) mx2's container is stopped. The run fails clearly and
   releases the lock; DNS still lists mx1, which now accepts mail, and mail sent to it is kept.
2. once mx2 is back, a failback is killed with SIGKILL right after mx2 went back to relay
   mode (DNS already back on mx1), before its final sync. A message that reached mx2's
   mailbox in that window (delivered by LMTP, as Postfix does) is on mx2 only.
3. the operator breaks the dead run's lock (docs/runbook.md) and runs failback again: it sees
   the state record still saying "failed over", finishes the final sync and the
   reconciliation, and every message sent across all of it exists on mx1 exactly once.
"""

import os
import signal
import subprocess

from flows_lab import (
    count_tagged,
    expunge_tagged,
    finish,
    lmtp_deliver,
    module,
    playbook,
    smtp_send,
    start,
    tagged_message,
    token,
)
from labtools import wait_until
from site_records import LOCK, accepts_smtp, lock_texts, mx_set, prefers, state_record

USER = "bob@example.org"


def mode_of(lab, host="mx2"):
    return lab.exec(host, "cat /etc/postfix/continuity-mode", check=False).stdout.strip()


def start_mx2(lab):
    subprocess.run(["docker", "start", lab.container("mx2")], check=True, timeout=120)
    wait_until(
        lambda: (
            lab.exec("mx2", "systemctl is-system-running", check=False).stdout.strip()
            in ("running", "degraded")
        ),
        timeout=180,
        what="mx2 booted",
    )
    wait_until(lambda: accepts_smtp(lab.ip("mx2")), timeout=60, what="mx2 accepts SMTP")
    wait_until(
        lambda: lab.exec("mx2", "doveadm user %s" % USER, check=False).returncode == 0,
        timeout=60,
        what="mx2's Dovecot answers",
    )


def send(lab, host, tags, prefix):
    tag = token(prefix)
    tags.append(tag)
    smtp_send(lab.ip(host), tagged_message(tag, USER))
    wait_until(
        lambda: count_tagged(lab, host, USER, tag) == 1, timeout=60, what="%s on %s" % (tag, host)
    )


def break_lock(lab, run_id):
    result = module(
        "localhost",
        "continuity.mail.site_lock",
        dict(
            server=lab.dns["server"],
            key_name=lab.dns["key_name"],
            key_secret=lab.dns["key_secret"],
            name=LOCK,
            action="break",
            run_id=run_id,
        ),
    )
    assert not result.get("failed"), result


def test_failbacks_that_stop_midway_are_finished_by_a_rerun(lab, bind_normal):
    bind = bind_normal
    tags = []
    mx2_stopped = False
    try:
        over = playbook("playbooks/failover.yml", {"force": True}, timeout=900)
        assert over.rc == 0, over.describe()
        for _ in range(3):
            send(lab, "mx2", tags, "outage")

        # 1. mx2 stopped right after the fence is lifted.
        proc = start("playbooks/failback.yml", {"continuity_run_id": token("dies")})
        try:
            wait_until(
                lambda: lab.exec("mx1", "postconf -h master_service_disable").stdout.strip() == "",
                timeout=300,
                interval=0.2,
                what="the failback lifting mx1's fence",
            )
            subprocess.run(
                ["docker", "stop", "-t", "2", lab.container("mx2")], check=True, timeout=120
            )
            mx2_stopped = True
        finally:
            dies = finish(proc)
        assert dies.rc != 0, dies.describe()
        message = " ".join(dies.messages())
        assert "(on mx2)" in message and "lock is released" in message, message
        assert lock_texts(bind) == [] and prefers(bind, "mx2")
        assert all(
            "mx1.%s." % zone in mx_set(bind, server, zone)
            for server in bind.servers
            for zone in bind.zones
        ), "mx1 left the MX set"
        assert accepts_smtp(lab.ip("mx1")), "mx1 refuses SMTP while mx2 is down"
        send(lab, "mx1", tags, "while-mx2-dead")
        start_mx2(lab)
        mx2_stopped = False

        # 2. killed right after relay mode, before the final sync.
        killed = token("killed")
        proc = start("playbooks/failback.yml", {"continuity_run_id": killed})
        try:
            wait_until(
                lambda: mode_of(lab) == "relay", timeout=600, interval=0.1, what="relay mode"
            )
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        assert prefers(bind, "mx1") and state_record(bind.primary)["state"] == "failed_over"
        late = token("window")
        tags.append(late)
        lmtp_deliver(lab, "mx2", tagged_message(late, USER))
        assert count_tagged(lab, "mx1", USER, late) == 0

        # 3. the operator breaks the dead run's lock; the rerun finishes the failback.
        break_lock(lab, killed)
        again = playbook("playbooks/failback.yml", timeout=900)
        assert again.rc == 0, again.describe()
        assert "left unfinished" in again.stdout, again.describe()
        for tag in tags:
            assert count_tagged(lab, "mx1", USER, tag) == 1, tag
        assert prefers(bind, "mx1") and lock_texts(bind) == [] and mode_of(lab) == "relay"
        assert state_record(bind.primary)["state"] == "normal"
    finally:
        if mx2_stopped:
            start_mx2(lab)
        for text in lock_texts(bind):  # a run killed by this test
            break_lock(lab, text.split("run=", 1)[1].split()[0])
        if not prefers(bind, "mx1") or state_record(bind.primary)["state"] != "normal":
            back = playbook("playbooks/failback.yml", timeout=900)
            assert back.rc == 0, back.describe()
        for tag in tags:
            for host in ("mx1", "mx2"):
                expunge_tagged(lab, host, USER, tag)
