# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The TLS check before a tcps sync, against real TLS servers on loopback (certificates made
with the openssl command line for each test run)."""

import socket
import ssl
import subprocess
import threading

import pytest

from ansible_collections.continuity.mail.plugins.module_utils._mailbox.tls import (
    check_certificate,
    is_address,
)


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=%s" % ca, "-keyout", str(d / (ca + ".key")),
                "-out", str(d / (ca + ".crt")))  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
            "-keyout", str(d / "server.key"), "-out", str(d / "server.csr"))  # fmt: skip
    (d / "san.ext").write_text("subjectAltName=DNS:localhost\n")
    openssl("x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.crt"),
            "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "2",
            "-extfile", str(d / "san.ext"), "-out", str(d / "server.crt"))  # fmt: skip
    return d


def serve(tls_context=None):
    """A loopback server answering one handshake per connection; returns its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)

    def loop():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                if tls_context is not None:
                    conn = tls_context.wrap_socket(conn, server_side=True)
                else:
                    conn.sendall(b"+\tdoveadm plain\n")
            except (OSError, ssl.SSLError):
                pass
            finally:
                conn.close()

    threading.Thread(target=loop, daemon=True).start()
    return listener, listener.getsockname()[1]


@pytest.fixture
def tls_server(pki):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(pki / "server.crt"), str(pki / "server.key"))
    listener, port = serve(context)
    yield port
    listener.close()


def test_a_certificate_from_the_site_ca_naming_the_host_passes(pki, tls_server):
    assert check_certificate("localhost", tls_server, str(pki / "ca.crt")) is None


def test_the_wrong_ca_names_the_certificate_problem(pki, tls_server):
    problem = check_certificate("localhost", tls_server, str(pki / "other-ca.crt"))
    assert problem.startswith("the certificate of localhost:%d is not trusted" % tls_server)
    assert "unable to get local issuer certificate" in problem
    assert "other-ca.crt" in problem


def test_a_name_the_certificate_does_not_carry_is_refused(pki, tls_server):
    problem = check_certificate("127.0.0.1", tls_server, str(pki / "ca.crt"))
    assert "not trusted" in problem and "mismatch" in problem


def test_a_listener_without_tls_is_named_as_such(pki):
    listener, port = serve(None)
    try:
        problem = check_certificate("localhost", port, str(pki / "ca.crt"))
    finally:
        listener.close()
    assert problem.startswith("no TLS with localhost:%d" % port) or "handshake" in problem


def test_an_unreachable_server_is_left_to_doveadm(pki):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    assert check_certificate("127.0.0.1", port, str(pki / "ca.crt"), timeout=2) is None


@pytest.mark.parametrize(
    "host, expected",
    [
        ("192.0.2.20", True),
        ("2001:db8::1", True),
        ("[2001:db8::1]", True),
        ("mx1.example.test", False),
    ],
)
def test_addresses_are_told_from_names(host, expected):
    assert is_address(host) is expected
