# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_mail.canary over real loopback sockets and verified TLS: SMTP submission (STARTTLS, DATA
framing), then IMAP (STARTTLS, AUTHENTICATE, SELECT, NOOP, UID SEARCH/STORE/EXPUNGE, LOGOUT)
on the per-server event loops the polling threads drive."""

import base64
import re

import pytest

from ansible_collections.continuity.mail.plugins.module_utils._mail import canary
from fake_mail_server import FakeServer, server_tls_context
from health_certs import make_ca, make_leaf, pem_cert, write_pair

PASSWORD = "Pw-loop-7Kd"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    ca = make_ca()
    (folder / "ca.crt").write_bytes(pem_cert(ca[1]))
    key, cert = make_leaf(ca, ["fake.example.test"])
    return {
        "ca": str(folder / "ca.crt"),
        "tls": server_tls_context(*write_pair(folder, "leaf", key, cert)),
    }


def smtp_server(tls, mailbox):
    """Takes one message over STARTTLS and files it in mailbox {uid: message bytes}."""

    def handler(chat, number, server):
        chat.send("220 fake.example.test ESMTP")
        while True:
            line = chat.line()
            server.received.append(line)
            verb = line.split(" ")[0].upper()
            if verb == "EHLO":
                chat.send("250-fake.example.test")
                chat.send("250 STARTTLS" if not hasattr(chat.sock, "cipher") else "250 8BITMIME")
            elif verb == "STARTTLS":
                chat.send("220 2.0.0 go ahead")
                chat.tls(tls)
            elif verb in ("MAIL", "RCPT"):
                chat.send("250 2.1.0 Ok")
            elif verb == "DATA":
                chat.send("354 go ahead")
                lines = []
                while True:
                    line = chat.line()
                    if line == ".":
                        break
                    lines.append(line[1:] if line.startswith("..") else line)
                mailbox[str(len(mailbox) + 1)] = "\n".join(lines).encode()
                chat.send("250 2.0.0 Ok: queued as LOOP1")
            elif verb == "QUIT":
                chat.send("221 bye")
                return

    return FakeServer(handler)


def imap_server(tls, mailbox):
    """The canary's IMAP commands on mailbox {uid: message bytes}."""

    def handler(chat, number, server):
        chat.send("* OK ready")
        while True:
            line = chat.line()
            server.received.append(line)
            tag, command, rest = (line.split(" ", 2) + [""])[:3]
            command = command.upper()
            if command == "CAPABILITY":
                secured = hasattr(chat.sock, "cipher")
                chat.send(
                    "* CAPABILITY IMAP4rev1 UIDPLUS "
                    + ("AUTH=PLAIN SASL-IR" if secured else "STARTTLS")
                )
            elif command == "STARTTLS":
                chat.send(tag + " OK Begin TLS")
                chat.tls(tls)
                continue
            elif command == "AUTHENTICATE":
                _user, secret = base64.b64decode(rest.split(" ")[1]).split(b"\0")[1:]
                if secret.decode() != PASSWORD:
                    chat.send(tag + " NO [AUTHENTICATIONFAILED] Authentication failed.")
                    continue
            elif command == "SELECT":
                chat.send("* %d EXISTS" % len(mailbox))
            elif command == "UID" and rest.upper().startswith("SEARCH"):
                wanted = re.search(r'"([^"]+)"$', rest).group(1)
                uids = [uid for uid, data in mailbox.items() if wanted.encode() in data]
                chat.send(("* SEARCH " + " ".join(uids)).strip())
            elif command == "UID" and rest.upper().startswith("EXPUNGE"):
                for uid in rest.split(" ")[1].split(","):
                    chat.send("* %s EXPUNGE" % uid)
                    mailbox.pop(uid, None)
            elif command == "LOGOUT":
                chat.send("* BYE")
                chat.send(tag + " OK bye")
                return
            chat.send(tag + " OK done")

    return FakeServer(handler)


def test_round_trip_over_sockets_with_verified_tls(pki):
    mailbox = {}
    smtp, imap = smtp_server(pki["tls"], mailbox), imap_server(pki["tls"], mailbox)
    params = dict(
        path="direct",
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_server_name="fake.example.test",
        starttls="always",
        helo_name="probe.example.net",
        to="canary@example.test",
        mail_from=None,
        subject_prefix="continuity canary",
        token=None,
        imap_user=None,
        imap_password=PASSWORD,
        servers=[
            {
                "name": "mx1",
                "host": "127.0.0.1",
                "port": imap.port,
                "tls": "starttls",
                "server_name": "fake.example.test",
            }
        ],
        expect_on="mx1",
        timeout=10,
        poll_interval=0.2,
        connect_timeout=5,
        delete=True,
        tls_verify=True,
        ca_path=pki["ca"],
    )
    try:
        result, error = canary.round_trip(params)
    finally:
        smtp.close()
        imap.close()
    assert error is None, error
    assert result["delivered"] is True and result["deleted"] == ["mx1"] and mailbox == {}
    assert result["smtp"] == {
        "host": "127.0.0.1",
        "port": smtp.port,
        "tls": True,
        "response": "250 2.0.0 Ok: queued as LOOP1",
    }
    assert smtp.received[:3] == ["EHLO probe.example.net", "STARTTLS", "EHLO probe.example.net"]
    assert smtp.received[3:6] == [
        "MAIL FROM:<canary@example.test>",
        "RCPT TO:<canary@example.test>",
        "DATA",
    ]
    commands = [line.split(" ", 2)[1:] for line in imap.received]
    assert [c[0] for c in commands[:5]] == [
        "CAPABILITY",
        "STARTTLS",
        "CAPABILITY",
        "AUTHENTICATE",
        "SELECT",
    ]
    assert ["UID", "STORE %s +FLAGS.SILENT (\\Deleted)" % "1"] in commands
    assert ["UID", "EXPUNGE 1"] in commands
    assert commands[-1] == ["LOGOUT"]


def test_a_certificate_for_another_name_stops_before_the_message(pki):
    mailbox = {}
    smtp = smtp_server(pki["tls"], mailbox)
    message = canary.build_message("t1", "a@example.test", "b@example.test", "c", 0)
    try:
        with pytest.raises(canary.CanaryError, match="failed at STARTTLS: certificate"):
            canary.send(
                message,
                "127.0.0.1",
                smtp.port,
                "auto",
                tls_verify=True,
                ca_path=pki["ca"],
                server_name="mx9.example.test",
            )
    finally:
        smtp.close()
    assert mailbox == {} and not any(line.startswith("MAIL") for line in smtp.received)
