# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One line-oriented TCP connection to a mail server, upgradable to TLS in place.

A plain asyncio.Protocol (not streams) so STARTTLS works the same on every Python 3
that Debian ships: loop.start_tls() re-wraps the transport and this protocol keeps
receiving the decrypted bytes. Standard library only.
"""

import asyncio

from ansible_collections.continuity.mail.plugins.module_utils._probe.status import (
    PROTOCOL_ERROR,
    ProbeFailure,
)

# No mail protocol line is this long; a server that sends more is broken or hostile.
MAX_LINE = 65536


class _Receiver(asyncio.Protocol):
    def __init__(self):
        self.buffer = bytearray()
        self.closed = False
        self._waiter = None

    def data_received(self, data):
        self.buffer.extend(data)
        self._wake()

    def eof_received(self):
        self.closed = True
        self._wake()
        return False

    def connection_lost(self, exc):
        self.closed = True
        self._wake()

    def _wake(self):
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait(self):
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None


class Connection:
    """A connected socket: readline(), read_exact(), write(), start_tls(), close()."""

    def __init__(self, transport, receiver):
        self.transport = transport
        self._rx = receiver

    @classmethod
    async def open(cls, host, port):
        loop = asyncio.get_running_loop()
        transport, receiver = await loop.create_connection(_Receiver, host, port)
        return cls(transport, receiver)

    async def readline(self):
        """Return one line (bytes, CRLF stripped); ProbeFailure when the server hangs up."""
        while True:
            end = self._rx.buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._rx.buffer[: end + 1])
                del self._rx.buffer[: end + 1]
                return line.rstrip(b"\r\n")
            if len(self._rx.buffer) > MAX_LINE:
                raise ProbeFailure(PROTOCOL_ERROR, "line longer than %d bytes" % MAX_LINE)
            if self._rx.closed:
                raise ProbeFailure(PROTOCOL_ERROR, "connection closed by the server")
            await self._rx.wait()

    async def read_exact(self, size):
        """Return exactly size bytes (an IMAP literal)."""
        while len(self._rx.buffer) < size:
            if self._rx.closed:
                raise ProbeFailure(PROTOCOL_ERROR, "connection closed by the server")
            await self._rx.wait()
        data = bytes(self._rx.buffer[:size])
        del self._rx.buffer[:size]
        return data

    def write(self, data):
        self.transport.write(data)

    async def start_tls(self, context, server_hostname, timeout):
        # Bytes already buffered before the handshake would be plaintext injected ahead of
        # TLS (the STARTTLS command-injection attack): refuse instead of using them.
        if self._rx.buffer:
            raise ProbeFailure(PROTOCOL_ERROR, "server sent data before the TLS handshake")
        loop = asyncio.get_running_loop()
        self.transport = await loop.start_tls(
            self.transport,
            self._rx,
            context,
            server_side=False,
            server_hostname=server_hostname,
            ssl_handshake_timeout=timeout,
        )

    @property
    def ssl_object(self):
        return self.transport.get_extra_info("ssl_object")

    def close(self):
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
