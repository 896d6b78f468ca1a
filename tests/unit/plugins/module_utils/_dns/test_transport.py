# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pipelined transport against small loopback servers that misbehave on purpose."""

import socket
import struct
import threading

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.update
import pytest

from ansible_collections.continuity.mail.plugins.module_utils._dns.transport import (
    WINDOW,
    Connection,
    DNSError,
    Endpoint,
    MessageRequest,
)
from ansible_collections.continuity.mail.plugins.module_utils._dns.wire import FastQuery, name_wire


def answer(wire, truncate=False):
    request = dns.message.from_wire(wire)
    response = dns.message.make_response(request)
    response.flags |= dns.flags.AA
    if truncate:
        response.flags |= dns.flags.TC
    return response.to_wire()


class TCPServer:
    """Answers length-prefixed messages; can reverse order, close early or stay silent."""

    def __init__(self, reverse_batch=1, close_after=None, silent=False):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.reverse_batch, self.close_after, self.silent = reverse_batch, close_after, silent
        self.connections = 0
        self.received = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _address = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(
                target=self._client, args=(conn, self.close_after), daemon=True
            ).start()
            self.close_after = None  # only the first connection breaks

    def _client(self, conn, close_after):
        pending, handled, data = [], 0, b""
        with conn:
            while True:
                chunk = conn.recv(65535)
                if not chunk:
                    return
                data += chunk
                while len(data) >= 2 and len(data) >= 2 + struct.unpack("!H", data[:2])[0]:
                    length = struct.unpack("!H", data[:2])[0]
                    wire, data = data[2 : 2 + length], data[2 + length :]
                    self.received.append(dns.message.from_wire(wire))
                    handled += 1
                    if close_after is not None and handled > close_after:
                        return
                    if self.silent:
                        continue
                    pending.append(answer(wire))
                    if len(pending) >= self.reverse_batch:
                        conn.sendall(
                            b"".join(struct.pack("!H", len(w)) + w for w in reversed(pending))
                        )
                        pending = []

    def close(self):
        self.sock.close()


class UDPServer:
    """Drops the first copy of each query id, or marks answers truncated."""

    def __init__(self, drop_first=False, truncate=False):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.drop_first, self.truncate = drop_first, truncate
        self.received = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        seen = set()
        while True:
            try:
                wire, address = self.sock.recvfrom(65535)
            except OSError:
                return
            message = dns.message.from_wire(wire)
            self.received.append(message)
            key = (message.question[0].name, message.opcode())
            if self.drop_first and key not in seen:
                seen.add(key)
                continue
            self.sock.sendto(answer(wire, self.truncate), address)

    def close(self):
        self.sock.close()


def queries(count):
    return [
        FastQuery(name_wire(dns.name.from_text("n%d.example.test." % i)), 1) for i in range(count)
    ]


def update(zone="example.test."):
    return MessageRequest(dns.update.UpdateMessage(zone))


def test_pipelined_answers_out_of_order_are_matched_by_id():
    server = TCPServer(reverse_batch=7)
    try:
        requests = queries(7 * 80)  # more than two windows, a whole number of reversed batches
        assert len(requests) > 2 * WINDOW
        replies = Connection(Endpoint("127.0.0.1", server.port), timeout=5).exchange(requests)
        assert [r.rcode for r in replies] == [0] * len(requests)
        assert server.connections == 1
        assert [m.question[0].name.to_text() for m in server.received[:3]] == [
            "n0.example.test.",
            "n1.example.test.",
            "n2.example.test.",
        ]
    finally:
        server.close()


def test_queries_are_asked_again_on_a_new_connection_when_the_server_closes():
    server = TCPServer(close_after=3)
    try:
        replies = Connection(Endpoint("127.0.0.1", server.port), timeout=5).exchange(queries(10))
        assert all(not isinstance(r, DNSError) for r in replies)
        assert server.connections == 2
    finally:
        server.close()


def test_updates_are_never_sent_twice():
    server = TCPServer(close_after=0)
    try:
        replies = Connection(Endpoint("127.0.0.1", server.port), timeout=5).exchange([update()])
        assert isinstance(replies[0], DNSError) and replies[0].code == "CONNECTION"
        assert "may or may not have been applied" in replies[0].detail
        assert len([m for m in server.received if m.opcode() == 5]) == 1
    finally:
        server.close()


def test_silence_is_a_timeout_per_request():
    server = TCPServer(silent=True)
    try:
        replies = Connection(Endpoint("127.0.0.1", server.port), timeout=0.3).exchange(queries(3))
        assert [r.code for r in replies] == ["TIMEOUT"] * 3
        assert str(replies[0]) == "127.0.0.1:%d: no answer within 0.3s (TIMEOUT)" % server.port
    finally:
        server.close()


def test_refused_connection_is_named():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    replies = Connection(Endpoint("127.0.0.1", port), timeout=1).exchange(queries(2))
    assert [r.code for r in replies] == ["CONNECTION", "CONNECTION"]
    assert "refused" in replies[0].detail.lower()


def test_udp_queries_are_resent_but_updates_are_not():
    server = UDPServer(drop_first=True)
    try:
        connection = Connection(Endpoint("127.0.0.1", server.port), protocol="udp", timeout=0.6)
        replies = connection.exchange(queries(3) + [update()])
        assert [r.rcode for r in replies[:3]] == [0, 0, 0]
        assert isinstance(replies[3], DNSError) and replies[3].code == "TIMEOUT"
        assert len([m for m in server.received if m.opcode() == 5]) == 1
    finally:
        server.close()


def test_truncated_udp_answers_are_asked_again_over_tcp():
    udp = UDPServer(truncate=True)
    tcp = TCPServer()
    tcp.sock.close()
    tcp.sock = socket.socket()
    tcp.sock.bind(("127.0.0.1", udp.port))
    tcp.sock.listen(4)
    threading.Thread(target=tcp._serve, daemon=True).start()
    try:
        replies = Connection(Endpoint("127.0.0.1", udp.port), protocol="udp", timeout=2).exchange(
            queries(2)
        )
        assert [r.tc for r in replies] == [False, False]
        assert tcp.connections == 1
    finally:
        udp.close()
        tcp.close()


@pytest.mark.parametrize(
    "host, port, label",
    [
        ("192.0.2.1", 53, "192.0.2.1"),
        ("192.0.2.1", 5353, "192.0.2.1:5353"),
        ("2001:db8::1", 5353, "[2001:db8::1]:5353"),
    ],
)
def test_endpoint_labels(host, port, label):
    assert Endpoint(host, port).label == label


def test_rcode_meanings_are_spelled_out():
    from ansible_collections.continuity.mail.plugins.module_utils._dns.transport import rcode_error

    assert rcode_error("s", dns.rcode.NOERROR, "x") is None
    error = rcode_error("192.0.2.10", dns.rcode.REFUSED, "UPDATE of example.test.")
    assert str(error) == (
        "192.0.2.10: UPDATE of example.test.: refused (this client or key may not do that here, "
        "or the server does not serve the zone) (REFUSED)"
    )
    assert rcode_error("s", dns.rcode.NOTAUTH, "x").code == "NOTAUTH"
