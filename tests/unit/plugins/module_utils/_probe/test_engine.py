# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import socket
import time

import pytest

from ansible_collections.continuity.mail.plugins.module_utils._probe import engine
from ansible_collections.continuity.mail.plugins.module_utils._probe.targets import normalize
from fake_mail_server import FakeServer, imap_server, server_tls_context, smtp_server
from health_certs import make_ca, make_leaf, pem_cert, write_pair


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    ca = make_ca()
    (folder / "ca.crt").write_bytes(pem_cert(ca[1]))
    other = make_ca("someone else's CA")
    pairs = {
        "good": make_leaf(ca, ["fake.example.test"]),
        "wrong": make_leaf(ca, ["other.example.test"]),
        "expired": make_leaf(ca, ["fake.example.test"], not_before_days=-90, not_after_days=-2),
        "soon": make_leaf(ca, ["fake.example.test"], not_after_days=3),
        "untrusted": make_leaf(other, ["fake.example.test"]),
        "untrusted_expired": make_leaf(
            other, ["fake.example.test"], not_before_days=-90, not_after_days=-2
        ),
    }
    contexts = {}
    for stem, (key, cert) in pairs.items():
        contexts[stem] = server_tls_context(*write_pair(folder, stem, key, cert))
    return {"ca": str(folder / "ca.crt"), "tls": contexts}


def probe(*targets, **options):
    options.setdefault("timeout", 2)
    results, _ = engine.run(normalize(list(targets)), **options)
    return results


def local(port, **extra):
    target = {"host": "127.0.0.1", "port": port, "server_name": "fake.example.test"}
    target.update(extra)
    return target


def closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_plain_smtp_ok_with_banner_capabilities_and_phases():
    server = smtp_server(caps=("PIPELINING", "SIZE 1000"))
    result = probe(local(server.port, starttls=False))[0]
    assert result["status"] == "ok" and result["healthy"] is True
    assert result["banner"] == "fake.example.test ESMTP"
    assert result["capabilities"] == ["PIPELINING", "SIZE 1000"]
    assert set(result["phases"]) == {"connect", "banner", "capabilities", "envelope"}
    assert result["cert"] is None and result["error"] is None
    server.settle()
    assert server.received[-3:] == ["MAIL FROM:<>", "RSET", "QUIT"]


@pytest.mark.parametrize(
    "reply,status",
    [
        ("452 4.3.1 Insufficient system storage", "tempfail"),
        ("550 5.7.1 go away", "rejected"),
    ],
)
def test_smtp_that_greets_but_refuses_mail_is_unhealthy(reply, status):
    server = smtp_server(caps=("PIPELINING",), mail_reply=reply)
    result = probe(local(server.port, starttls=False))[0]
    assert result["status"] == status and result["healthy"] is False
    assert "MAIL FROM" in result["error"] and reply.split()[0] in result["error"]


def test_envelope_check_can_be_turned_off():
    server = smtp_server(caps=("PIPELINING",), mail_reply="452 4.3.1 full")
    result = probe(local(server.port, starttls=False, envelope=False))[0]
    assert result["status"] == "ok"
    assert "MAIL FROM:<>" not in server.received


@pytest.mark.parametrize(
    "greeting,status",
    [
        ("421 4.3.2 busy", "tempfail"),
        ("554 5.7.1 go away", "rejected"),
        ("hello there", "protocol_error"),
    ],
)
def test_greeting_status(greeting, status):
    server = smtp_server(greeting=greeting)
    result = probe(local(server.port))[0]
    assert result["status"] == status
    assert result["healthy"] is False
    assert result["error"]


def test_closed_port_is_refused():
    result = probe(local(closed_port()))[0]
    assert result["status"] == "refused"
    assert set(result["phases"]) == {"connect"}


def test_silent_server_times_out_in_banner_phase():
    server = smtp_server(hold=3)
    result = probe(local(server.port), timeout=0.3)[0]
    assert result["status"] == "timeout"
    assert "banner" in result["error"]


def test_starttls_not_offered_is_tls_error():
    server = smtp_server(caps=("PIPELINING",))
    assert probe(local(server.port))[0]["status"] == "tls_error"


def test_starttls_with_trusted_certificate(pki):
    server = smtp_server(caps=("STARTTLS", "AUTH PLAIN"), tls=pki["tls"]["good"])
    result = probe(local(server.port, ca_path=pki["ca"], protocol="submission"))[0]
    assert result["status"] == "ok", result["error"]
    assert result["cert"]["hostname_ok"] is True and result["cert"]["chain_ok"] is True
    assert result["cert"]["subject"] == "CN=fake.example.test"
    assert "AUTH PLAIN" in result["capabilities"] and "STARTTLS" not in result["capabilities"]
    assert "tls" in result["phases"]


