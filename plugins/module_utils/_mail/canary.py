# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Canary mail: send one uniquely tagged message by SMTP, find it over IMAP, delete it.

SMTP, IMAP and TLS are the mail clients of this package (smtp, imap, session), the same code
the health probes use. Standard library only: this also runs on probe hosts.
"""

import asyncio
import email.message
import email.utils
import functools
import socket
import ssl
import threading
import time
import uuid

from ansible_collections.continuity.mail.plugins.module_utils._mail import imap, smtp
from ansible_collections.continuity.mail.plugins.module_utils._mail.session import Session
from ansible_collections.continuity.mail.plugins.module_utils._probe.status import ProbeFailure

HEADER = "X-Continuity-Canary"
# What talking to a server can raise besides a CanaryError (a timeout is an OSError only from
# Python 3.11 on).
NETWORK_ERRORS = (ProbeFailure, OSError, EOFError, ssl.SSLError, asyncio.TimeoutError)
# The session's phases as the steps of an SMTP submission that error messages name.
SMTP_STAGES = {
    None: "connect",
    "connect": "connect",
    "banner": "connect",
    "capabilities": "EHLO",
    "tls": "STARTTLS",
}
STARTTLS_MODES = {"auto": None, "always": True, "never": False}


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
        % (token, email.utils.formatdate(sent_at, localtime=False))
    )
    return message


def default_helo():
    """This host's name for EHLO when none is given (as smtplib chooses it)."""
    fqdn = socket.getfqdn()
    if "." in fqdn:
        return fqdn
    try:
        return "[%s]" % socket.gethostbyname(socket.gethostname())
    except socket.gaierror:
        return "[127.0.0.1]"


def _target(host, port, tls_verify, ca_path, server_name, implicit_tls=False, starttls=False):
    """What a Session needs to know about the server it talks to."""
    return {
        "host": host,
        "port": port,
        "tls_verify": tls_verify,
        "ca_path": ca_path,
        "server_name": server_name,
        "implicit_tls": implicit_tls,
        "starttls": starttls,
    }


def _settings(timeout, helo_name=None):
    # cert_min_days 0: a certificate that is still valid carries the canary, however soon it
    # expires.
    return {"timeout": timeout, "helo_name": helo_name, "cert_min_days": 0}


def _run(coroutine, loop=None):
    """Run a coroutine to its end on the given event loop, or on a new one closed afterwards."""
    if loop is not None:
        return loop.run_until_complete(coroutine)
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


def send(
    message,
    host,
    port,
    starttls="auto",
    tls_verify=False,
    ca_path=None,
    server_name=None,
    helo=None,
    timeout=30,
):
    """Submit the message; return what the server said. Raises CanaryError with the stage.

    The server's certificate is checked against server_name (default host), which is also
    sent as SNI: servers are often reached by address while their certificate names the host.
    """
    session = Session(
        _target(host, port, tls_verify, ca_path, server_name),
        _settings(timeout, helo or default_helo()),
    )
    return _run(_submit(session, message, STARTTLS_MODES[starttls]))


async def _submit(session, message, starttls):
    host, port = session.target["host"], session.target["port"]
    polite = True  # say QUIT at the end, unless the connection itself failed
    try:
        conn, dummy = await smtp.start_session(session, starttls)
        used_tls = session.tls_info is not None
        for stage, command, header in (
            ("MAIL FROM", smtp.mail_from, "From"),
            ("RCPT TO", smtp.rcpt_to, "To"),
        ):
            address = smtp.envelope_address(message[header])
            code, texts = await session.phase(stage, command(conn, address))
            if code not in (250, 251):
                raise CanaryError(
                    "%s:%s refused the message at %s: %d %s"
                    % (host, port, stage, code, _reply_text(texts))
                )
        code, texts = await session.phase("DATA", smtp.data(conn, message.as_bytes()))
        if code != 250:
            raise CanaryError(
                "%s:%s refused the message at DATA: %d %s" % (host, port, code, _reply_text(texts))
            )
        return {
            "host": host,
            "port": port,
            "tls": used_tls,
            "response": "%d %s" % (code, _reply_text(texts)),
        }
    except NETWORK_ERRORS as exc:
        polite = isinstance(exc, ProbeFailure)
        stage = SMTP_STAGES.get(session.current, session.current)
        text = _describe(exc)
        if text.startswith(stage + ": "):  # "EHLO: 554 ..." failed at EHLO
            text = text[len(stage) + 2 :]
        raise CanaryError("SMTP to %s:%s failed at %s: %s" % (host, port, stage, text)) from exc
    finally:
        if polite and session.conn is not None:
            try:
                await session.phase("QUIT", smtp.command(session.conn, "QUIT"))
            except NETWORK_ERRORS:
                pass  # the connection is being dropped anyway
        session.close()


