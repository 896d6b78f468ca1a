# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wait until every authoritative server serves the new data.

The servers of a zone are its NS set (names resolved through the primary first, since
in-zone NS names often resolve nowhere else, then through the system resolver) plus the
caller's extra servers. A server is in sync for a zone when its SOA serial is at least the
primary's serial after the change (RFC 1982 arithmetic) and every RRset of the run has the
new values. One batch to the primary gives the target serials, the NS sets and the
primary's own state; the other servers are polled in parallel, one connection each, with
a capped back-off.
"""

import concurrent.futures
import ipaddress
import socket
import time

try:
    import dns.name
except ImportError:  # reported by the modules through missing_required_lib()
    pass

from ansible_collections.continuity.mail.plugins.module_utils._dns.plan import State
from ansible_collections.continuity.mail.plugins.module_utils._dns.transport import (
    Connection,
    DNSError,
    Endpoint,
    rcode_error,
)
from ansible_collections.continuity.mail.plugins.module_utils._dns.wire import (
    TYPE_A,
    TYPE_AAAA,
    TYPE_NS,
    TYPE_SOA,
    FastQuery,
    name_wire,
)

FIRST_DELAY = 0.05
MAX_DELAY = 1.0


def serial_at_least(serial, target):
    """RFC 1982: serial is target or comes after it."""
    return serial is not None and ((serial - target) & 0xFFFFFFFF) < 0x80000000


class ServerState:
    """Where one server stands: its serial per zone and the zones still lagging."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.names = []
        self.serial = {}
        self.lagging = {}
        self.error = None

    def as_dict(self):
        return {
            "server": self.endpoint.label,
            "names": sorted(self.names),
            "in_sync": not self.lagging,
            "serial": dict((zone.to_text(), serial) for zone, serial in self.serial.items()),
            "lagging": [dict(zone=zone.to_text(), **seen) for zone, seen in self.lagging.items()],
            "error": self.error,
        }

    def describe(self):
        what = self.endpoint.label + (" (%s)" % ", ".join(sorted(self.names)) if self.names else "")
        if self.error:
            return "%s: %s" % (what, self.error)
        zone, seen = next(iter(self.lagging.items()))
        more = " and %d more zone(s)" % (len(self.lagging) - 1) if len(self.lagging) > 1 else ""
        return "%s serves %s serial %s (want >= %s) %s%s" % (
            what,
            zone.to_text(),
            seen["serial"],
            seen["want_serial"],
            seen["serving"],
            more,
        )

    def record(self, zone, answers, changes, target):
        """Update from the answers ({(name, rdtype): reply}) about one zone."""
        if any(isinstance(answers[key], DNSError) for key in _zone_keys(zone, changes)):
            self.serial.setdefault(zone, None)
            self.lagging[zone] = {
                "serial": self.serial[zone],
                "want_serial": target,
                "serving": "no answer",
            }
            return
        soa = answers[(name_wire(zone), TYPE_SOA)]
        serial = soa.soa("answer")[1] if soa.rcode == 0 and soa.aa else None
        in_sync = serial_at_least(serial, target)
        seen = []
        for change in changes:
            reply = answers[(change.wire, change.rdtype)]
            state = None
            if reply.rcode in (0, 3) and reply.aa:
                state = State(*reply.rrset(change.wire, change.rdtype))
            in_sync = in_sync and state is not None and state.same(change.after)
            seen.append((change, state))
        self.serial[zone] = serial
        if in_sync:
            self.lagging.pop(zone, None)
        else:
            self.lagging[zone] = {
                "serial": serial,
                "want_serial": target,
                "serving": dict(
                    (c.label(), "not authoritative" if s is None else s.texts(c.rdtype))
                    for c, s in seen
                ),
            }


def _zone_keys(zone, changes):
    """(wire name, rdtype) of the queries that tell whether a server serves a zone's changes."""
    return [(name_wire(zone), TYPE_SOA)] + [(change.wire, change.rdtype) for change in changes]


def _ask(connection, keys):
    """{key: reply or DNSError} for (wire name, rdtype) keys, in one pipelined exchange."""
    return dict(zip(keys, connection.exchange([FastQuery(wire, rdtype) for wire, rdtype in keys])))


def poll(connection, state, plan, targets):
    """Ask one server about its lagging zones; updates state in place."""
    keys = [key for zone in state.lagging for key in _zone_keys(zone, plan[zone])]
    answers = _ask(connection, keys)
    errors = [reply for reply in answers.values() if isinstance(reply, DNSError)]
    state.error = errors[0].detail if errors else None
    for zone in list(state.lagging):
        state.record(zone, answers, plan[zone], targets[zone])


def _address(rdtype, key):
    family = socket.AF_INET if rdtype == TYPE_A else socket.AF_INET6
    return str(ipaddress.ip_address(socket.inet_ntop(family, key)))


