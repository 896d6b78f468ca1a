# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""failover_decision and failback_decision: one row per case."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.continuity.mail.plugins.filter.decision import (
    failback_decision,
    failover_decision,
)

RUN = "run-me"


def view(active="primary", unreadable=(), disagreements=(), lock=None, state=None):
    return {
        "active": active,
        "unreadable": [{"server": s, "error": "no TCP connection (TIMEOUT)"} for s in unreadable],
        "disagreements": list(disagreements),
        "sides": ["primary", "secondary"] if active == "split" else [active],
        "lock": lock,
        "lock_message": (
            "the site lock is held by run %s (owner bob on host ctl2) until "
            "2026-01-01T12:02:00Z (in 80 s)" % lock["run_id"]
            if lock
            else "the site lock is free"
        ),
        "state": state,
    }


def verdict(*down):
    return {"down": list(down), "up": [], "healthy": not down}


FRESH = {"run_id": "run-other", "host": "ctl2", "expired": False}
STALE = {"run_id": "run-dead", "host": "ctl9", "expired": True}
OURS = {"run_id": RUN, "host": "ctl1", "expired": False}
SPLIT = ["example.test. MX: ns1 serves 10 mx2.example.test.; ns2 serves 10 mx1.example.test."]

# (case name, view, verdict, mode, force, expected case, proceed, error, words in reason)
FAILOVER = [
    ("healthy", view(), verdict(), "relay", False, "healthy", False, False, ["mx1 is healthy"]),
    (
        "primary down",
        view(),
        verdict("mx1 smtp"),
        "relay",
        False,
        "primary_down",
        True,
        False,
        ["mx1 smtp"],
    ),
    (
        "primary imap down only",
        view(),
        verdict("mx1 imap"),
        "relay",
        False,
        "healthy",
        False,
        False,
        [],
    ),
    (
        "secondary down",
        view(),
        verdict("mx1 smtp", "mx2 smtp"),
        "relay",
        False,
        "target_down",
        False,
        False,
        ["mx2 smtp"],
    ),
    (
        "already done",
        view("secondary"),
        verdict("mx1 smtp"),
        "active",
        False,
        "done",
        False,
        False,
        ["already failed over"],
    ),
    (
        "already done, forced",
        view("secondary"),
        verdict(),
        "active",
        True,
        "done",
        False,
        False,
        [],
    ),
    ("forced", view(), verdict(), "relay", True, "forced", True, False, ["planned"]),
    (
        "half switched, servers disagree",
        view("split", disagreements=SPLIT),
        verdict(),
        "active",
        False,
        "half_switched",
        True,
        False,
        ["ns1 serves 10 mx2"],
    ),
    (
        "DNS switched, secondary still relaying",
        view("secondary"),
        verdict(),
        "relay",
        False,
        "half_switched",
        True,
        False,
        ["relay mode"],
    ),
    (
        "a server unreadable",
        view(unreadable=["172.30.53.11"]),
        verdict("mx1 smtp"),
        "relay",
        True,
        "server_unreadable",
        False,
        True,
        ["172.30.53.11", "TIMEOUT"],
    ),
    (
        "no server readable",
        view("unknown", unreadable=["a", "b"]),
        verdict(),
        "relay",
        True,
        "server_unreadable",
        False,
        True,
        ["a (", "b ("],
    ),
    (
        "lock held fresh",
        view(lock=FRESH),
        verdict("mx1 smtp"),
        "relay",
        True,
        "locked",
        False,
        True,
        ["run-other", "ctl2", "in 80 s"],
    ),
    (
        "lock stale",
        view(lock=STALE),
        verdict(),
        "relay",
        True,
        "forced",
        True,
        False,
        ["run-dead", "taken over"],
    ),
    ("lock ours", view(lock=OURS), verdict(), "relay", True, "forced", True, False, []),
    (
        "target unknown mode but DNS split",
        view("split"),
        verdict(),
        "",
        False,
        "half_switched",
        True,
        False,
        ["unknown mode"],
    ),
]


