# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SMTP client: reply framing, EHLO, STARTTLS, AUTH, the mail transaction, and the
health probe's dialog (smtp, submission, smtps).

Reads replies itself (RFC 5321 4.2 multi-line framing) on top of conn.Connection, so it runs
inside the probes' shared asyncio loop; the canary submits its message with the same code.
Standard library only.
"""

import base64
import email.utils
import re

from ansible_collections.continuity.mail.plugins.module_utils._probe.status import (
    AUTH_FAILED,
    PROTOCOL_ERROR,
    TEMPFAIL,
    TLS_ERROR,
    ProbeFailure,
    reply_status,
)

# More lines than any real EHLO reply; a longer one is a broken or hostile server.
MAX_REPLY_LINES = 200


def split_reply_line(line):
    """'250-SIZE 1000' -> (250, False, 'SIZE 1000'); the last line of a reply has final=True."""
    if (
        len(line) < 3
        or not line[:3].isdigit()
        or line[0] not in "2345"
        or (len(line) > 3 and line[3] not in " -")
    ):
        raise ProbeFailure(PROTOCOL_ERROR, "not an SMTP reply: %r" % line[:80])
    return int(line[:3]), len(line) == 3 or line[3] == " ", line[4:]


def parse_reply(lines):
    """Join the lines of one reply into (code, [text, ...])."""
    code, texts = None, []
    for number, line in enumerate(lines):
        this, final, text = split_reply_line(line)
        if code is not None and this != code:
            raise ProbeFailure(PROTOCOL_ERROR, "reply mixes codes %s and %s" % (code, this))
        if final != (number == len(lines) - 1):
            raise ProbeFailure(PROTOCOL_ERROR, "malformed multi-line reply")
        code = this
        texts.append(text)
    if code is None:
        raise ProbeFailure(PROTOCOL_ERROR, "empty SMTP reply")
    return code, texts


def parse_ehlo(texts):
    """Capabilities of a 250 EHLO reply: ['PIPELINING', 'SIZE 10240000', 'AUTH PLAIN LOGIN']
    (the first line is the server's greeting name, not a capability)."""
    caps = []
    for text in texts[1:]:
        keyword, dummy, params = text.strip().partition(" ")
        keyword = keyword.upper()
        if keyword.startswith("AUTH="):  # pre-RFC 4954 servers: AUTH=PLAIN LOGIN
            keyword, params = "AUTH", (keyword[5:] + " " + params).strip()
        if keyword:
            caps.append((keyword + " " + params.strip()).strip())
    return caps


def capability_map(caps):
    """{'AUTH': ['PLAIN', 'LOGIN'], 'STARTTLS': []} from parse_ehlo()'s list."""
    out = {}
    for cap in caps:
        keyword, dummy, params = cap.partition(" ")
        out.setdefault(keyword.upper(), []).extend(p.upper() for p in params.split())
    return out


def describe(code, texts, what):
    return "%s: %d %s" % (what, code, " / ".join(t for t in texts if t)[:300])


async def read_reply(conn):
    lines = []
    while True:
        line = (await conn.readline()).decode("utf-8", "replace")
        lines.append(line)
        if split_reply_line(line)[1]:
            return parse_reply(lines)
        if len(lines) > MAX_REPLY_LINES:
            raise ProbeFailure(PROTOCOL_ERROR, "SMTP reply longer than %d lines" % MAX_REPLY_LINES)


async def command(conn, text):
    conn.write(text.encode("utf-8") + b"\r\n")
    return await read_reply(conn)


async def ehlo(conn, helo_name):
    code, texts = await command(conn, "EHLO " + helo_name)
    if code == 250:
        return parse_ehlo(texts)
    if code in (500, 502):  # a pre-ESMTP server: HELO still proves it speaks SMTP
        code, texts = await command(conn, "HELO " + helo_name)
        if code == 250:
            return []
    raise ProbeFailure(reply_status(code), describe(code, texts, "EHLO"))


async def starttls_command(conn):
    code, texts = await command(conn, "STARTTLS")
    if code != 220:
        raise ProbeFailure(
            TEMPFAIL if 400 <= code < 500 else TLS_ERROR, describe(code, texts, "STARTTLS")
        )


async def authenticate(conn, mechanisms, user, password):
    secret = password.encode("utf-8")
    if "PLAIN" in mechanisms:
        token = base64.b64encode(b"\0" + user.encode("utf-8") + b"\0" + secret).decode("ascii")
        code, texts = await command(conn, "AUTH PLAIN " + token)
    elif "LOGIN" in mechanisms:
        code, texts = await command(conn, "AUTH LOGIN")
        for value in (user.encode("utf-8"), secret):
            if code != 334:
                break
            code, texts = await command(conn, base64.b64encode(value).decode("ascii"))
    else:
        raise ProbeFailure(
            AUTH_FAILED,
            "no supported AUTH mechanism (offered: %s)" % (" ".join(mechanisms) or "none"),
        )
    if code == 235:
        return
    raise ProbeFailure(
        TEMPFAIL if 400 <= code < 500 else AUTH_FAILED, describe(code, texts, "AUTH")
    )


async def start_session(session, starttls):
    """Connect, read the greeting, EHLO, and STARTTLS: how every SMTP conversation starts.

    starttls: True - required (fails when the server does not offer it), False - never,
    None - when offered. Returns the connection and the capabilities (after TLS, if started).
    """
    conn = await session.connect()
    if session.target["implicit_tls"]:
        await session.tls()
    code, texts = await session.phase("banner", read_reply(conn))
    session.banner = texts[0] if texts else ""
    if code != 220:
        raise ProbeFailure(reply_status(code), describe(code, texts, "greeting"))
    caps = await session.phase("capabilities", ehlo(conn, session.helo_name))
    offered = "STARTTLS" in capability_map(caps)
    if starttls and not offered:
        raise ProbeFailure(TLS_ERROR, "the server does not offer STARTTLS")
    if offered and starttls is not False:
        await session.tls(starttls_command(conn))
        # Capabilities before TLS are void (RFC 3207 4.2); AUTH often appears only now.
        caps = await session.phase("capabilities", ehlo(conn, session.helo_name))
    session.capabilities = caps
    return conn, caps


def envelope_address(text):
    """The address of a From/To value, as MAIL FROM and RCPT TO carry it (smtplib's rules)."""
    name, address = email.utils.parseaddr(text)
    if (name, address) == ("", ""):
        return text if text.strip().startswith("<") else "<%s>" % text
    return "<%s>" % address


def dot_stuffed(payload):
    """The DATA payload on the wire: lines starting with '.' doubled, then CRLF '.' CRLF.
    Line ends are sent as given, as smtplib does."""
    data = re.sub(rb"(?m)^\.", b"..", payload)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


async def mail_from(conn, address):
    """MAIL FROM for an envelope_address() (<> for bounces); returns (code, texts)."""
    return await command(conn, "MAIL FROM:" + address)


async def rcpt_to(conn, address):
    return await command(conn, "RCPT TO:" + address)


async def data(conn, payload):
    """DATA, then the payload; returns the server's (code, texts) for whichever came last."""
    code, texts = await command(conn, "DATA")
    if code != 354:
        return code, texts
    conn.write(dot_stuffed(payload))
    return await read_reply(conn)


async def envelope(conn):
    """MAIL FROM:<> and RSET: would the server take a message now? Nothing is queued."""
    code, texts = await mail_from(conn, "<>")
    if code != 250:
        raise ProbeFailure(reply_status(code), describe(code, texts, "MAIL FROM"))
    await command(conn, "RSET")


async def run(session):
    """The whole SMTP probe for one attempt; raises ProbeFailure on a definite failure."""
    target = session.target
    conn, caps = await start_session(session, target["starttls"])
    mechanisms = capability_map(caps).get("AUTH")
    if target["user"]:
        if mechanisms is None:
            raise ProbeFailure(PROTOCOL_ERROR, "the server offers no AUTH (needed to log in)")
        await session.phase(
            "auth", authenticate(conn, mechanisms, target["user"], target["password"])
        )
    elif target["protocol"] == "submission" and mechanisms is None:
        raise ProbeFailure(PROTOCOL_ERROR, "submission port offers no AUTH: users cannot send")
    if target.get("envelope"):
        await session.phase("envelope", envelope(conn))
    conn.write(b"QUIT\r\n")