def _reply_text(texts):
    return "\n".join(texts).strip()


def _describe(exc):
    if isinstance(exc, ProbeFailure):
        return exc.message
    if isinstance(exc, asyncio.TimeoutError):
        return "TimeoutError: timed out"
    text = str(exc).strip() or type(exc).__name__
    return "%s: %s" % (type(exc).__name__, text) if text != type(exc).__name__ else text


class Mailbox:
    """One IMAP server seen through the canary account; reconnects after errors.

    Its conversation runs on an event loop of its own, driven by whichever thread asks (one at
    a time), so a server that hangs holds up only the thread asking it.
    """

    def __init__(self, server, user, password, tls_verify=True, ca_path=None, timeout=10):
        self.name = server["name"]
        self.server = server
        self.user = user
        self.password = password
        implicit = server["tls"] == "implicit"
        self.target = _target(
            server["host"],
            server["port"],
            tls_verify,
            ca_path,
            server["server_name"],
            implicit_tls=implicit,
            starttls=not implicit,
        )
        self.settings = _settings(timeout)
        self.loop = asyncio.new_event_loop()
        self.session = None
        self.conn = None
        self.caps = None
        self.tags = None
        self.ready = False  # logged in, INBOX selected
        self.last_error = None
        self.fatal = False

    async def _connect(self):
        self.session = session = Session(self.target, self.settings)
        self.tags = imap.tags()
        self.conn, self.caps = await imap.start_session(session, self.tags)
        try:
            await session.phase(
                "auth", imap.login(self.conn, next(self.tags), self.caps, self.user, self.password)
            )
        except ProbeFailure as exc:
            # Wrong credentials do not heal by polling: stop asking this server.
            self.fatal = True
            raise CanaryError(
                "IMAP login as %s on %s refused: %s" % (self.user, self.name, exc.message)
            ) from exc
        await session.phase("select", imap.select(self.conn, next(self.tags), "INBOX"))
        self.ready = True

    def open(self):
        """Log in ahead of time so the first search is not slowed by TLS and LOGIN."""
        try:
            _run(self._connect(), self.loop)
        except CanaryError as exc:
            self._fail(str(exc))
        except NETWORK_ERRORS as exc:
            self._fail(_describe(exc), polite=isinstance(exc, ProbeFailure))

    def search(self, token):
        """UIDs of messages carrying the token; None when the server could not be asked."""
        try:
            if not self.ready:
                _run(self._connect(), self.loop)
            else:
                # let the server report mail delivered since the last check
                _run(self.session.phase("noop", imap.noop(self.conn, next(self.tags))), self.loop)
            uids = _run(
                self.session.phase(
                    "search", imap.uid_search_header(self.conn, next(self.tags), HEADER, token)
                ),
                self.loop,
            )
        except CanaryError as exc:
            self._fail(str(exc))
            return None
        except NETWORK_ERRORS as exc:
            self._fail(_describe(exc), polite=isinstance(exc, ProbeFailure))
            return None
        self.last_error = None
        return uids

    def delete(self, uids):
        """Flag and expunge exactly these UIDs (UID EXPUNGE leaves other deleted mail alone)."""
        if not uids or not self.ready:
            return False
        try:
            _run(
                self.session.phase(
                    "delete",
                    imap.uid_delete(self.conn, self.tags, uids, imap.has(self.caps, "UIDPLUS")),
                ),
                self.loop,
            )
        except NETWORK_ERRORS as exc:
            self.last_error = _describe(exc)
            return False
        return True

    def _fail(self, error, polite=True):
        self.last_error = error
        self.close(polite)

    def close(self, polite=True):
        """Drop the connection, saying LOGOUT first when it is still worth a word (not after a
        timeout or a network error); the mailbox can connect again."""
        if self.session is not None:
            _run(self._logout(polite), self.loop)
        self.session = self.conn = None
        self.ready = False

    async def _logout(self, polite):
        try:
            if polite and self.conn is not None:
                await self.session.phase("logout", imap.logout(self.conn, next(self.tags)))
        except NETWORK_ERRORS:
            pass  # the connection is being dropped anyway
        finally:
            self.session.close()

    def shutdown(self):
        """close(), and release the event loop: the mailbox is done with."""
        self.close()
        self.loop.close()


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
    return all(ask.finished for ask in new) or any(
        ask.finished and ask.uids for ask in asking.values()
    )


