# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IMAP client: response framing, CAPABILITY, STARTTLS, login, SELECT/EXAMINE, UID
SEARCH/STORE/EXPUNGE, and the health probe's dialog (imap, imaps).

The probe opens the mailbox with EXAMINE (the read-only SELECT) so it never changes
\\Recent flags of the canary mailbox; the canary, which deletes what it finds, uses SELECT.
Standard library only.
"""

import base64
import itertools
import re

from ansible_collections.continuity.mail.plugins.module_utils._probe.status import (
    AUTH_FAILED,
    PROTOCOL_ERROR,
    REJECTED,
    TEMPFAIL,
    TLS_ERROR,
    ProbeFailure,
)

_STATUS = re.compile(r"^(OK|NO|BAD|BYE|PREAUTH)(?: \[([^\]]*)\])? ?(.*)$", re.IGNORECASE)
_LITERAL = re.compile(r"\{(\d+)\+?\}$")
_EXISTS = re.compile(r"^(\d+) EXISTS$", re.IGNORECASE)
# Response codes that mean "try again later", not "no" (RFC 5530).
_TRANSIENT = {"UNAVAILABLE", "INUSE", "LIMIT", "SERVERBUG", "OVERQUOTA"}
# A server answering more untagged lines than this to one command is broken.
MAX_UNTAGGED = 10000


def parse_status(text):
    """'OK [CAPABILITY IMAP4rev1 X] ready' -> ('OK', 'CAPABILITY', 'IMAP4rev1 X', 'ready')."""
    match = _STATUS.match(text)
    if not match:
        return None, None, None, text
    code, dummy, args = (match.group(2) or "").partition(" ")
    return match.group(1).upper(), code.upper() or None, args, match.group(3)


def parse_capabilities(args):
    """'IMAP4rev1 SASL-IR AUTH=PLAIN' -> ['IMAP4rev1', 'SASL-IR', 'AUTH=PLAIN']."""
    return [token for token in args.split() if token]


def has(caps, name):
    return name.upper() in (c.upper() for c in caps)


def quote(value):
    """An IMAP quoted string; CR, LF and NUL cannot be quoted at all."""
    if any(ch in value for ch in "\r\n\0"):
        raise ProbeFailure(PROTOCOL_ERROR, "user name or password contains CR, LF or NUL")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def no_status(code, login=False):
    """Status for a tagged NO: transient codes are tempfail, a refused login auth_failed."""
    if code in _TRANSIENT:
        return TEMPFAIL
    if login:
        return TLS_ERROR if code == "PRIVACYREQUIRED" else AUTH_FAILED
    return REJECTED


async def read_line(conn):
    """One response line with any literals ({n}) folded in."""
    line = (await conn.readline()).decode("utf-8", "replace")
    while True:
        match = _LITERAL.search(line)
        if not match:
            return line
        data = await conn.read_exact(int(match.group(1)))
        line = (
            line[: match.start()]
            + data.decode("utf-8", "replace")
            + (await conn.readline()).decode("utf-8", "replace")
        )


async def command(conn, tag, text, log=None):
    """Send a tagged command; return (status, code, args, text, untagged lines)."""
    conn.write(("%s %s\r\n" % (tag, text)).encode("utf-8"))
    untagged = []
    while True:
        line = await read_line(conn)
        head, dummy, rest = line.partition(" ")
        if head == tag:
            status, code, args, text = parse_status(rest)
            if status is None:
                raise ProbeFailure(PROTOCOL_ERROR, "bad tagged response: %r" % line[:120])
            return status, code, args, text, untagged
        if head == "+":
            raise ProbeFailure(
                PROTOCOL_ERROR,
                "unexpected continuation request to %s" % (log or text.split(" ")[0]),
            )
        if head != "*":
            raise ProbeFailure(PROTOCOL_ERROR, "unexpected response: %r" % line[:120])
        if rest[:4].upper() == "BYE " or rest.upper() == "BYE":
            raise ProbeFailure(TEMPFAIL, "server closed the session: %s" % rest[:200])
        untagged.append(rest)
        if len(untagged) > MAX_UNTAGGED:
            raise ProbeFailure(PROTOCOL_ERROR, "too many untagged responses")


def _failure(status, code, text, what, login=False):
    if status == "NO":
        return ProbeFailure(no_status(code, login), "%s: NO %s" % (what, text))
    if status == "BYE":
        return ProbeFailure(TEMPFAIL, "%s: BYE %s" % (what, text))
    return ProbeFailure(PROTOCOL_ERROR, "%s: %s %s" % (what, status, text))


async def capabilities(conn, tag):
    status, code, _args, text, untagged = await command(conn, tag, "CAPABILITY")
    if status != "OK":
        raise _failure(status, code, text, "CAPABILITY")
    for line in untagged:
        name, dummy, rest = line.partition(" ")
        if name.upper() == "CAPABILITY":
            return parse_capabilities(rest)
    raise ProbeFailure(PROTOCOL_ERROR, "CAPABILITY returned no capability list")


async def greeting(conn):
    line = await read_line(conn)
    head, dummy, rest = line.partition(" ")
    status, code, args, text = parse_status(rest)
    if head != "*" or status not in ("OK", "PREAUTH", "BYE"):
        raise ProbeFailure(PROTOCOL_ERROR, "not an IMAP greeting: %r" % line[:120])
    if status == "BYE":
        raise ProbeFailure(TEMPFAIL, "greeting: BYE %s" % text)
    return text, parse_capabilities(args) if code == "CAPABILITY" else None


async def starttls_command(conn, tag):
    status, code, _args, text, _untagged = await command(conn, tag, "STARTTLS")
    if status != "OK":
        raise ProbeFailure(
            TEMPFAIL if code in _TRANSIENT else TLS_ERROR, "STARTTLS: %s %s" % (status, text)
        )


async def login(conn, tag, caps, user, password):
    if has(caps, "AUTH=PLAIN") and has(caps, "SASL-IR"):
        # base64 carries any password byte; LOGIN's quoted strings cannot.
        token = base64.b64encode(b"\0" + user.encode("utf-8") + b"\0" + password.encode("utf-8"))
        reply = await command(conn, tag, "AUTHENTICATE PLAIN " + token.decode("ascii"), "login")
    elif has(caps, "LOGINDISABLED"):
        raise ProbeFailure(TLS_ERROR, "the server refuses logins without TLS (LOGINDISABLED)")
    else:
        reply = await command(conn, tag, "LOGIN %s %s" % (quote(user), quote(password)), "login")
    status, code, _args, text, dummy = reply
    if status != "OK":
        raise _failure(status, code, text, "login", login=True)


def tags():
    """Command tags for one connection: c1, c2, ..."""
    return ("c%d" % n for n in itertools.count(1))


async def _open_mailbox(conn, tag, verb, mailbox):
    status, code, _args, text, untagged = await command(conn, tag, "%s %s" % (verb, quote(mailbox)))
    if status != "OK":
        raise _failure(status, code, text, "%s %s" % (verb, mailbox))
    for line in untagged:
        match = _EXISTS.match(line.strip())
        if match:
            return {"name": mailbox, "exists": int(match.group(1))}
    return {"name": mailbox, "exists": None}


async def examine(conn, tag, mailbox):
    """Open the mailbox read-only: {name, exists}."""
    return await _open_mailbox(conn, tag, "EXAMINE", mailbox)


async def select(conn, tag, mailbox):
    """Open the mailbox read-write: {name, exists}."""
    return await _open_mailbox(conn, tag, "SELECT", mailbox)


async def _simple(conn, tag, text, what):
    status, code, _args, reply, untagged = await command(conn, tag, text, what)
    if status != "OK":
        raise _failure(status, code, reply, what)
    return untagged


async def noop(conn, tag):
    """NOOP: lets the server report what changed in the selected mailbox."""
    await _simple(conn, tag, "NOOP", "NOOP")


async def uid_search_header(conn, tag, header, value):
    """UIDs (strings) of the messages whose header field contains value."""
    untagged = await _simple(
        conn, tag, "UID SEARCH HEADER %s %s" % (header, quote(value)), "UID SEARCH"
    )
    uids = []
    for line in untagged:
        name, dummy, rest = line.partition(" ")
        if name.upper() == "SEARCH":
            uids.extend(rest.split())
    return uids


async def uid_delete(conn, tags, uids, uidplus):
    """Flag exactly these UIDs deleted and expunge them: UID EXPUNGE with UIDPLUS (other
    deleted mail stays), plain EXPUNGE without."""
    uid_set = ",".join(uids)
    await _simple(conn, next(tags), "UID STORE %s +FLAGS.SILENT (\\Deleted)" % uid_set, "UID STORE")
    if uidplus:
        await _simple(conn, next(tags), "UID EXPUNGE " + uid_set, "UID EXPUNGE")
    else:
        await _simple(conn, next(tags), "EXPUNGE", "EXPUNGE")


def send_logout(conn, tag):
    conn.write(("%s LOGOUT\r\n" % tag).encode("ascii"))


async def logout(conn, tag):
    """LOGOUT, and wait for its answer (the BYE before it is expected)."""
    send_logout(conn, tag)
    while True:
        line = await read_line(conn)
        if line.partition(" ")[0] == tag:
            return


async def start_session(session, tags):
    """Connect, greeting, capabilities and, when the target asks for it, STARTTLS: how every
    IMAP conversation starts. Returns the connection and the capabilities (after TLS)."""
    target = session.target
    conn = await session.connect()
    if target["implicit_tls"]:
        await session.tls()
    session.banner, caps = await session.phase("banner", greeting(conn))
    if caps is None:
        caps = await session.phase("capabilities", capabilities(conn, next(tags)))
    if target["starttls"]:
        if not has(caps, "STARTTLS"):
            raise ProbeFailure(TLS_ERROR, "the server does not offer STARTTLS")
        await session.tls(starttls_command(conn, next(tags)))
        # Capabilities learnt before TLS must be discarded (RFC 9051 6.2.1).
        caps = await session.phase("capabilities", capabilities(conn, next(tags)))
    session.capabilities = caps
    return conn, caps


async def run(session):
    """The whole IMAP probe for one attempt; raises ProbeFailure on a definite failure."""
    target = session.target
    numbers = tags()
    conn, caps = await start_session(session, numbers)
    if target["user"]:
        await session.phase(
            "auth", login(conn, next(numbers), caps, target["user"], target["password"])
        )
        opened = examine(conn, next(numbers), target["mailbox"])
        session.mailbox = await session.phase("select", opened)
    send_logout(conn, next(numbers))
