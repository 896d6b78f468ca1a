# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether the site is failed over, read where the world reads it: the domain's MX, from
an authoritative server. The site is failed over when the most preferred exchange is not
the primary's. One small UDP query per interval, standard library only."""

import random
import socket
import struct

TYPE_MX = 15


def query_wire(domain, msg_id):
    labels = [label for label in domain.rstrip(".").split(".") if label]
    qname = b"".join(bytes([len(label)]) + label.encode("idna") for label in labels) + b"\0"
    return struct.pack("!HHHHHH", msg_id, 0, 1, 0, 0, 0) + qname + struct.pack("!HH", TYPE_MX, 1)


def read_name(wire, offset):
    """(dotted lower-case name, offset after it), following compression pointers."""
    labels, end, jumps = [], None, 0
    while True:
        length = wire[offset]
        if length & 0xC0 == 0xC0:
            if end is None:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | wire[offset + 1]
            jumps += 1
            if jumps > 32:
                raise ValueError("compression loop")
            continue
        offset += 1
        if length == 0:
            break
        labels.append(wire[offset : offset + length].decode("ascii", "replace").lower())
        offset += length
    return ".".join(labels) + ".", end if end is not None else offset


def parse_mx(wire, msg_id):
    """[(preference, exchange)] from an answer; raises ValueError for a bad answer."""
    ident, flags, qdcount, ancount = struct.unpack_from("!HHHH", wire, 0)
    if ident != msg_id or not flags & 0x8000:
        raise ValueError("not the answer to our query")
    if flags & 0xF:
        raise ValueError("DNS error rcode %d" % (flags & 0xF))
    offset = 12
    for dummy in range(qdcount):
        offset = read_name(wire, offset)[1]
        offset += 4
    records = []
    for dummy in range(ancount):
        offset = read_name(wire, offset)[1]
        rdtype, _class, _ttl, rdlen = struct.unpack_from("!HHIH", wire, offset)
        offset += 10
        if rdtype == TYPE_MX:
            preference = struct.unpack_from("!H", wire, offset)[0]
            exchange = read_name(wire, offset + 2)[0]
            records.append((preference, exchange))
        offset += rdlen
    return sorted(records)


def read_mx(server, domain, port=53, timeout=1.0):
    msg_id = random.randint(0, 0xFFFF)
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(query_wire(domain, msg_id), (server, port))
        while True:
            wire, dummy = sock.recvfrom(4096)
            try:
                return parse_mx(wire, msg_id)
            except ValueError:
                if struct.unpack_from("!H", wire, 0)[0] == msg_id:
                    raise


def failed_over(records, primary_mx):
    """True when the most preferred exchange is not the primary's; None without records."""
    if not records:
        return None
    best = min(preference for preference, dummy in records)
    preferred = [name for preference, name in records if preference == best]
    return primary_mx.rstrip(".").lower() + "." not in preferred
