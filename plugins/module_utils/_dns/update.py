# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One zone's guarded RFC 2136 UPDATE, rendered straight to wire and TSIG-signed.

Sections (RFC 2136 section 2): the zone, then prerequisites for every RRset the change
relies on exactly as it was read (value-dependent "RRset exists", class IN, TTL 0, or
"RRset does not exist", class NONE), then deletions of whole RRsets (class ANY), then the
new records. Deleting before adding lets a CNAME become A records in the same message.
The records come as wire already, so rendering skips dnspython's message objects, and
tsig signs and checks with the standard library: a thousand zones in milliseconds.
"""

import struct

from ansible_collections.continuity.mail.plugins.module_utils._dns.wire import read_name

CLASS_IN, CLASS_NONE, CLASS_ANY = 1, 254, 255
TYPE_SOA, TYPE_TSIG = 6, 250
OPCODE_UPDATE = 5 << 11
_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")


class UpdateReply:
    """The rcode of an UPDATE's answer (its TSIG already checked)."""

    __slots__ = ("rcode",)

    def __init__(self, rcode):
        self.rcode = rcode


def _rr(owner, rdtype, rdclass, ttl, rdata=b""):
    return owner + _RR.pack(rdtype, rdclass, ttl, len(rdata)) + rdata


class UpdateRequest:
    """The UPDATE for one zone and its Changes (only changed ones and those with expect)."""

    is_update = True

    def __init__(self, zone, changes):
        self.zone = zone
        prerequisites, deletions, additions = [], [], []
        for change in changes:
            if not (change.changed or change.expect is not None):
                continue
            owner = change.name.to_wire()
            if change.before.exists:
                prerequisites += [
                    _rr(owner, change.rdtype, CLASS_IN, 0, v.wire) for v in change.before.values
                ]
            else:
                prerequisites.append(_rr(owner, change.rdtype, CLASS_NONE, 0))
            if change.changed:
                if change.before.exists:
                    deletions.append(_rr(owner, change.rdtype, CLASS_ANY, 0))
                additions += [
                    _rr(owner, change.rdtype, CLASS_IN, change.after.ttl, v.wire)
                    for v in change.after.values
                ]
        self.counts = (len(prerequisites), len(deletions) + len(additions))
        self.body = (
            zone.to_wire()
            + struct.pack("!HH", TYPE_SOA, CLASS_IN)
            + b"".join(prerequisites + deletions + additions)
        )
        self.mac = None

    def render(self, msg_id, key):
        wire = _HEADER.pack(msg_id, OPCODE_UPDATE, 1, self.counts[0], self.counts[1], 0) + self.body
        if key is None:
            return wire
        wire, self.mac = key.signer.sign(wire)
        return wire

    def accept(self, wire, key, fail):
        """An UpdateReply, or fail(code, detail) for a bad or badly signed answer."""
        try:
            _msg_id, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(wire, 0)
            if not flags & 0x8000 or flags & 0x7800 != OPCODE_UPDATE:
                return fail("FORMERR", "the answer is not an UPDATE answer")
            offset = 12
            for dummy in range(qdcount):
                offset = read_name(wire, offset)[1] + 4
            tsig = None
            for index in range(ancount + nscount + arcount):
                start = offset
                owner, offset = read_name(wire, offset)
                rdtype, _rdclass, _ttl, rdlen = _RR.unpack_from(wire, offset)
                offset += _RR.size
                if rdtype == TYPE_TSIG and index == ancount + nscount + arcount - 1:
                    tsig = (start, owner, offset)
                offset += rdlen
            if offset > len(wire):
                raise ValueError("record runs past the end of the message")
            rcode = flags & 0xF
            if key is None:
                return UpdateReply(rcode)
            if tsig is None:
                if rcode == 0:
                    return fail(
                        "BADSIG", "the answer is not signed with TSIG key %s" % key.name.to_text()
                    )
                return UpdateReply(rcode)
            error = key.signer.check(wire, tsig[0], tsig[1], tsig[2], self.mac or b"")
        except (struct.error, IndexError, ValueError) as exc:
            return fail(
                "FORMERR", "malformed answer to the UPDATE of %s: %s" % (self.zone.to_text(), exc)
            )
        if error is not None:
            return fail(error[0], error[1] % key.name.to_text())
        return UpdateReply(rcode)
