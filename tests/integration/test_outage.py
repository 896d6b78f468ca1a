# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab outages on mx1, each observed the way a sender meets it, then restored exactly.

Every kind is injected with playbooks/outage.yml (one also through `make outage`/`make
restore`), seen with two real SMTP clients - Python's socket/smtplib on the control node and
swaks on the lab's internet sender - and restored; the host must then be byte-for-byte the
converged host it was (main.cf, master.cf, the filter table, Postfix running). Restore runs
in a finally block whatever happens: the lab is shared.
"""

import json
import os
import smtplib
import socket
import subprocess
import tempfile

import pytest

from flows_lab import ansible_env, playbook
from labtools import ROOT, STATE_DIR

TARGET = "mx1"
SLOW_DELAY = 8


@pytest.fixture
def state_file():
    # A private state file: a drill running elsewhere keeps the lab's outage.json.
    handle, path = tempfile.mkstemp(suffix=".json", prefix="outage-test-")
    os.close(handle)
    os.unlink(path)
    yield path
    if os.path.exists(path):
        os.unlink(path)


def snapshot(lab):
    """What restore must bring back exactly."""
    return lab.exec(
        TARGET,
        "sha256sum /etc/postfix/main.cf /etc/postfix/master.cf; "
        "iptables-save -t filter | grep -v '^#'; systemctl is-active postfix; "
        "ls /var/lib/continuity-mail 2>/dev/null | grep lab-outage || true",
    ).stdout


def outage(state_file, **extra):
    extra_vars = {"outage_state_file": state_file, "outage_slow_delay": SLOW_DELAY}
    extra_vars.update(extra)
    return playbook("playbooks/outage.yml", extra_vars=extra_vars, timeout=300)


def restore(state_file):
    return outage(state_file, outage_action="restore")


def read_state(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def swaks(lab, quit_after="RCPT", timeout=20):
    """The internet sender's view: swaks from the sender container to mx1:25."""
    result = lab.exec(
        "sender",
        "swaks --server %s --port 25 --to alice@example.test --from probe@example.net "
        "--quit-after %s --timeout %d 2>&1" % (lab.ip(TARGET), quit_after, timeout),
        check=False,
        timeout=timeout + 30,
    )
    return result.stdout


def assert_normal(lab):
    with smtplib.SMTP(lab.ip(TARGET), 25, timeout=10) as smtp:
        code, dummy = smtp.ehlo("tester.example.net")
        assert code == 250
        code, dummy = smtp.mail("probe@example.net")
        assert code == 250, "MAIL FROM is refused after restore"
    assert "<-  220 mx1.example.test ESMTP" in swaks(lab, quit_after="banner")


# --- how each outage kind looks to a client -------------------------------------------------


def sees_refused(lab):
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((lab.ip(TARGET), 25), timeout=5).close()
    assert "connect: Connection refused" in swaks(lab)


def sees_blackhole(lab):
    # A silent drop: the connect times out - neither refused nor "no route to host".
    with pytest.raises(TimeoutError):
        socket.create_connection((lab.ip(TARGET), 25), timeout=3).close()
    assert "connect: timeout" in swaks(lab, timeout=5)


def sees_tempfail(lab):
    with pytest.raises(smtplib.SMTPConnectError) as refused:
        smtplib.SMTP(lab.ip(TARGET), 25, timeout=10)
    assert refused.value.smtp_code == 421
    assert b"4.3.2" in refused.value.smtp_error
    output = swaks(lab)
    assert "<** 421 4.3.2" in output and "<-  220" not in output


def sees_slow(lab):
    conn = socket.create_connection((lab.ip(TARGET), 25), timeout=5)
    try:
        # Connected, but a probe waiting half the delay hears no banner at all...
        conn.settimeout(SLOW_DELAY / 2)
        with pytest.raises(TimeoutError):
            conn.recv(512)
        # ...and the banner does come later, on the same connection.
        conn.settimeout(SLOW_DELAY * 4)
        assert conn.recv(512).startswith(b"220 mx1.example.test")
    finally:
        conn.close()
    assert "<-  220 mx1.example.test ESMTP" in swaks(
        lab, quit_after="banner", timeout=SLOW_DELAY * 4
    )


