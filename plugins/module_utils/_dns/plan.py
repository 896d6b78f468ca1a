# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read zones and RRsets from the primary and describe the changes to make.

Reading is one pipelined batch of plain queries (an SOA per name to place it in its zone,
one query per RRset). A Change holds the RRset as read (before), as wanted (after) and as
the caller said it must be now (expect); update.UpdateRequest turns a zone's Changes into one
UPDATE whose prerequisites are the befores as read.
"""

try:
    import dns.name
    import dns.rdatatype
except ImportError:  # reported by the modules through missing_required_lib()
    pass

from ansible_collections.continuity.mail.plugins.module_utils._dns.transport import (
    DNSError,
    rcode_error,
)
from ansible_collections.continuity.mail.plugins.module_utils._dns.wire import (
    TYPE_SOA,
    FastQuery,
    name_wire,
    to_text,
)

DEFAULT_TTL = 3600


class State:
    """An RRset: ttl (None when it does not exist) and its Values, sorted canonically."""

    __slots__ = ("_texts", "ttl", "values")

    def __init__(self, ttl=None, values=()):
        self.values = tuple(sorted(values))
        self.ttl = ttl if self.values else None
        self._texts = None

    @property
    def exists(self):
        return bool(self.values)

    def keys(self):
        return frozenset(value.key for value in self.values)

    def same(self, other):
        """Same data: same values; same TTL too when both exist."""
        return self.keys() == other.keys() and (not self.exists or self.ttl == other.ttl)

    def texts(self, rdtype):
        if self._texts is None:
            self._texts = [to_text(rdtype, value) for value in self.values]
        return self._texts

    def as_dict(self, rdtype):
        return {"ttl": self.ttl, "values": self.texts(rdtype)}


class Change:
    """One RRset of one zone: as read, as wanted, and what the caller said it must be now."""

    def __init__(self, zone, name, rdtype, before, after, expect=None):
        self.zone = zone
        self.name = name
        self.rdtype = rdtype
        self.before = before
        self.after = after
        self.expect = expect
        self.changed = not before.same(after)
        # Computed once: a thousand zones ask for these many times.
        self.wire = name_wire(name)
        self.zone_text = zone.to_text()
        self.name_text = name.to_text()

    def label(self):
        return "%s %s" % (self.name_text, dns.rdatatype.to_text(self.rdtype))

    def as_dict(self):
        return {
            "zone": self.zone_text,
            "name": self.name_text,
            "type": dns.rdatatype.to_text(self.rdtype),
            "before": self.before.as_dict(self.rdtype),
            "after": self.after.as_dict(self.rdtype),
            "changed": self.changed,
        }

    def zone_lines(self, state):
        return [
            "%s %d IN %s %s" % (self.name_text, state.ttl, dns.rdatatype.to_text(self.rdtype), text)
            for text in state.texts(self.rdtype)
        ]


class Reading:
    """What the primary serves now: the zone of each located name and each RRset read."""

    def __init__(self):
        self.zone_of = {}
        self.serial = {}
        self.states = {}
        self.problems = []

    def state(self, name, rdtype):
        return self.states[(name, rdtype)]


def _wire_name(wire):
    return dns.name.from_wire(wire, 0)[0]


def _locate(reading, name, reply, server):
    """Zone of name from its SOA answer: True when found, False when the parents must be asked."""
    if isinstance(reply, DNSError):
        reading.problems.append("%s: %s" % (name.to_text(), reply))
        return True
    error = (
        rcode_error(server, reply.rcode, "SOA query for %s" % name.to_text())
        if reply.rcode not in (0, 3)
        else None
    )
    if error is not None:
        reading.problems.append(str(error))
        return True
    if not reply.aa:
        reading.problems.append("%s: not authoritative for %s" % (server, name.to_text()))
        return True
    owner, serial = reply.soa("answer")
    if owner is not None and owner == name_wire(name):
        reading.zone_of[name] = name
        reading.serial[name] = serial
        return True
    owner, serial = reply.soa("authority")
    if owner is not None and not reply.has_alias():
        zone = _wire_name(owner)
        if name.is_subdomain(zone):
            reading.zone_of[name] = zone
            reading.serial[zone] = serial
            return True
    return False


def _check_apex(reading, zone, reply, server):
    """A zone the caller named must be an apex the server is authoritative for."""
    if isinstance(reply, DNSError):
        reading.problems.append("zone %s: %s" % (zone.to_text(), reply))
    elif reply.rcode != 0:
        reading.problems.append(
            str(rcode_error(server, reply.rcode, "SOA query for zone %s" % zone.to_text()))
        )
    elif not reply.aa or reply.soa("answer")[0] != name_wire(zone):
        reading.problems.append(
            "%s: not authoritative for zone %s (no SOA at that name)" % (server, zone.to_text())
        )
    else:
        reading.zone_of[zone] = zone
        reading.serial[zone] = reply.soa("answer")[1]


def _walk_up(connection, reading, names):
    """Place names whose SOA answer was an alias (CNAME/DNAME): their zone is the deepest
    zone above them, so ask the SOA of each parent below the nearest zone already known."""
    asks = {}
    for name in names:
        parent = name.parent()
        while parent != dns.name.root and parent not in reading.serial:
            asks.setdefault(parent, None)
            parent = parent.parent()
    order = list(asks)
    for parent, reply in zip(
        order, connection.exchange([FastQuery(name_wire(p), TYPE_SOA) for p in order])
    ):
        if not isinstance(reply, DNSError) and reply.rcode == 0 and reply.aa:
            owner, serial = reply.soa("answer")
            if owner == name_wire(parent):
                reading.serial[parent] = serial
    for name in names:
        parent = name.parent()
        while parent != dns.name.root and parent not in reading.serial:
            parent = parent.parent()
        if parent == dns.name.root:
            reading.problems.append(
                "%s: no zone for %s" % (connection.endpoint.label, name.to_text())
            )
        else:
            reading.zone_of[name] = parent


def read(connection, locate=(), zones=(), rrsets=()):
    """One batch: the zone of each name in locate, the SOA of each given zone (it must be an
    apex the server is authoritative for), and each (name, rdtype) RRset."""
    server = connection.endpoint.label
    locate, zones, rrsets = (
        list(dict.fromkeys(locate)),
        list(dict.fromkeys(zones)),
        list(dict.fromkeys(rrsets)),
    )
    queries = [FastQuery(name_wire(name), TYPE_SOA) for name in locate + zones]
    queries += [FastQuery(name_wire(name), rdtype) for name, rdtype in rrsets]
    replies = connection.exchange(queries)
    reading = Reading()
    unplaced = [
        name for name, reply in zip(locate, replies) if not _locate(reading, name, reply, server)
    ]
    for zone, reply in zip(zones, replies[len(locate) :]):
        _check_apex(reading, zone, reply, server)
    if unplaced:
        _walk_up(connection, reading, unplaced)
    for (name, rdtype), reply in zip(rrsets, replies[len(locate) + len(zones) :]):
        what = "%s %s" % (name.to_text(), dns.rdatatype.to_text(rdtype))
        if isinstance(reply, DNSError):
            reading.problems.append("%s: %s" % (what, reply))
        elif reply.rcode not in (0, 3):
            reading.problems.append(str(rcode_error(server, reply.rcode, "query for %s" % what)))
        elif not reply.aa:
            reading.problems.append("%s: not authoritative for %s" % (server, what))
        else:
            ttl, values = reply.rrset(name_wire(name), rdtype)
            reading.states[(name, rdtype)] = State(ttl, values)
    return reading


def expectation_problems(changes):
    """A message per change whose RRset is not what the caller said it must be now."""
    problems = []
    for change in changes:
        if (
            change.expect is not None
            and frozenset(v.key for v in change.expect) != change.before.keys()
        ):
            want = [to_text(change.rdtype, v) for v in change.expect] or "not to exist"
            have = change.before.texts(change.rdtype) or "does not exist"
            problems.append(
                "precondition failed in zone %s: %s expected %s, found %s"
                % (change.zone.to_text(), change.label(), want, have)
            )
    return problems
