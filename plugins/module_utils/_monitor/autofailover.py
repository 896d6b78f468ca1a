# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether this monitor starts the failover flow now: the guard rails in one place.

Acts only when every one holds: automatic failover is on (`monitor_auto_failover`); the
maintenance switch is off; this monitor is the deciding one (the leader) and hears a
majority; the primary is held down (`hold_down` failed probes in a row on a majority of
monitors) and not flapping; no secondary is down; the site has not failed over already;
no flow is running; the last automatic failover is at least `cooldown` seconds ago (kept
across restarts by the caller). The flow itself takes the site lock, so two monitors that
both decided still make one failover. There is no automatic failback.
"""


def decide(
    summary,
    enabled,
    maintenance,
    is_leader,
    failed_over,
    running,
    last_action,
    now,
    cooldown,
):
    """(act, reason): reason says why not, or what is done."""
    if not enabled:
        return False, "automatic failover is off"
    if maintenance:
        return False, "paused by the maintenance switch"
    if not summary["quorate"]:
        return False, "this monitor does not hear a majority of monitors"
    if not summary["primary_held_down"]:
        return False, "the primary is not down by quorum"
    if not is_leader:
        return False, "another monitor decides"
    if summary["flapping"]:
        return False, "the primary is flapping"
    if summary["secondary_down"]:
        return False, "the secondary is down (%s)" % ", ".join(summary["secondary_down"])
    if failed_over:
        return False, "the site has already failed over"
    if running:
        return False, "a failover flow is already running"
    if last_action is not None and now - last_action < cooldown:
        return False, "cooldown: the last automatic failover was %d s ago (cooldown %d s)" % (
            now - last_action,
            cooldown,
        )
    return True, "failing over: primary down by quorum (%s)" % ", ".join(
        summary["primary_down_targets"]
    )
