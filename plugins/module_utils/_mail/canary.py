# -*- coding: utf-8 -*-
# Copyright: continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Canary mail: send one uniquely tagged message by SMTP, find it over IMAP, delete it.

Standard library only (smtplib, imaplib, ssl): this also runs on probe hosts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import email.message
import email.utils
import functools
import imaplib
import smtplib
import socket
import ssl
import threading
import time
import uuid

HEADER = "X-Continuity-Canary"
NETWORK_ERRORS = (OSError, EOFError, imaplib.IMAP4.error, smtplib.SMTPException)


class CanaryError(Exception):
    """A step of the canary round trip failed."""


def new_token():
    """Unique, IMAP-search friendly (letters, digits and dashes only)."""
    return "canary-%d-%s" % (int(time.time()), uuid.uuid4().hex[:16])


def build_message(token, mail_from, to, subject_prefix, sent_at):
    message = email.message.EmailMessage()
    domain = mail_from.rpartition("@")[2] or "continuity.invalid"
    message["From"] = mail_from
    message["To"] = to
    message["Subject"] = "%s %s" % (subject_prefix, token)
    message["Date"] = email.utils.formatdate(sent_at, localtime=False)
    message["Message-ID"] = "<%s@%s>" % (token, domain)
    message[HEADER] = token
    message.set_content(
        "Continuity canary %s, sent %s.\n"
        "It proves that mail reaches the expected server and is deleted once found.\n"
        % (token, email.utils.formatdate(sent_at, localtime=False)))
    return message


class ServerNameContext:
    """An SSLContext stand-in that always verifies and sends one fixed server name.

    smtplib and imaplib use the address they connect to as TLS server name; servers are often
    reached by address while their certificate names the host (mx1.example.com).
    """

    def __init__(self, context, server_name):
        self.context = context
        self.server_name = server_name

    def wrap_socket(self, sock, server_hostname=None, **kwargs):
        return self.context.wrap_socket(sock, server_hostname=self.server_name or server_hostname, **kwargs)


def tls_context(verify=True, ca_path=None, server_name=None):
    context = ssl.create_default_context(cafile=ca_path) if verify else ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return ServerNameContext(context, server_name)


def send(message, host, port, starttls="auto", context=None, helo=None, timeout=30,
         smtp_class=None):
    """Submit the message; return what the server said. Raises CanaryError with the stage."""
    smtp_class = smtp_class or smtplib.SMTP
    stage = "connect"
    try:
        with smtp_class(host, port, local_hostname=helo, timeout=timeout) as smtp:
            stage = "EHLO"
            code, reply = smtp.ehlo()
            if code != 250:
                raise CanaryError("%s:%s answered EHLO with %d %s" % (host, port, code, _text(reply)))
            used_tls = False
            if starttls != "never" and smtp.has_extn("starttls"):
                stage = "STARTTLS"
                smtp.starttls(context=context)
                smtp.ehlo()
                used_tls = True
            elif starttls == "always":
                raise CanaryError("%s:%s does not offer STARTTLS (starttls=always)" % (host, port))
            stage = "MAIL FROM"
            _expect(smtp.mail(message["From"]), stage, host, port)
            stage = "RCPT TO"
            _expect(smtp.rcpt(message["To"]), stage, host, port)
            stage = "DATA"
            code, reply = smtp.data(message.as_bytes())
            if code != 250:
                raise CanaryError("%s:%s refused the message at %s: %d %s"
                                  % (host, port, stage, code, _text(reply)))
            return {"host": host, "port": port, "tls": used_tls, "response": "%d %s" % (code, _text(reply))}
    except CanaryError:
        raise
    except (NETWORK_ERRORS + (ssl.SSLError, socket.timeout)) as exc:
        raise CanaryError("SMTP to %s:%s failed at %s: %s" % (host, port, stage, _describe(exc)))


def _expect(answer, stage, host, port):
    code, reply = answer
    if code not in (250, 251):
        raise CanaryError("%s:%s refused the message at %s: %d %s" % (host, port, stage, code, _text(reply)))


def _text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip()
    return str(value).strip()


def _describe(exc):
    text = _text(exc) or type(exc).__name__
    return "%s: %s" % (type(exc).__name__, text) if text != type(exc).__name__ else text