def test_wrong_name_is_tls_error_and_never_sends_credentials(pki):
    server = smtp_server(caps=("STARTTLS", "AUTH PLAIN"), tls=pki["tls"]["wrong"])
    result = probe(local(server.port, ca_path=pki["ca"], user="u", password="Pw-Xq9"))[0]
    assert result["status"] == "tls_error"
    assert result["cert"]["hostname_ok"] is False
    assert not any(line.startswith("AUTH") for line in server.received)


def test_wrong_name_without_verification_is_ok(pki):
    server = smtp_server(caps=("STARTTLS",), tls=pki["tls"]["wrong"])
    result = probe(local(server.port, tls_verify=False))[0]
    assert result["status"] == "ok"
    assert result["cert"]["hostname_ok"] is False and result["cert"]["chain_ok"] is None


@pytest.mark.parametrize("verify", [True, False])
def test_expired_certificate(pki, verify):
    server = smtp_server(caps=("STARTTLS",), tls=pki["tls"]["expired"])
    result = probe(local(server.port, ca_path=pki["ca"], tls_verify=verify))[0]
    assert result["status"] == "cert_expired"
    assert result["cert"]["days_left"] < 0
    assert result["cert"]["chain_ok"] is (False if verify else None)


def test_untrusted_chain_reads_certificate_over_second_connection(pki):
    server = smtp_server(caps=("STARTTLS",), tls=pki["tls"]["untrusted"])
    result = probe(local(server.port, ca_path=pki["ca"]))[0]
    assert result["status"] == "tls_error"
    assert result["cert"]["issuer"] == "CN=someone else's CA"
    assert result["cert"]["chain_ok"] is False
    assert server.connections == 2


def test_untrusted_and_expired_reports_expiry(pki):
    server = smtp_server(caps=("STARTTLS",), tls=pki["tls"]["untrusted_expired"])
    assert probe(local(server.port, ca_path=pki["ca"]))[0]["status"] == "cert_expired"


def test_expiring_certificate_is_healthy_warning(pki):
    server = smtp_server(caps=("STARTTLS",), tls=pki["tls"]["soon"])
    result = probe(local(server.port, ca_path=pki["ca"]))[0]
    assert result["status"] == "cert_expiring"
    assert result["healthy"] is True
    assert "expires in" in result["error"]


@pytest.mark.parametrize(
    "reply,status",
    [
        ("235 2.7.0 Authentication successful", "ok"),
        ("535 5.7.8 Error: authentication failed", "auth_failed"),
        ("454 4.7.0 Temporary authentication failure", "tempfail"),
    ],
)
def test_smtp_auth(pki, reply, status):
    server = smtp_server(
        caps=("STARTTLS", "AUTH PLAIN LOGIN"), tls=pki["tls"]["good"], auth_reply=reply
    )
    result = probe(
        local(
            server.port,
            ca_path=pki["ca"],
            protocol="submission",
            user="canary@example.test",
            password="Pw-Xq9",
        )
    )[0]
    assert result["status"] == status
    assert "auth" in result["phases"]


def test_submission_without_auth_is_protocol_error(pki):
    server = smtp_server(caps=("STARTTLS",), tls=pki["tls"]["good"])
    result = probe(local(server.port, ca_path=pki["ca"], protocol="submission"))[0]
    assert result["status"] == "protocol_error"


def test_imap_login_and_examine(pki):
    server = imap_server(tls=pki["tls"]["good"], exists=7)
    result = probe(
        local(
            server.port,
            protocol="imap",
            ca_path=pki["ca"],
            user="canary@example.test",
            password="Pw-Xq9",
        )
    )[0]
    assert result["status"] == "ok", result["error"]
    assert result["mailbox"] == {"name": "INBOX", "exists": 7}
    assert set(result["phases"]) == {"connect", "banner", "capabilities", "tls", "auth", "select"}
    assert any(line.split(" ")[1] == "EXAMINE" for line in server.received)
    assert not any(line.split(" ")[1] == "SELECT" for line in server.received)


@pytest.mark.parametrize(
    "reply,status",
    [
        ("NO [AUTHENTICATIONFAILED] Authentication failed.", "auth_failed"),
        ("NO [UNAVAILABLE] try later", "tempfail"),
        ("BAD what", "protocol_error"),
    ],
)
def test_imap_login_failures(pki, reply, status):
    server = imap_server(tls=pki["tls"]["good"], login_reply=reply)
    result = probe(
        local(
            server.port,
            protocol="imap",
            ca_path=pki["ca"],
            user="canary@example.test",
            password="Pw-Xq9",
        )
    )[0]
    assert result["status"] == status


def test_imap_bye_greeting_is_tempfail():
    server = imap_server(greeting="* BYE too many connections")
    assert probe(local(server.port, protocol="imap"))[0]["status"] == "tempfail"


