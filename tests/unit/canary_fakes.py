"""smtplib/imaplib stand-ins for mail_canary unit tests."""
import imaplib


class FakeSMTP:
    """smtplib.SMTP stand-in recording the conversation."""
    instances = []
    offers_starttls = True
    answers = {}
    connect_error = None

    def __init__(self, host, port, local_hostname=None, timeout=None):
        if FakeSMTP.connect_error:
            raise FakeSMTP.connect_error
        self.host, self.port, self.helo = host, port, local_hostname
        self.log = []
        self.data_sent = None
        FakeSMTP.instances.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.log.append("QUIT")

    def ehlo(self):
        self.log.append("EHLO")
        return 250, b"ok"

    def has_extn(self, name):
        return name == "starttls" and self.offers_starttls

    def starttls(self, context=None):
        self.log.append("STARTTLS")
        self.context = context

    def mail(self, sender):
        self.log.append("MAIL " + sender)
        return self.answers.get("MAIL", (250, b"2.1.0 Ok"))

    def rcpt(self, rcpt):
        self.log.append("RCPT " + rcpt)
        return self.answers.get("RCPT", (250, b"2.1.5 Ok"))

    def data(self, data):
        self.data_sent = data
        return self.answers.get("DATA", (250, b"2.0.0 Ok: queued as ABC123"))


class FakeIMAP:
    """imaplib.IMAP4 stand-in backed by per-host mailboxes {host: {uid: token}}."""
    error = imaplib.IMAP4.error
    servers = {}

    def __init__(self, host, port, timeout=None, ssl_context=None):
        self.server = FakeIMAP.servers[host]
        if self.server.get("down"):
            raise ConnectionRefusedError(111, "Connection refused")
        self.capabilities = ("IMAP4REV1", "UIDPLUS")
        self.commands = self.server.setdefault("commands", [])

    def starttls(self, ssl_context=None):
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


def reset():
    FakeSMTP.instances, FakeSMTP.offers_starttls, FakeSMTP.answers, FakeSMTP.connect_error = [], True, {}, None
    FakeIMAP.servers = {}