def watch(
    mailboxes,
    token,
    expect_on,
    timeout,
    max_interval=1.0,
    clock=time.monotonic,
    sleep=time.sleep,
    wall=time.time,
):
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
            return {
                "found": found,
                "found_at": wall(),
                "found_mono": clock(),
                "checks": checks,
                "unanswered": sorted(asking),
            }
        if expect_on and all(m.fatal for m in mailboxes if m.name == expect_on):
            break
        if all(m.fatal for m in mailboxes):
            break
        remaining = deadline - clock()
        if remaining <= 0:
            break
        sleep(min(interval, remaining))
        interval = min(interval * 1.5, max_interval)
    return {
        "found": {},
        "found_at": None,
        "found_mono": None,
        "checks": checks,
        "unanswered": sorted(asking),
    }


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
            raise CanaryError(
                "expect_on %r is not one of the servers (%s)" % (expect_on, ", ".join(names))
            )
        expect_on = hosts[expect_on]
    if not expect_on and params["path"] == "direct":
        # Straight to a server: it must be the one that files it, when it is also watched.
        expect_on = dict((server["host"], server["name"]) for server in servers).get(
            params["smtp_host"]
        )
    return servers, expect_on


def round_trip(params, check_mode=False, clock=time.monotonic, sleep=time.sleep, wall=time.time):
    """Send, watch, delete. Returns (result, error); error is None when the canary arrived
    where expected (or anywhere, without expect_on)."""
    servers, expect_on = plan(params)
    token = params.get("token") or new_token()
    mail_from = params.get("mail_from") or params["to"]
    sent_at = wall()
    message = build_message(token, mail_from, params["to"], params["subject_prefix"], sent_at)
    result = {
        "token": token,
        "message_id": message["Message-ID"],
        "path": params["path"],
        "smtp": {"host": params["smtp_host"], "port": params["smtp_port"]},
        "expect_on": expect_on,
        "servers": [s["name"] for s in servers],
        "delivered": False,
        "held_by": None,
        "found_on": [],
        "deleted": [],
        "latency_s": None,
        "sent_at": None,
        "found_at": None,
        "checks": 0,
        "errors": {},
    }
    if check_mode:
        result["msg"] = (
            "check mode: would send %s from %s to %s through %s:%s (%s path) and look "
            "for it on %s"
            % (
                token,
                mail_from,
                params["to"],
                params["smtp_host"],
                params["smtp_port"],
                params["path"],
                expect_on or ", ".join(result["servers"]),
            )
        )
        return result, None

    # IMAP sessions are opened before the message is sent, so latency_s measures delivery,
    # not our own TLS handshakes and logins.
    mailboxes = [
        Mailbox(
            server,
            params.get("imap_user") or params["to"],
            params["imap_password"],
            params["tls_verify"],
            params.get("ca_path"),
            timeout=params["connect_timeout"],
        )
        for server in servers
    ]
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
            result["smtp"] = send(
                message,
                params["smtp_host"],
                params["smtp_port"],
                params["starttls"],
                params["tls_verify"],
                params.get("ca_path"),
                params.get("smtp_server_name") or params["smtp_host"],
                params.get("helo_name"),
                params["connect_timeout"],
            )
        except CanaryError as exc:
            result["sent_at"] = None
            result["errors"]["smtp"] = str(exc)
            return result, "canary %s was not sent: %s" % (token, exc)
        result["smtp_s"] = round(clock() - started, 3)
        seen = watch(
            mailboxes,
            token,
            expect_on,
            params["timeout"],
            params["poll_interval"],
            clock=clock,
            sleep=sleep,
            wall=wall,
        )
        result["checks"] = seen["checks"]
        # still being asked (its thread owns the connection): not deleted from, not closed
        busy = set(seen["unanswered"])
        for mailbox in mailboxes:
            if mailbox.name in busy:
                result["errors"][mailbox.name] = (
                    "no answer within the poll (connect or search still pending)"
                    + ("; before that: " + mailbox.last_error if mailbox.last_error else "")
                )
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
        result["errors"].update(
            dict((m.name, m.last_error) for m in mailboxes if m.last_error and m.name not in busy)
        )
    finally:
        for mailbox in mailboxes:
            if mailbox.name not in busy:  # a busy one's thread still runs its event loop
                mailbox.shutdown()

    if result["delivered"]:
        return result, None
    if result["found_on"]:
        return result, (
            "canary %s landed on %s, not on %s as expected"
            % (token, ", ".join(result["found_on"]), expect_on)
        )
    where = expect_on or ", ".join(result["servers"])
    errors = "; ".join("%s: %s" % item for item in sorted(result["errors"].items()))
    return result, (
        "canary %s was not found on %s within %ss (%d check(s) on %d server(s))%s"
        % (
            token,
            where,
            params["timeout"],
            result["checks"],
            len(servers),
            "; last errors: " + errors if errors else "",
        )
    )