def _flaky(failures):
    """SMTP server whose first `failures` connections get 421 (greeting and EHLO only)."""

    def handler(chat, number, server):
        chat.send("421 not yet" if number < failures else "220 fake ESMTP")
        if number >= failures:
            chat.line()
            chat.send("250 fake")
            chat.line()

    return FakeServer(handler)


def test_fall_needs_consecutive_failures():
    server = _flaky(1)
    result = probe(local(server.port, starttls=False, envelope=False), attempts=3, interval=0.05)[0]
    assert result["healthy"] is True
    assert result["attempts"] == ["tempfail", "ok"]
    server = _flaky(5)
    result = probe(local(server.port, starttls=False, envelope=False), attempts=3, interval=0.05)[0]
    assert result["healthy"] is False
    assert result["attempts"] == ["tempfail"] * 3


def test_rise_for_targets_presumed_unhealthy():
    server = _flaky(0)
    result = probe(
        local(server.port, starttls=False, envelope=False, initial_state="unhealthy"),
        rise=3,
        interval=0.05,
    )[0]
    assert result["attempts"] == ["ok"] * 3 and result["healthy"] is True
    server = _flaky(1)
    result = probe(
        local(server.port, starttls=False, envelope=False, initial_state="unhealthy"),
        rise=3,
        interval=0.05,
    )[0]
    assert result["attempts"] == ["tempfail"] and result["healthy"] is False


@pytest.mark.parametrize(
    "statuses,initial,attempts,rise,verdict",
    [
        (["ok"], "healthy", 3, 1, True),
        (["timeout"], "healthy", 3, 1, None),
        (["timeout", "timeout", "refused"], "healthy", 3, 1, False),
        (["cert_expiring"], "healthy", 1, 1, True),
        (["ok", "ok"], "unhealthy", 1, 3, None),
        (["ok", "ok", "ok"], "unhealthy", 1, 3, True),
        (["ok", "timeout"], "unhealthy", 1, 3, False),
        ([], "healthy", 1, 1, None),
    ],
)
def test_decide(statuses, initial, attempts, rise, verdict):
    assert engine.decide(statuses, initial, attempts, rise) is verdict


def _holding():
    """Counts sessions from accept until just before the EHLO reply: the client holds its
    concurrency slot for at least that long, so the count can never exceed the bound."""

    def handler(chat, number, server):
        with server.lock:
            server.sessions += 1
            server.max_sessions = max(server.max_sessions, server.sessions)
        time.sleep(0.3)
        chat.send("220 fake ESMTP")
        chat.line()
        with server.lock:
            server.sessions -= 1
        chat.send("250 fake")
        chat.line()

    server = FakeServer(handler)
    server.sessions = server.max_sessions = 0
    return server


@pytest.mark.parametrize("concurrency", [2, 8])
def test_concurrency_bound(concurrency):
    server = _holding()
    targets = [local(server.port, starttls=False, envelope=False, name="t%d" % n) for n in range(8)]
    results = probe(*targets, concurrency=concurrency)
    assert all(r["status"] == "ok" for r in results)
    assert [r["name"] for r in results] == ["t%d" % n for n in range(8)]
    assert server.max_sessions <= concurrency
    if concurrency == 8:
        assert server.max_sessions > 2


def test_summary_counts_by_status():
    results = [
        {"healthy": True, "status": "ok"},
        {"healthy": True, "status": "cert_expiring"},
        {"healthy": False, "status": "timeout"},
    ]
    assert engine.summarize(results) == {
        "total": 3,
        "healthy": 2,
        "unhealthy": 1,
        "by_status": {"ok": 1, "cert_expiring": 1, "timeout": 1},
    }


def test_public_strips_private_keys():
    assert engine.public({"status": "ok", "_parsed": {"der": b"x"}}) == {"status": "ok"}


def test_plaintext_injected_before_tls_is_refused(pki):
    """Bytes that arrive with the STARTTLS reply would be read as if TLS-protected."""

    def handler(chat, number, server):
        chat.send("220 fake ESMTP")
        chat.line()
        chat.send("250-fake")
        chat.send("250 STARTTLS")
        chat.line()
        chat.sock.sendall(b"220 go ahead\r\n250 injected\r\n")
        time.sleep(0.5)

    server = FakeServer(handler)
    result = probe(local(server.port, ca_path=pki["ca"]))[0]
    assert result["status"] == "protocol_error"
    assert "before the TLS handshake" in result["error"]


def test_server_hanging_up_is_protocol_error():
    server = FakeServer(lambda chat, number, srv: None)
    result = probe(local(server.port))[0]
    assert result["status"] == "protocol_error"
    assert "closed" in result["error"]