class Mailbox:
    """One IMAP server seen through the canary account; reconnects after errors."""

    def __init__(self, server, user, password, context, timeout=10,
                 imap_class=None, imap_ssl_class=None):
        self.name = server["name"]
        self.server = server
        self.user = user
        self.password = password
        self.context = context
        self.timeout = timeout
        self.imap_class = imap_class or imaplib.IMAP4
        self.imap_ssl_class = imap_ssl_class or imaplib.IMAP4_SSL
        self.conn = None
        self.last_error = None
        self.fatal = False

    def _connect(self):
        server = self.server
        if server["tls"] == "implicit":
            conn = self.imap_ssl_class(server["host"], server["port"], ssl_context=self.context,
                                       timeout=self.timeout)
        else:
            conn = self.imap_class(server["host"], server["port"], timeout=self.timeout)
            conn.starttls(ssl_context=self.context)
        try:
            conn.login(self.user, self.password)
        except imaplib.IMAP4.error as exc:
            # Wrong credentials do not heal by polling: stop asking this server.
            self.fatal = True
            _logout(conn)
            raise CanaryError("IMAP login as %s on %s refused: %s" % (self.user, self.name, _text(exc)))
        typ, data = conn.select("INBOX")
        if typ != "OK":
            _logout(conn)
            raise CanaryError("SELECT INBOX on %s failed: %s" % (self.name, _text(data)))
        self.conn = conn

    def open(self):
        """Log in ahead of time so the first search is not slowed by TLS and LOGIN."""
        try:
            self._connect()
        except CanaryError as exc:
            self._fail(str(exc))
        except (NETWORK_ERRORS + (ssl.SSLError, socket.timeout)) as exc:
            self._fail(_describe(exc))

    def search(self, token):
        """UIDs of messages carrying the token; None when the server could not be asked."""
        try:
            if self.conn is None:
                self._connect()
            else:
                self.conn.noop()  # let the server report mail delivered since the last check
            typ, data = self.conn.uid("SEARCH", "HEADER", HEADER, token)
            if typ != "OK":
                raise CanaryError("UID SEARCH on %s failed: %s" % (self.name, _text(data)))
        except CanaryError as exc:
            self._fail(str(exc))
            return None
        except (NETWORK_ERRORS + (ssl.SSLError, socket.timeout)) as exc:
            self._fail(_describe(exc))
            return None
        self.last_error = None
        return [uid for chunk in data if chunk for uid in _text(chunk).split()]

    def delete(self, uids):
        """Flag and expunge exactly these UIDs (UID EXPUNGE leaves other deleted mail alone)."""
        if not uids or self.conn is None:
            return False
        uid_set = ",".join(uids)
        try:
            typ, data = self.conn.uid("STORE", uid_set, "+FLAGS.SILENT", "(\\Deleted)")
            if typ != "OK":
                raise CanaryError("STORE on %s failed: %s" % (self.name, _text(data)))
            if "UIDPLUS" in self.conn.capabilities:
                typ, data = self.conn.uid("EXPUNGE", uid_set)
            else:
                typ, data = self.conn.expunge()
            if typ != "OK":
                raise CanaryError("EXPUNGE on %s failed: %s" % (self.name, _text(data)))
        except CanaryError as exc:
            self.last_error = str(exc)
            return False
        except (NETWORK_ERRORS + (ssl.SSLError, socket.timeout)) as exc:
            self.last_error = _describe(exc)
            return False
        return True

    def _fail(self, error):
        self.last_error = error
        self.close()

    def close(self):
        if self.conn is not None:
            _logout(self.conn)
        self.conn = None


def _logout(conn):
    try:
        conn.logout()
    except Exception:  # pylint: disable=broad-except
        pass  # the connection is being dropped anyway


# How long one polling round waits for the servers' answers. A server that has not answered
# by then (blackholed: its connect hangs until connect_timeout) stays in flight and is not
# waited for; the others go on being polled.
ROUND_WAIT = 0.25


