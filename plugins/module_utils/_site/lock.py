# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What continuity.mail.site_lock does: the lease decisions (lease.py) on the DNS engine."""

import getpass
import socket
import time

from ansible_collections.continuity.mail.plugins.module_utils._dns.engine import Engine
from ansible_collections.continuity.mail.plugins.module_utils._dns.input import (
    InputError,
    parse_name,
    parse_ttl,
)
from ansible_collections.continuity.mail.plugins.module_utils._dns.options import (
    settings_from_params,
)
from ansible_collections.continuity.mail.plugins.module_utils._site import lease, records

DEFAULT_LEASE = 120


def lock_spec():
    return dict(
        name=dict(type="str", required=True),
        action=dict(type="str", default="take", choices=list(lease.ACTIONS)),
        run_id=dict(type="str"),
        owner=dict(type="str"),
        host=dict(type="str"),
        lease=dict(type="int", default=DEFAULT_LEASE),
        ttl=dict(type="int", default=30),
    )


def _user():
    try:
        return getpass.getuser() or "continuity"
    except (KeyError, OSError):
        return "continuity"


def _clock():
    return time.time()


def run(params, check_mode, want_diff, clock=_clock):
    """(result, failure message or None); raises InputError before any network I/O."""
    settings = settings_from_params(params)
    name = parse_name(params.get("name"), "name")
    action = params.get("action") or "take"
    ttl = parse_ttl(params.get("ttl", 30), "ttl")
    seconds = params.get("lease", DEFAULT_LEASE)
    if action != "read" and not params.get("run_id"):
        raise InputError("action=%s needs run_id" % action)
    owner = params.get("owner") or _user()
    host = params.get("host") or socket.gethostname().split(".")[0] or "unknown"
    try:
        # Inputs checked before any I/O: an empty record stands in for the real one.
        lease.decide(action, [], params.get("run_id"), 0, seconds, owner, host)
    except lease.LeaseError as exc:
        raise InputError(str(exc)) from None
    engine = Engine(settings)
    try:
        record, failure = records.read(engine, name)
        if failure:
            return {"changed": False}, failure
        now = clock()
        decision = lease.decide(
            action, record.texts, params.get("run_id"), now, seconds, owner, host
        )
        before = lease.holder_of(record.texts)
        result = {
            "changed": False,
            "action": action,
            "name": name.to_text(),
            "msg": decision.message,
            "previous": before.as_dict(now) if before else None,
            "lock": decision.lease.as_dict(now) if decision.lease else None,
            "held": bool(decision.lease and not decision.lease.expired(now)),
        }
        if not decision.ok:
            return result, decision.message
        if not decision.changes:
            return result, None
        change = records.change(record, decision.write, ttl, delete=decision.delete)
        applied, failure = engine.finish([change], check_mode, want_diff, rrsets=False)
        result["changed"] = applied["changed"]
        if "diff" in applied:
            result["diff"] = applied["diff"]
        if failure is None:
            return result, None
        if not records.concurrent(applied):
            return result, failure
        # Lost a race: say who won, from the record as it is now.
        again, problem = records.read(engine, name)
        now = clock()
        holder = lease.holder_of(again.texts) if again else None
        result.update(
            changed=False,
            lock=holder.as_dict(now) if holder else None,
            held=bool(holder and not holder.expired(now)),
        )
        if holder is not None:
            message = (
                "the site lock changed while we %s it: it is held by %s; nothing was changed"
                % ("took" if action == "take" else action + "d", holder.describe(now))
            )
        else:
            message = "the site lock changed while we used it (%s); nothing was changed" % (
                problem or "it is gone now"
            )
        result["msg"] = message
        return result, message
    finally:
        engine.close()
