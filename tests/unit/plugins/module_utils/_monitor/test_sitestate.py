# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import socket
import struct
import threading

import pytest

from ansible_collections.continuity.mail.plugins.module_utils._monitor import sitestate


def answer(msg_id, records, rcode=0):
    """An MX answer; the exchange names point back into the question (compression)."""
    question = sitestate.query_wire("example.com", msg_id)[12:]
    header = struct.pack("!HHHHHH", msg_id, 0x8400 | rcode, 1, len(records), 0, 0)
    body = b""
    for preference, host in records:
        rdata = struct.pack("!H", preference) + bytes([len(host)]) + host.encode() + b"\xc0\x0c"
        body += b"\xc0\x0c" + struct.pack("!HHIH", 15, 1, 300, len(rdata)) + rdata
    return header + question + body


def test_parse_mx_follows_compression_and_sorts():
    records = sitestate.parse_mx(answer(7, [(20, "mx2"), (10, "mx1")]), 7)
    assert records == [(10, "mx1.example.com."), (20, "mx2.example.com.")]
    with pytest.raises(ValueError, match="rcode 2"):
        sitestate.parse_mx(answer(7, [], rcode=2), 7)
    with pytest.raises(ValueError, match="not the answer"):
        sitestate.parse_mx(answer(8, []), 7)


def test_failed_over_when_the_preferred_exchange_is_not_the_primary():
    normal = [(10, "mx1.example.com."), (20, "mx2.example.com.")]
    assert sitestate.failed_over(normal, "mx1.example.com") is False
    assert sitestate.failed_over(
        [(5, "mx2.example.com."), (10, "mx1.example.com.")], "MX1.example.com."
    )
    assert sitestate.failed_over([], "mx1.example.com") is None


def test_read_mx_over_udp_on_loopback():
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))

    def serve():
        query, peer = server.recvfrom(512)
        msg_id = struct.unpack("!H", query[:2])[0]
        server.sendto(answer(msg_id, [(10, "mx2")]), peer)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        records = sitestate.read_mx("127.0.0.1", "example.com", server.getsockname()[1], 2.0)
    finally:
        thread.join()
        server.close()
    assert records == [(10, "mx2.example.com.")]