class _Asking:
    """One search in flight on a daemon thread, so a hung server holds up neither the polling
    of the others nor the module's exit."""

    def __init__(self, mailbox, token, answered):
        self.mailbox = mailbox
        self.uids = None
        self.finished = False
        self._answered = answered
        threading.Thread(target=self._run, args=(token,), daemon=True).start()

    def _run(self, token):
        uids = self.mailbox.search(token)
        with self._answered:
            self.uids = uids
            self.finished = True
            self._answered.notify_all()


def _round_over(new, asking):
    """Every question of this round answered, or the token already found somewhere."""
    return (all(ask.finished for ask in new)
            or any(ask.finished and ask.uids for ask in asking.values()))


def watch(mailboxes, token, expect_on, timeout, max_interval=1.0, clock=time.monotonic,
          sleep=time.sleep, wall=time.time):
    """Poll every mailbox, concurrently, until the token shows up somewhere or the timeout passes.

    Returns {found: {name: uids}, found_at: epoch, found_mono: monotonic, checks: rounds,
    unanswered: [names still being asked]}. Stops at the first round that finds it anywhere:
    a message delivered to the wrong server does not move to the expected one by waiting.
    """
    deadline = clock() + timeout
    interval = min(0.2, max_interval)
    checks = 0
    answered = threading.Condition()
    asking = {}
    while True:
        checks += 1
        new = []
        for mailbox in mailboxes:
            if not mailbox.fatal and mailbox.name not in asking:
                asking[mailbox.name] = _Asking(mailbox, token, answered)
                new.append(asking[mailbox.name])
        with answered:
            # only this round's questions are waited for (one still hanging from an earlier
            # round has had its ROUND_WAIT and is collected whenever it answers), and not at
            # all once the token has turned up: latency_s is not padded by a hung server
            answered.wait_for(functools.partial(_round_over, new, asking), timeout=ROUND_WAIT)
            done = [a for a in asking.values() if a.finished]
        found = {}
        for ask in done:
            del asking[ask.mailbox.name]
            if ask.uids:
                found[ask.mailbox.name] = ask.uids
        if found:
            return {"found": found, "found_at": wall(), "found_mono": clock(), "checks": checks,
                    "unanswered": sorted(asking)}
        if expect_on and all(m.fatal for m in mailboxes if m.name == expect_on):
            break
        if all(m.fatal for m in mailboxes):
            break
        remaining = deadline - clock()
        if remaining <= 0:
            break
        sleep(min(interval, remaining))
        interval = min(interval * 1.5, max_interval)
    return {"found": {}, "found_at": None, "found_mono": None, "checks": checks,
            "unanswered": sorted(asking)}


