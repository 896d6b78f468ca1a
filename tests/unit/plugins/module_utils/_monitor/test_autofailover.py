# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import pytest

from ansible_collections.continuity.mail.plugins.module_utils._monitor.autofailover import decide

DOWN = {
    "quorate": True,
    "primary_down": True,
    "primary_held_down": True,
    "primary_down_targets": ["mx1 smtp"],
    "flapping": False,
    "secondary_down": [],
}
GO = dict(
    enabled=True,
    maintenance=False,
    is_leader=True,
    failed_over=False,
    running=False,
    last_action=None,
    now=10000.0,
    cooldown=3600,
)


@pytest.mark.parametrize(
    "summary_change, args_change, reason",
    [
        ({}, {"enabled": False}, "automatic failover is off"),
        ({}, {"maintenance": True}, "paused by the maintenance switch"),
        ({"primary_held_down": False}, {}, "the primary is not down by quorum"),
        ({"quorate": False}, {}, "this monitor does not hear a majority of monitors"),
        ({}, {"is_leader": False}, "another monitor decides"),
        ({"flapping": True}, {}, "the primary is flapping"),
        ({"secondary_down": ["mx2 smtp"]}, {}, "the secondary is down (mx2 smtp)"),
        ({}, {"failed_over": True}, "the site has already failed over"),
        ({}, {"running": True}, "a failover flow is already running"),
        (
            {},
            {"last_action": 9000.0},
            "cooldown: the last automatic failover was 1000 s ago (cooldown 3600 s)",
        ),
    ],
)
def test_every_guard_rail_holds_back(summary_change, args_change, reason):
    summary = dict(DOWN, **summary_change)
    args = dict(GO, **args_change)
    assert decide(summary, **args) == (False, reason)


def test_acts_when_everything_allows_it():
    assert decide(DOWN, **dict(GO, last_action=1000.0)) == (
        True,
        "failing over: primary down by quorum (mx1 smtp)",
    )