def sees_disk_full(lab):
    with smtplib.SMTP(lab.ip(TARGET), 25, timeout=10) as smtp:
        assert smtp.ehlo("tester.example.net")[0] == 250
        code, message = smtp.mail("probe@example.net")
    assert code == 452 and b"4.3.1 Insufficient system storage" in message
    assert "<** 452 4.3.1 Insufficient system storage" in swaks(lab)


OBSERVE = {
    "refused": sees_refused,
    "blackhole": sees_blackhole,
    "tempfail": sees_tempfail,
    "slow": sees_slow,
    "disk-full": sees_disk_full,
}


@pytest.mark.parametrize("kind", ["blackhole", "tempfail", "slow", "disk-full"])
def test_outage_is_real_idempotent_and_restored_exactly(lab, state_file, kind):
    before = snapshot(lab)
    assert "active" in before.splitlines(), "mx1's Postfix is not running before the test"
    try:
        injected = outage(state_file, outage_kind=kind)
        assert injected.rc == 0, injected.describe()
        assert injected.changed(TARGET) > 0
        state = read_state(state_file)
        assert state["active"] is True and state["kind"] == kind
        assert state["target"] == TARGET and state["target_ip"] == lab.ip(TARGET)
        assert state["started_at"] <= state["applied_at"]

        OBSERVE[kind](lab)

        again = outage(state_file, outage_kind=kind)
        assert again.rc == 0, again.describe()
        assert again.changed(TARGET) == 0, "injecting the active outage again changed something"
        assert read_state(state_file)["started_at"] == state["started_at"], "the outage start moved"
        OBSERVE[kind](lab)
    finally:
        restored = restore(state_file)
    assert restored.rc == 0, restored.describe()
    assert restored.changed(TARGET) > 0
    after = read_state(state_file)
    assert after["active"] is False and after["kind"] == kind
    assert after["restored_at"] >= after["applied_at"]
    assert snapshot(lab) == before, "restore did not bring back the converged host"
    assert_normal(lab)

    again = restore(state_file)
    assert again.rc == 0 and again.changed(TARGET) == 0, again.describe()


def test_refused_through_make_targets(lab, state_file):
    before = snapshot(lab)
    env = ansible_env(json_output=False)
    make = ["make", "--no-print-directory", "-C", ROOT]
    try:
        injected = subprocess.run(
            make + ["outage", "KIND=refused"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert injected.returncode == 0, injected.stdout[-3000:] + injected.stderr[-2000:]
        assert "inactive" in lab.exec(TARGET, "systemctl is-active postfix", check=False).stdout
        sees_refused(lab)
        assert read_state(os.path.join(STATE_DIR, "outage.json"))["kind"] == "refused"
    finally:
        restored = subprocess.run(
            make + ["restore"], env=env, capture_output=True, text=True, timeout=300, check=False
        )
    assert restored.returncode == 0, restored.stdout[-3000:] + restored.stderr[-2000:]
    assert read_state(os.path.join(STATE_DIR, "outage.json"))["active"] is False
    assert snapshot(lab) == before
    assert_normal(lab)


def test_a_second_kind_while_one_is_active_is_refused(lab, state_file):
    before = snapshot(lab)
    try:
        assert outage(state_file, outage_kind="tempfail").rc == 0
        other = outage(state_file, outage_kind="disk-full")
        assert other.rc != 0
        assert any(
            "a tempfail outage is already active on mx1" in msg for msg in other.messages()
        ), other.describe()
        assert other.changed(TARGET) == 0
        sees_tempfail(lab)
    finally:
        restored = restore(state_file)
    assert restored.rc == 0, restored.describe()
    assert snapshot(lab) == before


def test_bad_requests_change_nothing(lab, state_file):
    before = snapshot(lab)
    for extra in (
        {"outage_kind": "meteor"},
        {"outage_kind": "refused", "outage_target": "ns1"},
        {"outage_action": "explode"},
    ):
        run = outage(state_file, **extra)
        assert run.rc != 0, extra
        assert any("outage_action must be inject or restore" in msg for msg in run.messages()), (
            run.describe()
        )
        assert TARGET not in run.report.get("stats", {}) or run.changed(TARGET) == 0
    assert not os.path.exists(state_file)
    assert snapshot(lab) == before
