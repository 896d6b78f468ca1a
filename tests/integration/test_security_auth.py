# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Authentication on the lab's mail servers: no password travels before STARTTLS, and every
wrong IMAP password is slowed.

Logins before STARTTLS use the user's real password: a server that took it would be wrong
even though the password is right.
"""

import base64
import os
import smtplib
import socket
import ssl

import pytest
import yaml

from labtools import ROOT

USER = "alice@example.test"
SERVERS = ["mx1", "mx2"]
ROLE_DEFAULTS = os.path.join(ROOT, "roles", "mailserver", "defaults", "main.yml")


def read_reply(stream):
    """One (possibly multi-line) SMTP reply: (code, text)."""
    lines = []
    while True:
        line = stream.readline().decode("utf-8", "replace")
        if not line:
            raise AssertionError("connection closed; so far: %r" % lines)
        lines.append(line.rstrip("\r\n"))
        if len(line) < 4 or line[3] != "-":
            return int(line[:3]), "\n".join(lines)


@pytest.mark.parametrize("server", SERVERS)
def test_submission_refuses_auth_before_starttls(lab, server):
    password = lab.users[USER]
    with socket.create_connection((lab.ip(server), 587), timeout=15) as sock:
        stream = sock.makefile("rwb")
        assert read_reply(stream)[0] == 220
        stream.write(b"EHLO probe.example.net\r\n")
        stream.flush()
        code, ehlo = read_reply(stream)
        assert code == 250 and "STARTTLS" in ehlo
        assert "AUTH" not in ehlo, "AUTH offered before STARTTLS:\n" + ehlo
        token = base64.b64encode(("\0%s\0%s" % (USER, password)).encode()).decode()
        stream.write(("AUTH PLAIN %s\r\n" % token).encode())
        stream.flush()
        code, text = read_reply(stream)
    assert 500 <= code < 600, "AUTH before STARTTLS answered %s" % text


def imap_plain(lab, server, commands):
    """Send tagged IMAP commands on port 143 without TLS; returns every line read."""
    with socket.create_connection((lab.ip(server), 143), timeout=15) as sock:
        stream = sock.makefile("rwb")
        lines = [stream.readline().decode("utf-8", "replace").rstrip()]
        for number, command in enumerate(commands, 1):
            tag = "a%d" % number
            stream.write(("%s %s\r\n" % (tag, command)).encode())
            stream.flush()
            while True:
                line = stream.readline().decode("utf-8", "replace").rstrip()
                lines.append(line)
                if not line or line.startswith(tag + " "):
                    break
    return lines


@pytest.mark.parametrize("server", SERVERS)
def test_imap_refuses_login_before_starttls(lab, server):
    password = lab.users[USER]
    lines = imap_plain(lab, server, ["CAPABILITY", 'LOGIN "%s" "%s"' % (USER, password), "LOGOUT"])
    capability = [line for line in lines if line.startswith("* CAPABILITY")]
    assert capability and "LOGINDISABLED" in capability[0], lines
    login = [line for line in lines if line.startswith("a2 ")]
    assert login and login[0].split()[1] in ("NO", "BAD"), lines
    assert "PRIVACYREQUIRED" in login[0] or "TLS" in login[0], login


def imap_guess(lab, server, tries):
    """One TLS connection on 143 sending up to `tries` wrong LOGINs; returns (answers, closed)."""
    context = ssl.create_default_context(cafile=lab.ca_cert)
    context.check_hostname = False
    answers = []
    with socket.create_connection((lab.ip(server), 143), timeout=30) as raw:
        stream = raw.makefile("rwb")
        stream.readline()
        stream.write(b"s STARTTLS\r\n")
        stream.flush()
        while not stream.readline().startswith(b"s "):
            pass
        with context.wrap_socket(raw) as sock:
            tls = sock.makefile("rwb")
            for number in range(tries):
                tag = "g%d" % number
                try:
                    tls.write(('%s LOGIN "%s" "wrong-%d"\r\n' % (tag, USER, number)).encode())
                    tls.flush()
                    while True:
                        line = tls.readline().decode("utf-8", "replace").rstrip()
                        if not line:
                            return answers, True
                        if line.startswith("* BYE"):
                            answers.append(line)
                        if line.startswith(tag + " "):
                            answers.append(line)
                            break
                except (OSError, ssl.SSLError):
                    return answers, True
    return answers, False


@pytest.mark.parametrize("server", SERVERS)
def test_imap_slows_every_wrong_password(lab, server):
    """Dovecot answers a failed login only after auth_failure_delay, on every connection. The
    role also keeps Dovecot's per-address penalty (up to 15 s) on by default; the lab turns it
    off (mailserver_auth_penalty) because its tests fail logins on purpose. How long guesses
    take is measured in docs/reliability.md, not asserted here."""
    delay = lab.exec(server, "doveconf -h auth_failure_delay").stdout.split()
    seconds = int(delay[0]) * (60 if delay[1:] and delay[1].startswith("min") else 1)
    assert seconds >= 1, "no auth_failure_delay on %s: %r" % (server, delay)
    answers, _closed = imap_guess(lab, server, 3)
    assert len(answers) == 3 and all("NO [AUTHENTICATIONFAILED]" in a for a in answers), answers
    with open(ROLE_DEFAULTS, encoding="utf-8") as handle:
        assert yaml.safe_load(handle)["mailserver_auth_penalty"] is True


def test_submission_accepts_the_right_password_after_starttls(lab):
    """The control: the refusals above are about order, not a broken login."""
    context = ssl.create_default_context(cafile=lab.ca_cert)
    context.check_hostname = False
    for server in SERVERS:
        with smtplib.SMTP(lab.ip(server), 587, timeout=30) as smtp:
            smtp.starttls(context=context)
            code, _text = smtp.login(USER, lab.users[USER])
            assert code == 235
