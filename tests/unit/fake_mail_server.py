# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scripted loopback SMTP/IMAP servers for unit tests of the probe engine (threads + sockets)."""

import socket
import ssl
import threading
import time


class Chat:
    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""

    def send(self, line):
        self.sock.sendall(line.encode() + b"\r\n")

    def line(self):
        while b"\n" not in self.buffer:
            data = self.sock.recv(4096)
            if not data:
                raise EOFError
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.rstrip(b"\r").decode()

    def tls(self, context):
        self.sock = context.wrap_socket(self.sock, server_side=True)


class FakeServer:
    """Listen on 127.0.0.1; run handler(chat, number) for each connection (number from 0)."""

    def __init__(self, handler):
        self.handler = handler
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.active = 0
        self.max_active = 0
        self.received = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                number = self.connections
                self.connections += 1
            threading.Thread(target=self._serve, args=(sock, number), daemon=True).start()

    def _serve(self, sock, number):
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        chat = Chat(sock)
        try:
            self.handler(chat, number, self)
        except (EOFError, OSError, ssl.SSLError):
            pass
        finally:
            with self.lock:
                self.active -= 1
            try:
                chat.sock.close()
            except OSError:
                pass

    def settle(self, timeout=5.0):
        """Wait until no connection is being served: a client that wrote its last command
        (QUIT) and hung up does not wait for this server to read it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.connections and not self.active:
                    return
            time.sleep(0.01)
        raise AssertionError("the fake server is still serving after %gs" % timeout)

    def close(self):
        self.listener.close()


def smtp_server(
    greeting="220 fake.example.test ESMTP",
    caps=("PIPELINING", "STARTTLS"),
    tls=None,
    auth_reply="235 2.7.0 ok",
    hold=0.0,
    mail_reply="250 2.1.0 Ok",
):
    """A small SMTP server: greeting, EHLO with caps, optional STARTTLS/AUTH, QUIT."""

    def handler(chat, number, server):
        if hold:
            time.sleep(hold)
        chat.send(greeting)
        if not greeting.startswith("220"):
            return
        while True:
            line = chat.line()
            server.received.append(line)
            verb = line.split(" ")[0].upper()
            if verb == "EHLO":
                offered = [
                    c
                    for c in caps
                    if not (chat.sock.__class__ is ssl.SSLSocket and c == "STARTTLS")
                ]
                lines = ["fake.example.test"] + list(offered)
                for text in lines[:-1]:
                    chat.send("250-" + text)
                chat.send("250 " + lines[-1])
            elif verb == "STARTTLS":
                chat.send("220 2.0.0 go ahead")
                chat.tls(tls)
            elif verb == "AUTH":
                chat.send(auth_reply)
            elif verb == "MAIL":
                chat.send(mail_reply)
            elif verb == "RSET":
                chat.send("250 2.0.0 Ok")
            elif verb == "QUIT":
                chat.send("221 bye")
                return
            else:
                chat.send("502 unknown")

    return FakeServer(handler)


def imap_server(
    greeting="* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN SASL-IR] ready",
    tls=None,
    login_reply="OK [CAPABILITY IMAP4rev1] Logged in",
    exists=3,
):
    def handler(chat, number, server):
        chat.send(greeting)
        while True:
            line = chat.line()
            server.received.append(line)
            tag, command = line.split(" ", 2)[:2]
            command = command.upper()
            if command == "CAPABILITY":
                chat.send("* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR")
                chat.send(tag + " OK done")
            elif command == "STARTTLS":
                chat.send(tag + " OK Begin TLS")
                chat.tls(tls)
            elif command in ("AUTHENTICATE", "LOGIN"):
                chat.send(tag + " " + login_reply)
            elif command == "EXAMINE":
                chat.send("* FLAGS (\\Seen)")
                chat.send("* %d EXISTS" % exists)
                chat.send(tag + " OK [READ-ONLY] done")
            elif command == "LOGOUT":
                chat.send("* BYE")
                chat.send(tag + " OK bye")
                return

    return FakeServer(handler)


def server_tls_context(cert_path, key_path):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context