@pytest.mark.parametrize(
    "site, health, mode, force, case, proceed, error, words",
    [row[1:] for row in FAILOVER],
    ids=[row[0] for row in FAILOVER],
)
def test_failover_decision(site, health, mode, force, case, proceed, error, words):
    result = failover_decision(site, health, "mx1", "mx2", mode=mode, force=force, run_id=RUN)
    assert (result["case"], result["proceed"], result["error"]) == (case, proceed, error), result
    for word in words:
        assert word in result["reason"]


FAILED_OVER = {"state": "failed_over", "active": "mx2", "since": 1767268920, "run_id": "r1"}
NORMAL = {"state": "normal", "active": "mx1", "since": 1767000000, "run_id": "r0"}

# (case name, view, verdict, mode, expected case, proceed, error, since, words in reason)
FAILBACK = [
    (
        "not failed over",
        view(state=NORMAL),
        verdict(),
        "relay",
        "not_failed_over",
        False,
        False,
        None,
        ["not failed over"],
    ),
    (
        "failed over",
        view("secondary", state=FAILED_OVER),
        verdict("mx1 smtp"),
        "active",
        "failed_over",
        True,
        False,
        1767268920,
        ["failing back"],
    ),
    (
        "failed over, no state record",
        view("secondary"),
        verdict(),
        "active",
        "failed_over",
        True,
        False,
        None,
        [],
    ),
    (
        "primary down",
        view("secondary", state=FAILED_OVER),
        verdict("mx1 imap"),
        "active",
        "primary_down",
        False,
        True,
        1767268920,
        ["mx1 imap"],
    ),
    (
        "half switched, servers disagree",
        view("split", disagreements=SPLIT, state=FAILED_OVER),
        verdict(),
        "active",
        "half_switched",
        True,
        False,
        1767268920,
        ["ns2 serves 10 mx1"],
    ),
    (
        "DNS back, secondary still active",
        view("primary", state=FAILED_OVER),
        verdict(),
        "active",
        "half_switched",
        True,
        False,
        1767268920,
        ["active mode"],
    ),
    (
        "failback stopped after relay mode",
        view("primary", state=FAILED_OVER),
        verdict(),
        "relay",
        "unfinished",
        True,
        False,
        1767268920,
        ["left unfinished", "final sync", "run r1"],
    ),
    (
        "failback stopped after relay mode, primary down",
        view("primary", state=FAILED_OVER),
        verdict("mx1 imap"),
        "relay",
        "primary_down",
        False,
        True,
        1767268920,
        ["mx1 imap"],
    ),
    (
        "a server unreadable on a normal site",
        view(unreadable=["172.30.53.11"]),
        verdict(),
        "relay",
        "server_unreadable",
        False,
        True,
        None,
        ["172.30.53.11", "nothing was changed"],
    ),
    (
        "lock held fresh",
        view("secondary", lock=FRESH),
        verdict(),
        "active",
        "locked",
        False,
        True,
        None,
        ["run-other"],
    ),
    (
        "lock stale",
        view("secondary", lock=STALE, state=FAILED_OVER),
        verdict(),
        "active",
        "failed_over",
        True,
        False,
        1767268920,
        ["run-dead"],
    ),
]


@pytest.mark.parametrize(
    "site, health, mode, case, proceed, error, since, words",
    [row[1:] for row in FAILBACK],
    ids=[row[0] for row in FAILBACK],
)
def test_failback_decision(site, health, mode, case, proceed, error, since, words):
    result = failback_decision(site, health, "mx1", "mx2", mode=mode, run_id=RUN)
    assert (result["case"], result["proceed"], result["error"]) == (case, proceed, error), result
    assert "since" in result and result["since"] == since
    for word in words:
        assert word in result["reason"]


def test_bad_input_is_a_filter_error():
    with pytest.raises(AnsibleFilterError, match="site_state result"):
        failover_decision({"servers": []}, verdict(), "mx1", "mx2")
    with pytest.raises(AnsibleFilterError, match="quorum"):
        failback_decision(view(), {"targets": {}}, "mx1", "mx2")
