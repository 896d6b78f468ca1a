# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""In-memory SMTP and IMAP servers for mail_canary unit tests.

install() puts them behind _mail.conn.Connection.open, so the canary's real SMTP and IMAP
client code (the health probes' code) talks to them line by line. FakeSMTP and FakeIMAP keep
one object per connection with smtplib/imaplib-like methods (ehlo, mail, rcpt, data; login,
select, noop, uid, expunge) that tests can wrap or make hang; _SMTPDialog and _IMAPDialog turn
the client's command lines into those calls and their results into protocol replies.
"""

import collections
import imaplib
import re
from typing import ClassVar

from ansible_collections.continuity.mail.plugins.module_utils._mail import conn
from ansible_collections.continuity.mail.plugins.module_utils._probe.status import (
    PROTOCOL_ERROR,
    ProbeFailure,
)
from health_certs import der_cert, make_ca, make_leaf

IMAP_PORTS = (143, 993)
# Every fake server presents this certificate (tls_verify=true checks the name against it).
CERT_NAMES = ["mx1.example.test", "mx2.example.test", "sender.example.test"]
_DER = der_cert(make_leaf(make_ca(), CERT_NAMES)[1])


class FakeSMTP:
    """One SMTP connection's server side, recording the conversation."""

    instances: ClassVar[list] = []
    offers_starttls = True
    answers: ClassVar[dict] = {}
    connect_error = None

    def __init__(self, host, port):
        if FakeSMTP.connect_error:
            raise FakeSMTP.connect_error
        self.host, self.port, self.helo, self.sni = host, port, None, None
        self.log = []
        self.data_sent = None
        FakeSMTP.instances.append(self)

    def ehlo(self):
        self.log.append("EHLO")
        return 250, b"ok"

    def has_extn(self, name):
        return name == "starttls" and self.offers_starttls

    def starttls(self):
        self.log.append("STARTTLS")

    def mail(self, sender):
        self.log.append("MAIL " + sender)
        return self.answers.get("MAIL", (250, b"2.1.0 Ok"))

    def rcpt(self, rcpt):
        self.log.append("RCPT " + rcpt)
        return self.answers.get("RCPT", (250, b"2.1.5 Ok"))

    def data(self, data):
        self.data_sent = data
        return self.answers.get("DATA", (250, b"2.0.0 Ok: queued as ABC123"))

    def quit(self):
        self.log.append("QUIT")


class FakeIMAP:
    """One IMAP connection's server side, backed by per-host mailboxes {host: {uid: token}}."""

    servers: ClassVar[dict] = {}

    def __init__(self, host, port):
        self.server = FakeIMAP.servers[host]
        if self.server.get("down"):
            raise ConnectionRefusedError(111, "Connection refused")
        self.capabilities = ("IMAP4REV1", "UIDPLUS")
        self.commands = self.server.setdefault("commands", [])

    def starttls(self):
        self.commands.append("STARTTLS")

    def login(self, user, password):
        if password != self.server.get("password", "pw"):
            raise imaplib.IMAP4.error("[AUTHENTICATIONFAILED] Authentication failed.")
        self.commands.append("LOGIN")
        return "OK", [b""]

    def select(self, mailbox):
        return "OK", [b"1"]

    def noop(self):
        if self.server.get("hang"):
            self.server["hang"].wait()  # a server that stopped answering (blackholed)
        if self.server.get("drop"):
            self.server["drop"] -= 1
            raise imaplib.IMAP4.abort("connection lost")
        return "OK", [b""]

    def uid(self, command, *args):
        self.commands.append(" ".join(("UID", command) + args))
        mail = self.server.setdefault("mail", {})
        if command == "SEARCH":
            uids = [uid for uid, token in sorted(mail.items()) if token == args[-1]]
            return "OK", [" ".join(uids).encode()]
        if command == "EXPUNGE":
            for uid in args[0].split(","):
                mail.pop(uid, None)
        return "OK", [b""]

    def expunge(self):
        raise AssertionError("plain EXPUNGE must not be used with UIDPLUS")

    def logout(self):
        self.commands.append("LOGOUT")


class FakeTLS:
    """The ssl_object of a connection after start_tls."""

    def __init__(self, server_hostname):
        self.server_hostname = server_hostname

    def getpeercert(self, binary_form=False):
        return _DER if binary_form else {}

    def version(self):
        return "TLSv1.3"

    def cipher(self):
        return ("TLS_AES_256_GCM_SHA384", "TLSv1.3", 256)


class FakeConnection:
    """What _mail.conn.Connection offers, wired to a dialog instead of a socket."""

    def __init__(self, dialog):
        self.dialog = dialog
        self.replies = collections.deque()
        self.closed = False
        self.tls = None
        dialog.greet(self)

    def reply(self, line):
        self.replies.append(line.encode("utf-8"))

    async def readline(self):
        if self.replies:
            return self.replies.popleft()
        if self.closed:
            raise ProbeFailure(PROTOCOL_ERROR, "connection closed by the server")
        raise AssertionError("the client waits for a reply the fake server never sends")

    async def read_exact(self, size):
        raise AssertionError("the fake servers send no literals")

    def write(self, data):
        if not self.closed:
            self.dialog.receive(self, data)

    async def start_tls(self, context, server_hostname, timeout):
        self.tls = FakeTLS(server_hostname)
        self.dialog.server.sni = server_hostname

    @property
    def ssl_object(self):
        return self.tls

    def close(self):
        self.closed = True


def _lines(dialog, data):
    dialog.buffer += data
    while b"\n" in dialog.buffer:
        line, dummy, dialog.buffer = dialog.buffer.partition(b"\n")
        yield line.rstrip(b"\r").decode("utf-8")


class _SMTPDialog:
    def __init__(self, server):
        self.server = server
        self.buffer = b""
        self.message = None  # bytes of DATA so far, while in DATA

    def greet(self, link):
        link.reply("220 fake.example.test ESMTP")

    def receive(self, link, data):
        if self.message is not None:
            self.message += data
            if not self.message.endswith(b"\r\n.\r\n"):
                return
            payload = re.sub(rb"(?m)^\.\.", b".", self.message[:-3])
            self.message = None
            self._answer(
                link, self.server.data(payload[:-2] if payload.endswith(b"\r\n") else payload)
            )
            return
        for line in _lines(self, data):
            verb, dummy, rest = line.partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                self.server.helo = rest
                code, text = self.server.ehlo()
                caps = ["STARTTLS"] if self.server.has_extn("starttls") and not link.tls else []
                lines = [text.decode()] + caps if code == 250 else [text.decode()]
                for line_text in lines[:-1]:
                    link.reply("%d-%s" % (code, line_text))
                link.reply("%d %s" % (code, lines[-1]))
            elif verb == "STARTTLS":
                self.server.starttls()
                link.reply("220 2.0.0 Ready to start TLS")
            elif verb == "MAIL":
                self._answer(link, self.server.mail(rest.partition(":")[2].strip("<>")))
            elif verb == "RCPT":
                self._answer(link, self.server.rcpt(rest.partition(":")[2].strip("<>")))
            elif verb == "DATA":
                link.reply("354 End data with <CR><LF>.<CR><LF>")
                self.message = self.buffer
                self.buffer = b""
                return
            elif verb == "QUIT":
                self.server.quit()
                link.reply("221 2.0.0 Bye")
                link.close()
            else:
                link.reply("502 5.5.2 Error: command not recognized")

    @staticmethod
    def _answer(link, answer):
        code, text = answer
        link.reply("%d %s" % (code, text.decode()))


_ARGUMENT = re.compile(r'"((?:[^"\\]|\\.)*)"|(\([^)]*\))|(\S+)')


def _arguments(text):
    """IMAP command arguments: quoted strings unquoted, atoms and (lists) as they are."""
    out = []
    for quoted, listed, atom in _ARGUMENT.findall(text):
        out.append(
            re.sub(r"\\(.)", r"\1", quoted) if quoted or not (listed or atom) else listed or atom
        )
    return out


class _IMAPDialog:
    def __init__(self, server):
        self.server = server
        self.buffer = b""

    def greet(self, link):
        link.reply("* OK fake IMAP ready")

    def receive(self, link, data):
        for line in _lines(self, data):
            tag, dummy, rest = line.partition(" ")
            verb, dummy, rest = rest.partition(" ")
            verb = verb.upper()
            try:
                self._command(link, tag, verb, _arguments(rest))
            except imaplib.IMAP4.abort:
                link.replies.clear()
                link.close()  # the connection is lost
                return

    def _command(self, link, tag, verb, args):
        server = self.server
        if verb == "CAPABILITY":
            caps = ("IMAP4rev1",) + server.capabilities[1:] + (() if link.tls else ("STARTTLS",))
            link.reply("* CAPABILITY " + " ".join(caps))
        elif verb == "STARTTLS":
            server.starttls()
        elif verb == "LOGIN":
            try:
                server.login(*args)
            except imaplib.IMAP4.error:
                link.reply("%s NO [AUTHENTICATIONFAILED] Authentication failed." % tag)
                return
        elif verb == "SELECT":
            typ, data = server.select(*args)
            link.reply("* %s EXISTS" % data[0].decode())
        elif verb == "NOOP":
            server.noop()
        elif verb == "UID":
            typ, data = server.uid(args[0].upper(), *args[1:])
            if args[0].upper() == "SEARCH":
                link.reply(("* SEARCH " + data[0].decode()).strip())
            link.reply("%s %s %s done" % (tag, typ, args[0].upper()))
            return
        elif verb == "EXPUNGE":
            server.expunge()
        elif verb == "LOGOUT":
            server.logout()
            link.reply("* BYE Logging out")
            link.reply("%s OK Logout completed." % tag)
            link.close()
            return
        else:
            link.reply("%s BAD unknown command" % tag)
            return
        link.reply("%s OK %s completed" % (tag, verb))


async def _open(_cls, host, port):
    """Connection.open for the tests: IMAP ports reach FakeIMAP, the others FakeSMTP."""
    if port in IMAP_PORTS:
        return FakeConnection(_IMAPDialog(FakeIMAP(host, port)))
    return FakeConnection(_SMTPDialog(FakeSMTP(host, port)))


def install(monkeypatch):
    """Route every connection of the mail clients to the fake servers."""
    monkeypatch.setattr(conn.Connection, "open", classmethod(_open))


def reset():
    FakeSMTP.instances, FakeSMTP.offers_starttls, FakeSMTP.answers, FakeSMTP.connect_error = (
        [],
        True,
        {},
        None,
    )
    FakeIMAP.servers = {}