def _resolve(connection, names, timeout):
    """{NS name: [address]} through the primary, then the system resolver; and warnings."""
    keys = [(name_wire(name), rdtype) for name in names for rdtype in (TYPE_A, TYPE_AAAA)]
    addresses = dict((name, []) for name in names)
    by_wire = dict((name_wire(name), name) for name in names)
    for (wire, rdtype), reply in _ask(connection, keys).items():
        if not isinstance(reply, DNSError) and reply.rcode == 0 and reply.aa:
            addresses[by_wire[wire]] += [
                _address(rdtype, v.key) for v in reply.rrset(wire, rdtype)[1]
            ]
    warnings = []
    for name in [n for n, found in addresses.items() if not found]:
        try:
            # imported only here: the resolver costs start-up time and is rarely needed
            import dns.resolver  # pylint: disable=import-outside-toplevel

            addresses[name] = [
                rdata.address for rdata in dns.resolver.resolve(name, "A", lifetime=timeout)
            ]
        except Exception as exc:  # any resolver failure means: cannot wait for this server
            warnings.append(
                "NS %s does not resolve (%s); not waiting for it" % (name.to_text(), exc)
            )
    return addresses, warnings


def _first_batch(primary, plan):
    """Target serial per zone, NS names per zone, and the primary's own ServerState."""
    keys = []
    for zone, changes in plan.items():
        keys += _zone_keys(zone, changes) + [(name_wire(zone), TYPE_NS)]
    answers = _ask(primary, keys)
    targets, ns_names = {}, {}
    mine = ServerState(primary.endpoint)
    for zone, changes in plan.items():
        soa = answers[(name_wire(zone), TYPE_SOA)]
        if isinstance(soa, DNSError):
            raise soa
        if soa.rcode != 0 or soa.soa("answer")[1] is None:
            raise rcode_error(
                primary.endpoint.label, soa.rcode, "SOA query for %s" % zone.to_text()
            ) or DNSError(
                primary.endpoint.label, "NOERROR", "no SOA for %s after the change" % zone.to_text()
            )
        targets[zone] = soa.soa("answer")[1]
        mine.record(zone, answers, changes, targets[zone])
        ns = answers[(name_wire(zone), TYPE_NS)]
        ns_names[zone] = (
            []
            if isinstance(ns, DNSError) or ns.rcode != 0
            else [dns.name.from_wire(v.key, 0)[0] for v in ns.rrset(name_wire(zone), TYPE_NS)[1]]
        )
    return targets, ns_names, mine


def wait_for_servers(primary, plan, extra, protocol, timeout, wait_timeout):
    """Poll every server of every zone in plan ({zone: [Change]}) until all are in sync or
    wait_timeout passes. Returns ([ServerState], warnings); raises DNSError when the
    primary itself cannot tell its new serial."""
    deadline = time.monotonic() + wait_timeout
    targets, ns_names, mine = _first_batch(primary, plan)
    addresses, warnings = _resolve(
        primary, list(dict.fromkeys(n for names in ns_names.values() for n in names)), timeout
    )
    states = {}
    for zone in plan:
        servers = [(ns, Endpoint(a)) for ns in ns_names[zone] for a in addresses[ns]] + [
            (None, e) for e in extra
        ]
        for ns_name, endpoint in servers:
            state = states.setdefault(endpoint, ServerState(endpoint))
            if ns_name is not None and ns_name.to_text() not in state.names:
                state.names.append(ns_name.to_text())
            state.lagging[zone] = {
                "serial": None,
                "want_serial": targets[zone],
                "serving": "not asked yet",
            }
    if not states:
        return [], warnings + [
            "no server to wait for: the NS names do not resolve and wait_servers is empty"
        ]
    if primary.endpoint in states:
        # The batch above already asked the primary everything a poll would.
        state = states[primary.endpoint]
        state.serial, state.lagging = (
            mine.serial,
            dict((z, s) for z, s in mine.lagging.items() if z in state.lagging),
        )
    _poll_until(states, plan, targets, protocol, timeout, deadline)
    return list(states.values()), warnings


def _poll_until(states, plan, targets, protocol, timeout, deadline):
    connections = dict((endpoint, Connection(endpoint, protocol, timeout)) for endpoint in states)
    delay = FIRST_DELAY
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(16, len(states))) as pool:
            while True:
                active = [state for state in states.values() if state.lagging]
                remaining = deadline - time.monotonic()
                if not active or remaining <= 0:
                    return
                for state in active:
                    connections[state.endpoint].timeout = max(0.2, min(timeout, remaining))
                list(
                    pool.map(
                        lambda state: poll(connections[state.endpoint], state, plan, targets),
                        active,
                    )
                )
                remaining = deadline - time.monotonic()
                if remaining > 0 and any(state.lagging for state in active):
                    time.sleep(min(delay, remaining))
                    delay = min(delay * 2, MAX_DELAY)
    finally:
        for connection in connections.values():
            connection.close()
