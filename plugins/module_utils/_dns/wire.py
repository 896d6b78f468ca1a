# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plain (unsigned) DNS queries rendered and parsed without building dnspython objects.

Reading a thousand zones means parsing thousands of answers; dnspython's full parser spends
~0.5 ms on each (mostly on the authority and additional sections we do not need). These
helpers read only the question, answer and authority sections and reduce every record to
its canonical form (RFC 4034 section 6.2: names uncompressed and lower-cased), which is
exactly dnspython's ``Rdata.to_digestable()``, so user values and server data compare as
bytes. Record types without a fast path here go through dnspython.
"""

import struct

try:
    import dns.name
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype
except ImportError:  # reported by the modules through missing_required_lib()
    pass

_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
CLASS_IN = 1
TYPE_A, TYPE_NS, TYPE_CNAME, TYPE_SOA, TYPE_PTR, TYPE_MX, TYPE_TXT = 1, 2, 5, 6, 12, 15, 16
TYPE_AAAA, TYPE_SRV, TYPE_DNAME, TYPE_SPF = 28, 33, 39, 99
_RAW_TYPES = frozenset((TYPE_A, TYPE_TXT, TYPE_AAAA, TYPE_SPF))
_NAME_TYPES = frozenset((TYPE_NS, TYPE_CNAME, TYPE_PTR, TYPE_DNAME))
FLAG_QR, FLAG_AA, FLAG_TC = 0x8000, 0x0400, 0x0200


class WireError(ValueError):
    pass


class Record:
    """One RR: owner (canonical wire name), rdtype, ttl, and its rdata as a Value."""

    __slots__ = ("owner", "rdtype", "ttl", "value")

    def __init__(self, owner, rdtype, ttl, value):
        self.owner = owner
        self.rdtype = rdtype
        self.ttl = ttl
        self.value = value


class Value(tuple):
    """(key, wire): key is the canonical form that comparisons use, wire the rdata as the
    server holds it (names uncompressed, case kept), which prerequisites must repeat."""

    __slots__ = ()

    def __new__(cls, key, wire=None):
        return tuple.__new__(cls, (key, key if wire is None else wire))

    @property
    def key(self):
        return self[0]

    @property
    def wire(self):
        return self[1]


class Reply:
    """The parts of an answer the planner and the waiter look at."""

    __slots__ = ("aa", "answer", "authority", "rcode", "tc")

    def __init__(self, rcode, aa, tc, answer, authority):
        self.rcode = rcode
        self.aa = aa
        self.tc = tc
        self.answer = answer
        self.authority = authority

    def rrset(self, owner, rdtype):
        """(ttl, [Value]) of the RRset owner/rdtype in the answer; (None, []) if absent."""
        found = [r for r in self.answer if r.rdtype == rdtype and r.owner == owner]
        return (min(r.ttl for r in found) if found else None), [r.value for r in found]

    def soa(self, section):
        """(zone wire name, serial) of the first SOA in section ('answer' or 'authority')."""
        for record in getattr(self, section):
            if record.rdtype == TYPE_SOA:
                return record.owner, soa_serial(record.value.key)
        return None, None

    def has_alias(self):
        return any(r.rdtype in (TYPE_CNAME, TYPE_DNAME) for r in self.answer)


def name_wire(name):
    """Canonical wire form of a dnspython Name (absolute, lower-cased)."""
    return name.canonicalize().to_wire()


def soa_serial(rdata):
    """The serial of an uncompressed SOA rdata (it follows the two names)."""
    offset = _skip_name(rdata, _skip_name(rdata, 0))
    return struct.unpack_from("!I", rdata, offset)[0]


def _skip_name(data, offset):
    while data[offset]:
        offset += data[offset] + 1
    return offset + 1


def read_name(wire, offset):
    """(uncompressed name as written, offset after the name in place).

    Label lengths are below 64, so lower() on the result only touches label text."""
    labels = []
    end = None
    hops = 0
    while True:
        if offset >= len(wire):
            raise WireError("name runs past the end of the message")
        length = wire[offset]
        if length & 0xC0 == 0xC0:
            if end is None:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | wire[offset + 1]
            hops += 1
            if hops > 127:
                raise WireError("compression loop")
            continue
        if length & 0xC0:
            raise WireError("unknown label type")
        labels.append(wire[offset : offset + length + 1])
        offset += length + 1
        if length == 0:
            break
    return b"".join(labels), (end if end is not None else offset)


def read_value(wire, offset, rdlen, rdtype):
    """The Value of one rdata; decompresses names (they may point anywhere in wire)."""
    end = offset + rdlen
    if rdtype in _RAW_TYPES:
        return Value(bytes(wire[offset:end]))
    if rdtype in _NAME_TYPES:
        name = read_name(wire, offset)[0]
        return Value(name.lower(), name)
    if rdtype in (TYPE_MX, TYPE_SRV):
        fixed = 2 if rdtype == TYPE_MX else 6
        name = read_name(wire, offset + fixed)[0]
        return Value(
            bytes(wire[offset : offset + fixed]) + name.lower(),
            bytes(wire[offset : offset + fixed]) + name,
        )
    if rdtype == TYPE_SOA:
        mname, after = read_name(wire, offset)
        rname, after = read_name(wire, after)
        tail = bytes(wire[after : after + 20])
        return Value(mname.lower() + rname.lower() + tail, mname + rname + tail)
    return value_of(dns.rdata.from_wire(dns.rdataclass.IN, rdtype, wire, offset, rdlen))


def value_of(rdata):
    """The Value of a dnspython Rdata."""
    return Value(rdata.to_digestable(dns.name.root), rdata.to_wire(origin=dns.name.root))


_PLAIN = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789-_*")


def _name_text(wire, offset):
    """Text of a lower-case uncompressed name made only of plain characters, else None."""
    labels = []
    while wire[offset]:
        label = wire[offset + 1 : offset + 1 + wire[offset]]
        if not _PLAIN.issuperset(label):
            return None
        labels.append(label.decode("ascii"))
        offset += wire[offset] + 1
    return ".".join(labels) + "."


def to_text(rdtype, value):
    """Zone-file text of a Value (absolute names, lower case); common types without dnspython."""
    key = value.key
    text = None
    if rdtype == TYPE_MX:
        text = _name_text(key, 2)
        text = text and "%d %s" % (struct.unpack_from("!H", key)[0], text)
    elif rdtype in _NAME_TYPES:
        text = _name_text(key, 0)
    elif rdtype == TYPE_A and len(key) == 4:
        text = "%d.%d.%d.%d" % tuple(key)
    if text is None:
        text = dns.rdata.from_wire(dns.rdataclass.IN, rdtype, key, 0, len(key)).to_text()
    return text


class FastQuery:
    """An unsigned, non-recursive IN query for one name and type."""

    __slots__ = ("_question", "_sections", "qname", "rdtype")
    is_update = False

    def __init__(self, qname, rdtype):
        self.qname = qname
        self.rdtype = rdtype
        self._question = qname + struct.pack("!HH", rdtype, CLASS_IN)
        # Only SOA lookups need the authority section (the zone of a name that has no data).
        self._sections = 2 if rdtype == TYPE_SOA else 1

    def render(self, msg_id, key):
        return _HEADER.pack(msg_id, 0, 1, 0, 0, 0) + self._question

    def accept(self, wire, key, fail):
        """The Reply, or fail(code, detail) when the answer is unusable."""
        try:
            return self._parse(wire)
        except (WireError, IndexError, struct.error) as exc:
            return fail("FORMERR", "malformed answer to %s: %s" % (self, exc))

    def _parse(self, wire):
        _id, flags, qdcount, ancount, nscount, _arcount = _HEADER.unpack_from(wire, 0)
        rcode = flags & 0xF
        if not flags & FLAG_QR or (flags >> 11) & 0xF:
            raise WireError("not an answer to a query")
        offset = 12
        if qdcount:
            qname, offset = read_name(wire, offset)
            qname = qname.lower()
            if (
                qdcount != 1
                or wire[offset : offset + 4] != self._question[-4:]
                or qname != self.qname
            ):
                raise WireError("the answer is for another question")
            offset += 4
        elif rcode == 0:
            raise WireError("the answer has no question")
        sections = [[], []]
        for section, count in enumerate((ancount, nscount)[: self._sections]):
            records = []
            for dummy in range(count):
                owner, offset = read_name(wire, offset)
                rdtype, _rdclass, ttl, rdlen = _RR.unpack_from(wire, offset)
                offset += _RR.size
                if offset + rdlen > len(wire):
                    raise WireError("record runs past the end of the message")
                records.append(
                    Record(owner.lower(), rdtype, ttl, read_value(wire, offset, rdlen, rdtype))
                )
                offset += rdlen
            sections[section] = records
        return Reply(rcode, bool(flags & FLAG_AA), bool(flags & FLAG_TC), sections[0], sections[1])

    def __str__(self):
        return "%s %s" % (
            dns.name.from_wire(self.qname, 0)[0].to_text(),
            dns.rdatatype.to_text(self.rdtype),
        )
