# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""mail_health against real lab servers and real broken endpoints: each gives its exact status."""

import pytest

from health_lab import broken, run_module  # noqa: F401  (broken is a fixture)
from labtools import wait_until

LAB_CA = "{{ lab_ca_cert }}"


def _reachable(result):
    unreachable = [t for t in result["targets"] if t["status"] in ("timeout", "refused")]
    return None if unreachable else result


@pytest.fixture(scope="module")
def probed(lab, broken):  # noqa: F811
    canary = "canary@example.test"
    targets = [
        {
            "name": "good",
            "host": broken.ip,
            "server_name": broken.server_name,
            "ca_path": broken.ca_path,
        },
        {"name": "closed port", "host": broken.ip, "port": broken.ports["closed"]},
        {"name": "blackholed", "host": broken.blackhole_ip},
        {"name": "421 greeting", "host": broken.ip, "port": broken.ports["tempfail"]},
        {"name": "slow banner", "host": broken.ip, "port": broken.ports["slow"]},
        {
            "name": "expired",
            "host": broken.ip,
            "port": broken.ports["expired"],
            "server_name": broken.server_name,
            "ca_path": broken.ca_path,
        },
        {
            "name": "expired unverified",
            "host": broken.ip,
            "port": broken.ports["expired"],
            "tls_verify": False,
        },
        {
            "name": "wrong name",
            "host": broken.ip,
            "port": broken.ports["wrong_name"],
            "server_name": broken.server_name,
            "ca_path": broken.ca_path,
        },
        {
            "name": "wrong name unverified",
            "host": broken.ip,
            "port": broken.ports["wrong_name"],
            "server_name": broken.server_name,
            "tls_verify": False,
        },
        {
            "name": "mx1 imap wrong password",
            "host": lab.ip("mx1"),
            "protocol": "imap",
            "server_name": "mx1.example.test",
            "ca_path": LAB_CA,
            "user": canary,
            "password": "Not-the-canary-Zx81",
        },
        {
            "name": "mx1 imap canary",
            "host": lab.ip("mx1"),
            "protocol": "imap",
            "server_name": "mx1.example.test",
            "ca_path": LAB_CA,
            "user": canary,
            "password": lab.users[canary],
        },
        {
            "name": "mx1 submission",
            "host": lab.ip("mx1"),
            "protocol": "submission",
            "server_name": "mx1.example.test",
            "ca_path": LAB_CA,
        },
    ]
    # The per-phase timeout is short so the blackhole and the slow banner end quickly; IMAP
    # logins on the lab (expensive SHA512-CRYPT) get their own run with the default timeout.
    fast = run_module(
        "localhost",
        "continuity.mail.mail_health",
        {"targets": targets[:-3], "timeout": 2, "vantage_point": "control"},
        check=True,
    )
    # The lab is shared: another engineer's outage drill may cut mx1 off for a while. Wait
    # for it to be reachable again (a timeout/refused here says nothing about our statuses).
    slow = wait_until(
        lambda: _reachable(
            run_module(
                "localhost", "continuity.mail.mail_health", {"targets": targets[-3:], "timeout": 10}
            )
        ),
        timeout=600,
        interval=10,
        what="mx1 reachable for the IMAP/submission probes",
    )
    results = {t["name"]: t for t in fast["targets"] + slow["targets"]}
    return fast, slow, results


@pytest.mark.parametrize(
    "name,status",
    [
        ("good", "ok"),
        ("closed port", "refused"),
        ("blackholed", "timeout"),
        ("421 greeting", "tempfail"),
        ("slow banner", "timeout"),
        ("expired", "cert_expired"),
        ("expired unverified", "cert_expired"),
        ("wrong name", "tls_error"),
        ("wrong name unverified", "ok"),
        ("mx1 imap wrong password", "auth_failed"),
        ("mx1 imap canary", "ok"),
        ("mx1 submission", "ok"),
    ],
)
def test_exact_status(probed, name, status):
    result = probed[2][name]
    assert result["status"] == status, result["error"]
    assert result["healthy"] is (status == "ok")


def test_timeouts_name_their_phase(probed):
    results = probed[2]
    assert "phase connect" in results["blackholed"]["error"]
    assert "banner" not in results["blackholed"]["phases"]
    assert "phase banner" in results["slow banner"]["error"]
    assert results["slow banner"]["phases"]["banner"] >= 2000


def test_certificate_details(probed):
    results = probed[2]
    good = results["good"]["cert"]
    assert good["subject"] == "CN=broken.example.test"
    assert good["hostname_ok"] is True and good["chain_ok"] is True and good["days_left"] > 300
    expired = results["expired"]["cert"]
    assert expired["days_left"] < 0 and expired["chain_ok"] is False
    assert results["expired unverified"]["cert"]["chain_ok"] is None
    wrong = results["wrong name"]["cert"]
    assert wrong["hostname_ok"] is False and wrong["chain_ok"] is True
    assert wrong["names"] == ["somewhere-else.example.net"]


def test_banner_capabilities_and_phases(probed):
    results = probed[2]
    good = results["good"]
    assert good["banner"] == "broken.example.test ESMTP"
    assert "STARTTLS" not in good["capabilities"]  # capabilities are the post-TLS ones
    # the envelope check (MAIL FROM:<>, RSET) ends every plain SMTP probe
    assert set(good["phases"]) == {"connect", "banner", "capabilities", "tls", "envelope"}
    assert results["421 greeting"]["banner"].startswith("4.3.2")
    imap = results["mx1 imap canary"]
    assert set(imap["phases"]) == {"connect", "banner", "capabilities", "tls", "auth", "select"}
    assert imap["mailbox"]["name"] == "INBOX" and imap["mailbox"]["exists"] >= 0
    assert "AUTH PLAIN LOGIN" in results["mx1 submission"]["capabilities"]


def test_summary_and_run_fields(probed):
    fast, slow, _ = probed
    assert fast["changed"] is False
    assert fast["vantage_point"] == "control"
    assert fast["summary"]["total"] == 9
    assert fast["summary"]["healthy"] == 2
    assert fast["summary"]["by_status"]["timeout"] == 2
    assert fast["healthy"] is False and slow["healthy"] is False


def test_fail_on_unhealthy_fails_the_task(broken):  # noqa: F811
    result = run_module(
        "localhost",
        "continuity.mail.mail_health",
        {
            "targets": [{"name": "closed", "host": broken.ip, "port": broken.ports["closed"]}],
            "fail_on_unhealthy": True,
        },
    )
    assert result.get("failed") is True
    assert "closed (refused)" in result["msg"]


def test_attempts_retry_a_failing_target(broken):  # noqa: F811
    result = run_module(
        "localhost",
        "continuity.mail.mail_health",
        {
            "targets": [{"name": "busy", "host": broken.ip, "port": broken.ports["tempfail"]}],
            "attempts": 3,
            "interval": 0.2,
        },
    )
    assert result["targets"][0]["attempts"] == ["tempfail"] * 3
    assert result["targets"][0]["healthy"] is False


def test_runs_on_a_bare_lab_host_with_the_system_trust_store(lab):
    """From the sender container (Debian python3, stdlib only, lab CA in the system store)."""
    result = run_module(
        "sender",
        "continuity.mail.mail_health",
        {
            "targets": [
                {"name": "mx2 smtp", "host": lab.ip("mx2"), "server_name": "mx2.example.test"}
            ]
        },
    )
    assert result["targets"][0]["status"] == "ok", result["targets"][0]["error"]
    assert result["targets"][0]["cert"]["chain_ok"] is True
