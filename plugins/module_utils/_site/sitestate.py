# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What continuity.mail.site_state does: the view from every server, the state record and
the lock, and writing the state record (guarded by what was read)."""

import time

from ansible_collections.continuity.mail.plugins.module_utils._dns.engine import Engine
from ansible_collections.continuity.mail.plugins.module_utils._dns.input import (
    InputError,
    parse_name,
    parse_server,
)
from ansible_collections.continuity.mail.plugins.module_utils._dns.options import (
    settings_from_params,
)
from ansible_collections.continuity.mail.plugins.module_utils._site import (
    lease,
    records,
    state,
    view,
)


def state_spec():
    return dict(
        name=dict(type="str", required=True),
        lock_name=dict(type="str"),
        servers=dict(type="list", elements="str", default=[]),
        domains=dict(type="list", elements="str", default=[]),
        client_names=dict(type="list", elements="str", default=[]),
        primary=dict(type="str"),
        secondary=dict(type="str"),
        write=dict(
            type="dict",
            options=dict(
                state=dict(type="str", required=True, choices=list(state.STATES)),
                active=dict(type="str", required=True),
                since=dict(type="float"),
                run_id=dict(type="str", required=True),
                reason=dict(type="str", default=""),
                primary=dict(type="str"),
            ),
        ),
        ttl=dict(type="int", default=60),
    )


def _clock():
    return time.time()


def run(params, check_mode, want_diff, clock=_clock):
    """(result, failure message or None); raises InputError before any network I/O."""
    settings = settings_from_params(params)
    name = parse_name(params.get("name"), "name")
    lock_name = parse_name(params["lock_name"], "lock_name") if params.get("lock_name") else None
    endpoints = [settings.endpoint]
    for index, text in enumerate(params.get("servers") or []):
        endpoint = parse_server(text, "servers[%d]" % index, settings.endpoint.port)
        if endpoint not in endpoints:
            endpoints.append(endpoint)
    site = view.Site(
        params.get("domains") or [],
        params.get("client_names") or [],
        {"primary": params.get("primary"), "secondary": params.get("secondary")},
    )
    write = params.get("write")
    text = None
    now = clock()
    if write:
        try:
            text = state.encode(
                write["state"],
                write["active"],
                write.get("since") if write.get("since") is not None else now,
                write["run_id"],
                write.get("reason"),
                now,
                write.get("primary"),
            )
        except state.StateError as exc:
            raise InputError("write: %s" % exc) from None
    result = {"changed": False}
    if site.domains:
        servers = view.read_all(endpoints, site, settings.protocol, settings.timeout)
        result["servers"] = servers
        result.update(view.summarise(servers))
    engine = Engine(settings)
    try:
        record, failure = records.read(engine, name)
        if failure:
            result["state"] = None
            return result, "cannot read the state record: %s" % failure
        result["record"] = name.to_text()
        result["state"] = state.decode(record.texts)
        if lock_name is not None:
            held, failure = records.read(engine, lock_name)
            if failure:
                return result, "cannot read the site lock: %s" % failure
            holder = lease.holder_of(held.texts)
            now = clock()
            result["lock"] = holder.as_dict(now) if holder else None
            result["lock_message"] = lease.describe_lock(holder, now)
        if text is None:
            return result, None
        change = records.change(record, text, params.get("ttl", 60))
        applied, failure = engine.finish([change], check_mode, want_diff, rrsets=False)
        result["changed"] = applied["changed"]
        result["state"] = state.decode([text])
        result["previous"] = state.decode(record.texts)
        if "diff" in applied:
            result["diff"] = applied["diff"]
        return result, failure
    finally:
        engine.close()
