# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exchange many DNS messages with one server quickly and say clearly what went wrong.

TCP (the default) pipelines up to WINDOW messages on one connection (RFC 7766) and matches
answers by message ID, so a thousand zones cost a thousand messages, not a thousand round
trips. UDP sends the same window as datagrams. Messages are TSIG-signed when a key is given.
A failure never raises out of exchange(): each message gets its answer or a DNSError, so the
caller can say per zone what happened.
"""

import collections
import selectors
import socket
import struct
import time

try:
    import dns.exception
    import dns.message
    import dns.opcode
    import dns.rcode
    import dns.tsig
except ImportError:  # reported by the modules through missing_required_lib()
    pass

WINDOW = 256
UDP_TRIES = 3

# What a TSIG failure means for the operator, by the error the server put in its TSIG record.
TSIG_ERRORS = (
    ("PeerBadKey", "BADKEY", "the server does not know TSIG key %s"),
    (
        "PeerBadSignature",
        "BADSIG",
        "the server rejected the TSIG signature of key %s (wrong secret or algorithm)",
    ),
    ("PeerBadTime", "BADTIME", "the server rejected the TSIG time of key %s (clocks differ)"),
    ("PeerBadTruncation", "BADTRUNC", "the server rejected the TSIG truncation of key %s"),
    (
        "BadSignature",
        "BADSIG",
        "the answer carries a TSIG signature that does not verify with key %s",
    ),
)

RCODE_MEANING = {
    "REFUSED": "refused (this client or key may not do that here, "
    "or the server does not serve the zone)",
    "NOTAUTH": "not authoritative for the zone, or the TSIG key is not accepted",
    "SERVFAIL": "server failure",
    "FORMERR": "the server could not parse the request",
    "NOTIMP": "not implemented by the server",
    "NOTZONE": "a name in the update is outside the zone",
    "YXDOMAIN": "prerequisite failed: a name exists that must not",
    "NXDOMAIN": "prerequisite failed: a name does not exist that must",
    "YXRRSET": "prerequisite failed: an RRset exists that must not",
    "NXRRSET": "prerequisite failed: an RRset differs from what was read",
}
PREREQUISITE_RCODES = ("YXDOMAIN", "NXDOMAIN", "YXRRSET", "NXRRSET")


def _quick_ack(sock):
    """ACK at once: servers write pipelined answers one by one, and Nagle on their side
    would hold the second until our delayed ACK (40 ms) arrives. Linux only; re-armed per read."""
    if hasattr(socket, "TCP_QUICKACK"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)


class DNSError(Exception):
    """One server failed one request: code is an rcode, a TSIG error, TIMEOUT or CONNECTION."""

    def __init__(self, server, code, detail):
        self.server = server
        self.code = code
        self.detail = detail
        super().__init__("%s: %s (%s)" % (server, detail, code))


class Endpoint:
    """A server address; label is what messages show (the port only when it is not 53)."""

    def __init__(self, host, port=53):
        self.host = host
        self.port = int(port)
        shown = "[%s]" % host if ":" in host else host
        self.label = host if self.port == 53 else "%s:%d" % (shown, self.port)

    def __eq__(self, other):
        return isinstance(other, Endpoint) and (self.host, self.port) == (other.host, other.port)

    def __hash__(self):
        return hash((self.host, self.port))

    def __repr__(self):
        return "Endpoint(%r)" % self.label


def rcode_error(server, rcode, context):
    """None when rcode is NOERROR, else a DNSError naming the rcode and what it means."""
    if rcode == dns.rcode.NOERROR:
        return None
    name = dns.rcode.to_text(rcode)
    return DNSError(server, name, "%s: %s" % (context, RCODE_MEANING.get(name, "error")))


class MessageRequest:
    """A dnspython message (an UPDATE, or a query that must be signed) sent with TSIG."""

    def __init__(self, message):
        self.message = message
        self.is_update = message.opcode() == dns.opcode.UPDATE

    def render(self, msg_id, key):
        self.message.id = msg_id
        if key is not None:
            self.message.use_tsig(key.dns)
        return self.message.to_wire()

    def accept(self, wire, key, fail):
        """The answer as a dnspython Message, or fail(code, detail). key is a tsig.TsigKey."""
        key_name = key.name.to_text() if key is not None else ""
        try:
            response = dns.message.from_wire(
                wire,
                keyring=key.dns if key is not None else None,
                request_mac=(self.message.mac or b"") if key is not None else b"",
            )
        except dns.message.UnknownTSIGKey:
            return fail("BADKEY", "the answer is signed with a TSIG key the request did not use")
        except dns.exception.DNSException as exc:
            for cls_name, code, text in TSIG_ERRORS:
                cls = getattr(dns.tsig, cls_name, None)
                if cls is not None and isinstance(exc, cls):
                    return fail(code, text % key_name)
            return fail("FORMERR", "malformed answer: %s" % exc)
        if not self.message.is_response(response):
            return fail("FORMERR", "the answer does not match the request")
        if key is not None and not response.had_tsig and response.rcode() == dns.rcode.NOERROR:
            return fail("BADSIG", "the answer is not signed with TSIG key %s" % key_name)
        return response


class Connection:
    """One server, one protocol; not thread-safe (use one per thread)."""

    def __init__(self, endpoint, protocol="tcp", timeout=10.0, key=None):
        self.endpoint = endpoint
        self.protocol = protocol
        self.timeout = float(timeout)
        self.key = key
        self._sock = None
        self._next_id = int.from_bytes(struct.pack("!d", time.time())[-2:], "big")

    def close(self):
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def exchange(self, messages):
        """Send every request (FastQuery or MessageRequest); return, in order, each answer or
        a DNSError."""
        results = [None] * len(messages)
        if self.protocol == "udp":
            truncated = self._exchange_udp(messages, results)
            if truncated:
                self._exchange_tcp(messages, results, truncated)
        else:
            self._exchange_tcp(messages, results, list(range(len(messages))))
        return results

    def _error(self, code, detail):
        return DNSError(self.endpoint.label, code, detail)

    def _new_id(self):
        self._next_id = (self._next_id + 1) & 0xFFFF
        return self._next_id

    def _connect_tcp(self):
        if self._sock is not None:
            return self._sock
        try:
            info = socket.getaddrinfo(
                self.endpoint.host, self.endpoint.port, 0, socket.SOCK_STREAM
            )[0]
            sock = socket.socket(info[0], socket.SOCK_STREAM)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(self.timeout)
            sock.connect(info[4])
            _quick_ack(sock)
        except socket.timeout:
            raise self._error("TIMEOUT", "no TCP connection within %gs" % self.timeout) from None
        except OSError as exc:
            raise self._error(
                "CONNECTION", "cannot connect over TCP: %s" % (exc.strerror or exc)
            ) from exc
        sock.setblocking(False)
        self._sock = sock
        return sock

    def _exchange_tcp(self, messages, results, order):
        retried = False
        while order:
            try:
                sock = self._connect_tcp()
            except DNSError as exc:
                for index in order:
                    results[index] = exc
                return
            unanswered, failure = self._pipeline(sock, messages, results, order)
            if failure is None:
                return
            self.close()
            # Re-asking a question is harmless; re-sending an UPDATE is not (its
            # prerequisites would fail against our own first copy), so only queries retry.
            replay = [i for i in unanswered if not messages[i].is_update]
            lost = [i for i in unanswered if messages[i].is_update]
            for index in lost:
                results[index] = self._error(
                    failure[0], failure[1] + "; the update may or may not have been applied"
                )
            if retried or failure[0] == "TIMEOUT":
                for index in replay:
                    results[index] = self._error(*failure)
                return
            retried = True
            order = replay

    def _pipeline(self, sock, messages, results, order):
        """Returns (unanswered indexes, None) on success or (unanswered, (code, detail))."""
        queue = collections.deque(order)
        inflight = {}
        out = bytearray()
        inbuf = bytearray()
        selector = selectors.DefaultSelector()
        registered = selectors.EVENT_READ
        selector.register(sock, registered)
        try:
            while queue or inflight:
                while queue and len(inflight) < WINDOW:
                    index = queue.popleft()
                    msg_id = self._new_id()
                    wire = messages[index].render(msg_id, self.key)
                    inflight[msg_id] = index
                    out += struct.pack("!H", len(wire)) + wire
                wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if out else 0)
                if wanted != registered:
                    selector.modify(sock, wanted)
                    registered = wanted
                events = selector.select(self.timeout)
                if not events:
                    return list(inflight.values()) + list(queue), (
                        "TIMEOUT",
                        "no answer within %gs" % self.timeout,
                    )
                for _key, mask in events:
                    if mask & selectors.EVENT_WRITE and out:
                        del out[: sock.send(out)]
                    if mask & selectors.EVENT_READ:
                        data = sock.recv(65535)
                        if not data:
                            raise ConnectionResetError("connection closed by the server")
                        _quick_ack(sock)
                        inbuf += data
                        self._consume(inbuf, inflight, messages, results)
        except OSError as exc:
            return list(inflight.values()) + list(queue), (
                "CONNECTION",
                "TCP connection lost: %s" % (exc.strerror or exc),
            )
        finally:
            selector.close()
        return [], None

    def _consume(self, inbuf, inflight, messages, results):
        while len(inbuf) >= 2:
            (length,) = struct.unpack("!H", inbuf[:2])
            if len(inbuf) < 2 + length:
                return
            wire = bytes(inbuf[2 : 2 + length])
            del inbuf[: 2 + length]
            index = inflight.pop(struct.unpack("!H", wire[:2])[0], None) if length >= 2 else None
            if index is not None:
                results[index] = messages[index].accept(wire, self.key, self._error)

    def _exchange_udp(self, messages, results):
        """Datagrams, window by window; queries are re-sent, UPDATEs never. Returns truncated."""
        try:
            info = socket.getaddrinfo(self.endpoint.host, self.endpoint.port, 0, socket.SOCK_DGRAM)[
                0
            ]
            sock = socket.socket(info[0], socket.SOCK_DGRAM)
            sock.connect(info[4])
        except OSError as exc:
            for index in range(len(messages)):
                results[index] = self._error(
                    "CONNECTION", "cannot reach over UDP: %s" % (exc.strerror or exc)
                )
            return []
        truncated = []
        try:
            for start in range(0, len(messages), WINDOW):
                self._udp_window(
                    sock,
                    messages,
                    results,
                    range(start, min(start + WINDOW, len(messages))),
                    truncated,
                )
        finally:
            sock.close()
        return truncated

    def _udp_window(self, sock, messages, results, indexes, truncated):
        pending = {}
        for index in indexes:
            msg_id = self._new_id()
            sock.send(messages[index].render(msg_id, self.key))
            pending[msg_id] = index
        attempt_timeout = self.timeout / UDP_TRIES
        for attempt in range(UDP_TRIES):
            deadline = time.monotonic() + attempt_timeout
            while pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                sock.settimeout(left)
                try:
                    wire = sock.recv(65535)
                except socket.timeout:
                    break
                except OSError as exc:
                    for index in pending.values():
                        results[index] = self._error(
                            "CONNECTION", "UDP error: %s" % (exc.strerror or exc)
                        )
                    return
                index = (
                    pending.pop(struct.unpack("!H", wire[:2])[0], None) if len(wire) >= 2 else None
                )
                if index is None:
                    continue
                answer = messages[index].accept(wire, self.key, self._error)
                if getattr(answer, "tc", False):
                    truncated.append(index)
                else:
                    results[index] = answer
            if not pending or attempt == UDP_TRIES - 1:
                break
            for rid, index in list(pending.items()):
                if not messages[index].is_update:
                    del pending[rid]
                    msg_id = self._new_id()
                    sock.send(messages[index].render(msg_id, self.key))
                    pending[msg_id] = index
        for index in pending.values():
            results[index] = self._error("TIMEOUT", "no answer over UDP within %gs" % self.timeout)
