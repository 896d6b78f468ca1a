# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A re-issued certificate is served on every port of a mail host: SMTP (25), submission
(587), IMAP with STARTTLS (143) and IMAPS (993). Postfix's smtpd processes and Dovecot keep
the certificate they loaded, so a change must reload both, whether it comes from a converge
(the lab CA or the host certificate changed) or from a renewal tool rewriting the file."""

import datetime
import hashlib
import imaplib
import os
import shutil
import smtplib
import ssl
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from flows_lab import ansible_env
from labtools import ROOT, STATE_DIR, wait_until

HOST = "mx1"
PORTS = (25, 587, 143, 993)


def issue(common_name, sans):
    """A new key and certificate for a mail host, signed by the lab's CA (PEM bytes)."""
    pki = os.path.join(STATE_DIR, "pki")
    with open(os.path.join(pki, "ca.key"), "rb") as handle:
        ca_key = serialization.load_pem_private_key(handle.read(), None)
    with open(os.path.join(pki, "ca.crt"), "rb") as handle:
        ca_cert = x509.load_pem_x509_certificate(handle.read())
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in sans]), False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def fingerprint(pem):
    der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


def served(address, port):
    """SHA-256 of the certificate a port presents (no verification: we compare it)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if port in (25, 587):
        with smtplib.SMTP(address, port, timeout=10) as client:
            client.ehlo("tls-check.example.net")
            client.starttls(context=context)
            der = client.sock.getpeercert(binary_form=True)
    elif port == 143:
        client = imaplib.IMAP4(address, port, timeout=10)
        try:
            client.starttls(ssl_context=context)
            der = client.sock.getpeercert(binary_form=True)
        finally:
            client.logout()
    else:
        client = imaplib.IMAP4_SSL(address, port, ssl_context=context, timeout=10)
        try:
            der = client.sock.getpeercert(binary_form=True)
        finally:
            client.logout()
    return hashlib.sha256(der).hexdigest()


def every_port(lab):
    return {port: served(lab.ip(HOST), port) for port in PORTS}


@pytest.fixture(scope="module")
def current_cert():
    """mx1's certificate in the lab's PKI; restored and re-converged after the module."""
    pki = os.path.join(STATE_DIR, "pki")
    saved = {}
    for name in (HOST + ".crt", HOST + ".key"):
        with open(os.path.join(pki, name), "rb") as handle:
            saved[name] = handle.read()
    cert = x509.load_pem_x509_certificate(saved[HOST + ".crt"])
    common_name = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    yield common_name, sans.value.get_values_for_type(x509.DNSName)
    for name, data in saved.items():
        with open(os.path.join(pki, name), "wb") as handle:
            handle.write(data)
    converge()


def converge():
    """The lab certificates and the mail role, on the test's host only."""
    proc = subprocess.run(
        [
            "ansible-playbook",
            "--limit",
            HOST,
            os.path.join(ROOT, "tests/integration/playbooks/mail_tls.yml"),
        ],
        cwd=ROOT,
        env=ansible_env(json_output=False),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_certificate_renewed_on_the_host_is_served_without_a_converge(lab, current_cert):
    """A renewal tool rewrites the files in place; the role's path unit reloads both."""
    key_pem, cert_pem = issue(*current_cert)
    tls_dir = "/etc/ssl/continuity"
    # Key first, then certificate, as renewal hooks do; each write is atomic (rename).
    lab.exec(
        HOST,
        "cat > %s/mail.key.new && mv %s/mail.key.new %s/mail.key" % ((tls_dir,) * 3),
        input_text=key_pem.decode(),
    )
    lab.exec(
        HOST,
        "cat > %s/mail.crt.new && mv %s/mail.crt.new %s/mail.crt" % ((tls_dir,) * 3),
        input_text=cert_pem.decode(),
    )
    wanted = {port: fingerprint(cert_pem) for port in PORTS}
    wait_until(
        lambda: every_port(lab) == wanted,
        timeout=60,
        interval=1,
        what="every port of %s to serve the renewed certificate" % HOST,
    )


def test_reissued_certificate_is_served_on_every_port_after_converge(lab, current_cert):
    before = every_port(lab)
    assert len(set(before.values())) == 1, "ports disagree before the change: %s" % before
    key_pem, cert_pem = issue(*current_cert)
    pki = os.path.join(STATE_DIR, "pki")
    for name, data in ((HOST + ".key", key_pem), (HOST + ".crt", cert_pem)):
        with open(os.path.join(pki, name), "wb") as handle:
            handle.write(data)
    converge()
    # Right after the converge, with no waiting: every port serves the new certificate.
    assert every_port(lab) == {port: fingerprint(cert_pem) for port in PORTS}


def test_state_dir_is_outside_the_checkout():
    """Any checkout drives the same lab: its CA lives with the lab, not in a clone."""
    assert not os.path.realpath(STATE_DIR).startswith(os.path.realpath(ROOT) + os.sep)
    assert os.path.isfile(os.path.join(STATE_DIR, "pki", "ca.crt"))
    assert shutil.which("docker")