def open_all(mailboxes):
    """Log in to every server at once; returns when each has logged in or failed."""
    threads = [threading.Thread(target=mailbox.open, daemon=True) for mailbox in mailboxes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def plan(params):
    """Normalise the module parameters into what one round trip needs (no network)."""
    servers = []
    for server in params["servers"]:
        entry = dict(server)
        entry["name"] = entry.get("name") or entry["host"]
        entry["server_name"] = entry.get("server_name") or entry["host"]
        servers.append(entry)
    names = [server["name"] for server in servers]
    if len(set(names)) != len(names):
        raise CanaryError("servers: names must be unique, got %s" % ", ".join(names))
    expect_on = params.get("expect_on")
    if expect_on and expect_on not in names:
        hosts = dict((server["host"], server["name"]) for server in servers)
        if expect_on not in hosts:
            raise CanaryError("expect_on %r is not one of the servers (%s)" % (expect_on, ", ".join(names)))
        expect_on = hosts[expect_on]
    if not expect_on and params["path"] == "direct":
        # Straight to a server: it must be the one that files it, when it is also watched.
        expect_on = dict((server["host"], server["name"]) for server in servers).get(params["smtp_host"])
    return servers, expect_on


def round_trip(params, check_mode=False, smtp_class=None, imap_class=None, imap_ssl_class=None,
               clock=time.monotonic, sleep=time.sleep, wall=time.time):
    """Send, watch, delete. Returns (result, error); error is None when the canary arrived
    where expected (or anywhere, without expect_on)."""
    servers, expect_on = plan(params)
    token = params.get("token") or new_token()
    mail_from = params.get("mail_from") or params["to"]
    sent_at = wall()
    message = build_message(token, mail_from, params["to"], params["subject_prefix"], sent_at)
    result = {
        "token": token, "message_id": message["Message-ID"], "path": params["path"],
        "smtp": {"host": params["smtp_host"], "port": params["smtp_port"]},
        "expect_on": expect_on, "servers": [s["name"] for s in servers],
        "delivered": False, "held_by": None, "found_on": [], "deleted": [],
        "latency_s": None, "sent_at": None, "found_at": None, "checks": 0, "errors": {},
    }
    if check_mode:
        result["msg"] = ("check mode: would send %s from %s to %s through %s:%s (%s path) and look "
                         "for it on %s" % (token, mail_from, params["to"], params["smtp_host"],
                                           params["smtp_port"], params["path"],
                                           expect_on or ", ".join(result["servers"])))
        return result, None

    smtp_context = tls_context(params["tls_verify"], params.get("ca_path"),
                               params.get("smtp_server_name") or params["smtp_host"])
    # IMAP sessions are opened before the message is sent, so latency_s measures delivery,
    # not our own TLS handshakes and logins.
    mailboxes = [Mailbox(server, params.get("imap_user") or params["to"], params["imap_password"],
                         tls_context(params["tls_verify"], params.get("ca_path"), server["server_name"]),
                         timeout=params["connect_timeout"], imap_class=imap_class,
                         imap_ssl_class=imap_ssl_class)
                 for server in servers]
    busy = set()
    try:
        open_all(mailboxes)
        refused = [m for m in mailboxes if m.fatal]
        if refused:
            # It could never be confirmed (or deleted): do not send it at all.
            result["errors"].update(dict((m.name, m.last_error) for m in refused))
            return result, "canary %s was not sent: %s" % (token, refused[0].last_error)
        started = clock()
        result["sent_at"] = sent_at = wall()
        message.replace_header("Date", email.utils.formatdate(sent_at, localtime=False))
        try:
            result["smtp"] = send(message, params["smtp_host"], params["smtp_port"], params["starttls"],
                                  smtp_context, params.get("helo_name"), params["connect_timeout"],
                                  smtp_class=smtp_class)
        except CanaryError as exc:
            result["sent_at"] = None
            result["errors"]["smtp"] = str(exc)
            return result, "canary %s was not sent: %s" % (token, exc)
        result["smtp_s"] = round(clock() - started, 3)
        seen = watch(mailboxes, token, expect_on, params["timeout"], params["poll_interval"],
                     clock=clock, sleep=sleep, wall=wall)
        result["checks"] = seen["checks"]
        # still being asked (its thread owns the connection): not deleted from, not closed
        busy = set(seen["unanswered"])
        for mailbox in mailboxes:
            if mailbox.name in busy:
                result["errors"][mailbox.name] = (
                    "no answer within the poll (connect or search still pending)"
                    + ("; before that: " + mailbox.last_error if mailbox.last_error else ""))
        result["found_on"] = [s["name"] for s in servers if s["name"] in seen["found"]]
        if result["found_on"]:
            result["held_by"] = expect_on if expect_on in seen["found"] else result["found_on"][0]
            result["found_at"] = seen["found_at"]
            result["latency_s"] = round(seen["found_mono"] - started, 3)
        result["delivered"] = bool(seen["found"]) and (not expect_on or expect_on in seen["found"])
        if params["delete"]:
            for mailbox in mailboxes:
                if mailbox.name in seen["found"] and mailbox.delete(seen["found"][mailbox.name]):
                    result["deleted"].append(mailbox.name)
        result["errors"].update(dict((m.name, m.last_error) for m in mailboxes
                                     if m.last_error and m.name not in busy))
    finally:
        for mailbox in mailboxes:
            if mailbox.name not in busy:
                mailbox.close()

    if result["delivered"]:
        return result, None
    if result["found_on"]:
        return result, ("canary %s landed on %s, not on %s as expected"
                        % (token, ", ".join(result["found_on"]), expect_on))
    where = expect_on or ", ".join(result["servers"])
    errors = "; ".join("%s: %s" % item for item in sorted(result["errors"].items()))
    return result, ("canary %s was not found on %s within %ss (%d check(s) on %d server(s))%s"
                    % (token, where, params["timeout"], result["checks"], len(servers),
                       "; last errors: " + errors if errors else ""))
