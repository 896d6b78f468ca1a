# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loopback mail endpoints for measurements that need no lab: an SMTP responder that is
always healthy, and a port that drops every SYN (a blackholed server)."""

import asyncio
import socket
import threading
import time


async def _smtp_session(reader, writer):
    writer.write(b"220 bench.test ESMTP\r\n")
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                writer.write(b"250-bench.test\r\n250 PIPELINING\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


def start_smtp_responder():
    """A loopback SMTP responder on a free port, served from a background thread."""
    ready = threading.Event()
    found = {}

    def serve():
        loop = asyncio.new_event_loop()
        server = loop.run_until_complete(
            asyncio.start_server(_smtp_session, "127.0.0.1", 0, backlog=1024)
        )
        found["port"] = server.sockets[0].getsockname()[1]
        ready.set()
        loop.run_forever()

    threading.Thread(target=serve, daemon=True).start()
    ready.wait(10)
    return found["port"]


def start_blackhole():
    """A port whose accept queue is full: new SYNs are dropped, connects time out."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.5)
    return port, (listener, fillers)
