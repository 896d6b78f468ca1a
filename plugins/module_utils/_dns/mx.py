# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What continuity.mail.mx_switch does: MX (and client name) semantics on the DNS engine.

For each domain the new MX set is: the active exchange first, then the standby exchanges
(given, or the others of the current set in their current order), then any other current
exchange, with preferences start, start+step, ... Client-access names (mail.<domain>)
follow the active server as a CNAME or as copies of its A/AAAA records. All changes of a
zone travel in the zone's one guarded UPDATE.
"""

import collections
import struct

try:
    import dns.name
    import dns.rdatatype
except ImportError:  # reported by the modules through missing_required_lib()
    pass

from ansible_collections.continuity.mail.plugins.module_utils._dns.engine import (
    Engine,
    plan_failure,
)
from ansible_collections.continuity.mail.plugins.module_utils._dns.input import (
    InputError,
    parse_name,
    parse_ttl,
    parse_uint16,
)
from ansible_collections.continuity.mail.plugins.module_utils._dns.options import (
    settings_from_params,
)
from ansible_collections.continuity.mail.plugins.module_utils._dns.plan import (
    DEFAULT_TTL,
    Change,
    State,
)
from ansible_collections.continuity.mail.plugins.module_utils._dns.wire import Value, name_wire

MX, CNAME, A, AAAA = 15, 5, 1, 28


def switch_spec():
    return dict(
        domains=dict(type="list", elements="str", required=True),
        active=dict(type="str", required=True),
        standby=dict(type="list", elements="str"),
        preference_start=dict(type="int", default=10),
        preference_step=dict(type="int", default=10),
        ttl=dict(type="int"),
        expect_active=dict(type="str"),
        client_names=dict(type="list", elements="str", default=[]),
        client_target=dict(type="str"),
        client_type=dict(type="str", default="auto", choices=["auto", "cname", "address"]),
    )


class Request:
    """The checked options; names without a dot (V(mx2)) are taken inside each domain."""

    def __init__(self, params):
        self.domains = list(
            dict.fromkeys(
                parse_name(d, "domains[%d]" % i) for i, d in enumerate(params["domains"] or [])
            )
        )
        if not self.domains:
            raise InputError("domains must list at least one domain")
        self.start = parse_uint16(params.get("preference_start", 10), "preference_start")
        self.step = parse_uint16(params.get("preference_step", 10), "preference_step")
        if self.step == 0:
            raise InputError(
                "preference_step must be from 1 to 65535, got 0 "
                "(the active exchange must be preferred)"
            )
        self.ttl = parse_ttl(params.get("ttl"), "ttl")
        self.client_type = params.get("client_type") or "auto"
        self.active, self.standby, self.expect_active = {}, {}, {}
        for domain in self.domains:
            self.active[domain] = parse_name(params["active"], "active", origin=domain)
            standby = params.get("standby")
            self.standby[domain] = (
                None
                if standby is None
                else [
                    parse_name(s, "standby[%d]" % i, origin=domain) for i, s in enumerate(standby)
                ]
            )
            if params.get("expect_active"):
                self.expect_active[domain] = parse_name(
                    params["expect_active"], "expect_active", origin=domain
                )
        if (
            params.get("standby") is not None
            and self.start + len(params["standby"]) * self.step > 65535
        ):
            raise InputError(
                "preference_start + preference_step * %d exceeds 65535" % len(params["standby"])
            )
        self.clients = self._clients(
            params.get("client_names") or [], params.get("client_target") or params["active"]
        )

    def _clients(self, names, target):
        clients = {}
        for index, text in enumerate(names):
            what = "client_names[%d]" % index
            if "." not in text.strip():
                pairs = [
                    (
                        parse_name(text, what, origin=d),
                        parse_name(target, "client_target", origin=d),
                    )
                    for d in self.domains
                ]
            else:
                name = parse_name(text, what)
                inside = [d for d in self.domains if name.is_subdomain(d)]
                if "." not in target.strip() and not inside:
                    raise InputError(
                        "%s: %s is in none of the domains, so client_target %r needs to be "
                        "a full name" % (what, name.to_text(), target)
                    )
                origin = max(inside, key=len) if inside else None
                pairs = [(name, parse_name(target, "client_target", origin=origin))]
            for name, target_name in pairs:
                if name == target_name:
                    raise InputError("%s: %s cannot point at itself" % (what, name.to_text()))
                if clients.get(name, target_name) != target_name:
                    raise InputError(
                        "%s: %s is listed twice with different targets" % (what, name.to_text())
                    )
                clients[name] = target_name
        return clients

    def reads(self):
        rrsets = [(d, MX) for d in self.domains]
        for name, target in self.clients.items():
            rrsets += [(name, CNAME), (name, A), (name, AAAA), (target, A), (target, AAAA)]
        return rrsets


def _exchange(name):
    """(canonical key, wire) of an exchange Name: MX sets are compared and built as bytes."""
    return name_wire(name), name.to_wire()


def _text(exchange):
    return dns.name.from_wire(exchange[1], 0)[0].to_text()


def mx_change(request, domain, zone, before, problems):
    # (preference, (key, wire)) most preferred first; State keeps values in that order.
    current = [(struct.unpack_from("!H", v.key)[0], (v.key[2:], v.wire[2:])) for v in before.values]
    top = (
        [exchange for preference, exchange in current if preference == current[0][0]]
        if current
        else []
    )
    want = request.expect_active.get(domain)
    if want is not None and _exchange(want)[0] not in [key for key, _wire in top]:
        problems.append(
            "precondition failed in zone %s: expect_active %s, "
            "but the most preferred exchange is %s"
            % (zone.to_text(), want.to_text(), ", ".join(_text(e) for e in top) or "none (no MX)")
        )
    standby = request.standby[domain]
    order = [_exchange(request.active[domain])]
    order += [_exchange(name) for name in standby] if standby is not None else []
    order += [exchange for _preference, exchange in current]
    unique = collections.OrderedDict()
    for key, wire in order:
        unique.setdefault(key, wire)
    last = request.start + (len(unique) - 1) * request.step
    values = []
    if last > 65535:
        problems.append(
            "zone %s: %d exchanges from preference %d in steps of %d exceed 65535"
            % (zone.to_text(), len(unique), request.start, request.step)
        )
    else:
        for index, (key, wire) in enumerate(unique.items()):
            head = struct.pack("!H", request.start + index * request.step)
            values.append(Value(head + key, head + wire))
    ttl = request.ttl if request.ttl is not None else (before.ttl or DEFAULT_TTL)
    return Change(zone, domain, MX, before, State(ttl, values))


def client_changes(request, reading, name, target, problems):
    state = dict((t, reading.state(name, t)) for t in (CNAME, A, AAAA))
    zone = reading.zone_of[name]
    mode = request.client_type
    if mode == "auto":
        mode = (
            "address"
            if (state[A].exists or state[AAAA].exists) and not state[CNAME].exists
            else "cname"
        )
    ttl = (
        request.ttl
        if request.ttl is not None
        else next((s.ttl for s in state.values() if s.exists), DEFAULT_TTL)
    )
    if mode == "cname":
        if name == zone:
            problems.append(
                "%s is the zone apex; it cannot be a CNAME (use client_type=address)"
                % name.to_text()
            )
        wanted = {
            CNAME: State(ttl, [Value(name_wire(target), target.to_wire())]),
            A: State(),
            AAAA: State(),
        }
    else:
        wanted = {CNAME: State()}
        for rdtype in (A, AAAA):
            wanted[rdtype] = State(ttl, reading.state(target, rdtype).values)
        if not wanted[A].exists and not wanted[AAAA].exists:
            problems.append(
                "client_target %s has no A or AAAA records to copy to %s"
                % (target.to_text(), name.to_text())
            )
    return [
        Change(zone, name, rdtype, state[rdtype], wanted[rdtype])
        for rdtype in (CNAME, A, AAAA)
        if state[rdtype].exists or wanted[rdtype].exists
    ]


def _typed(changes, side):
    return [
        "%s %s" % (dns.rdatatype.to_text(c.rdtype), text)
        for c in changes
        for text in getattr(c, side).texts(c.rdtype)
    ]


def run(params, check_mode, want_diff):
    """(result, failure message or None); raises InputError before any network I/O."""
    settings = settings_from_params(params)
    request = Request(params)
    engine = Engine(settings)
    try:
        reading = engine.read(
            locate=request.domains + list(request.clients), rrsets=request.reads()
        )
        if reading.problems:
            return {"changed": False, "problems": reading.problems}, plan_failure(reading.problems)
        problems, changes, domains, clients = [], [], [], []
        for domain in request.domains:
            change = mx_change(
                request, domain, reading.zone_of[domain], reading.state(domain, MX), problems
            )
            changes.append(change)
            domains.append(
                {
                    "domain": change.name_text,
                    "zone": change.zone_text,
                    "ttl": change.after.ttl,
                    "before": change.before.texts(MX),
                    "after": change.after.texts(MX),
                    "changed": change.changed,
                }
            )
        for name, target in request.clients.items():
            these = client_changes(request, reading, name, target, problems)
            changes += these
            clients.append(
                {
                    "name": name.to_text(),
                    "zone": reading.zone_of[name].to_text(),
                    "before": _typed(these, "before"),
                    "after": _typed(these, "after"),
                    "changed": any(c.changed for c in these),
                }
            )
        if problems:
            return {
                "changed": False,
                "problems": problems,
                "domains": domains,
                "clients": clients,
            }, plan_failure(problems)
        # domains and clients say it all per name; the raw RRsets would double a large result.
        result, failure = engine.finish(changes, check_mode, want_diff, rrsets=False)
        result.update(domains=domains, clients=clients)
        return result, failure
    finally:
        engine.close()
