# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a flow acts: {case, proceed, error, reason} from the quorum verdict, the site's
view (continuity.mail.site_state), the secondary's mode and force.

The order of the checks is the order of what matters: a site that cannot be read fully is
never acted on (an unreachable DNS server must not look like a switched site); a run that
holds a fresh lock is never disturbed; a finished switch is never redone; a half-done one is
completed; then health decides.
"""


class DecisionError(ValueError):
    pass


def _down(verdict, host, services=None):
    """The "host service" entries of the verdict that are down by quorum."""
    if not isinstance(verdict, dict) or not isinstance(verdict.get("down"), list):
        raise DecisionError("the verdict must be the result of continuity.mail.quorum")
    prefix = "%s " % host
    down = [entry for entry in verdict["down"] if str(entry).startswith(prefix)]
    if services is not None:
        down = [entry for entry in down if entry[len(prefix) :] in services]
    return down


def _check_view(view, verdict):
    _down(verdict, "")
    if not isinstance(view, dict) or "active" not in view:
        raise DecisionError(
            "the view must be a continuity.mail.site_state result read with domains"
        )


def _result(case, proceed, reason, error=False, **extra):
    result = {"case": case, "proceed": proceed, "error": error, "reason": reason}
    result.update(extra)
    return result


def _gate(view, flow, run_id):
    """The checks both flows start with: every server read, no fresh lock of another run."""
    unreadable = view.get("unreadable") or []
    if unreadable or view["active"] == "unknown":
        return _result(
            "server_unreadable",
            False,
            "cannot read DNS from %s; an unreadable server counts for neither side, so the "
            "site's state is not known; nothing was changed"
            % (
                "; ".join("%s (%s)" % (u.get("server"), u.get("error")) for u in unreadable)
                or "any authoritative server"
            ),
            error=True,
        )
    lock = view.get("lock")
    if lock and not lock.get("expired") and lock.get("run_id") != run_id:
        return _result(
            "locked",
            False,
            "%s: another continuity run is in progress; no %s now, nothing was changed"
            % (view.get("lock_message") or "the site lock is held", flow),
            error=True,
        )
    return None


def _stale_note(view):
    lock = view.get("lock")
    if lock and lock.get("expired"):
        return "; the expired lock of run %s (host %s) is taken over" % (
            lock.get("run_id"),
            lock.get("host"),
        )
    return ""


def _split(view):
    return "; ".join(
        view.get("disagreements") or []
    ) or "not every domain and client name is on the same server (%s)" % ", ".join(
        view.get("sides") or []
    )


def failover(view, verdict, primary, target, mode="", force=False, services=("smtp",), run_id=None):
    """healthy, primary_down, target_down, done, forced, half_switched, server_unreadable,
    locked."""
    result = _failover(view, verdict, primary, target, mode, force, services, run_id)
    result["primary_down"] = _down(verdict, primary, list(services))
    return result


def _failover(view, verdict, primary, target, mode, force, services, run_id):
    _check_view(view, verdict)
    gate = _gate(view, "failover", run_id)
    if gate:
        return gate
    stale = _stale_note(view)
    if view["active"] == "secondary" and mode == "active":
        return _result(
            "done",
            False,
            "already failed over to %s: every authoritative server prefers it and it is "
            "active; nothing to do" % target,
        )
    target_down = _down(verdict, target)
    if target_down:
        return _result(
            "target_down",
            False,
            "the secondary %s is not healthy (%s down by quorum); refusing to fail over to it"
            % (target, ", ".join(target_down)),
        )
    if view["active"] == "split" or view["active"] == "secondary":
        return _result(
            "half_switched",
            True,
            "a switch to %s was left half done (%s; the secondary is in %s mode); completing it"
            % (
                target,
                _split(view) if view["active"] == "split" else "DNS prefers it",
                mode or "an unknown",
            )
            + stale,
        )
    primary_down = _down(verdict, primary, list(services))
    if primary_down:
        return _result(
            "primary_down",
            True,
            "the primary is down by quorum (%s)" % ", ".join(primary_down) + stale,
        )
    if force:
        return _result(
            "forced", True, "forced (planned maintenance) while the primary is healthy" + stale
        )
    return _result(
        "healthy",
        False,
        "the primary %s is healthy by quorum; nothing changed (use -e force=true for planned "
        "maintenance)" % primary,
    )


def failback(view, verdict, primary, target, mode="", services=("imap",), run_id=None):
    """not_failed_over, primary_down, failed_over, half_switched, unfinished,
    server_unreadable, locked. Adds since: when the site failed over, from the state record
    (None when unrecorded)."""
    _check_view(view, verdict)
    state = view.get("state") or {}
    since = state.get("since") if state.get("state") == "failed_over" else None
    gate = _gate(view, "failback", run_id)
    if gate:
        gate["since"] = since
        return gate
    # DNS and the secondary are back, but the state record still says failed over: a
    # failback stopped after its relay-mode step, before the final sync and reconciliation.
    # Mail saved on the secondary since its first sync would be left behind: finish it.
    unfinished = view["active"] == "primary" and mode != "active" and since is not None
    if view["active"] == "primary" and mode != "active" and not unfinished:
        return _result(
            "not_failed_over",
            False,
            "the site is not failed over (every authoritative server prefers %s and %s is in "
            "%s mode); nothing to do" % (primary, target, mode or "an unknown"),
            since=since,
        )
    primary_down = _down(verdict, primary, list(services))
    if primary_down:
        return _result(
            "primary_down",
            False,
            "the primary %s is not healthy (%s down by quorum); nothing was changed"
            % (primary, ", ".join(primary_down)),
            error=True,
            since=since,
        )
    if unfinished:
        return _result(
            "unfinished",
            True,
            "a failback was left unfinished (every authoritative server prefers %s and %s is "
            "in %s mode, but the state record of run %s still says failed over): finishing "
            "it with the final sync, queue flush and reconciliation"
            % (primary, target, mode or "an unknown", state.get("run_id") or "?")
            + _stale_note(view),
            since=since,
        )
    if view["active"] == "secondary" and mode == "active":
        return _result(
            "failed_over",
            True,
            "failed over to %s; failing back" % target + _stale_note(view),
            since=since,
        )
    return _result(
        "half_switched",
        True,
        "the site is half switched (%s; %s is in %s mode); failing back completes it"
        % (
            _split(view) if view["active"] == "split" else "DNS prefers %s" % view["active"],
            target,
            mode or "an unknown",
        )
        + _stale_note(view),
        since=since,
    )
