# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""continuity_preflight against the lab zones and servers: the lab passes; deliberately
broken inputs (and a real broken TLSA record / MTA-STS policy) give the expected findings."""

import contextlib
import hashlib
import os

import dns.message
import dns.query
import dns.tsigkeyring
import dns.update
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from health_lab import broken, run_module  # noqa: F401  (broken is a fixture)
from labtools import STATE_DIR, wait_until


@pytest.fixture(scope="module")
def inputs(lab):
    """What the lab really serves: users from Dovecot on mx1, recipients from mx2's map."""
    users = lab.exec("mx1", "doveadm user '*'").stdout.split()
    recipients = [
        line.split()[0]
        for line in lab.exec("mx2", "cat /etc/postfix/recipients").stdout.splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert users and recipients
    return {
        "domains": lab.domains,
        "primary": ["mx1.example.test"],
        "secondary": ["mx2.example.test"],
        "nameservers": [lab.ip("ns1")],
        "rto_target": lab.vars["continuity_rto_target"],
        "client_names": lab.vars["continuity_client_names"],
        "primary_users": users,
        "secondary_recipients": recipients,
        "ca_path": lab.ca_cert,
        "timeout": 10,
    }


def preflight(inputs, **changes):
    args = dict(inputs, fail_on="never")
    args.update(changes)
    return run_module("localhost", "continuity.mail.continuity_preflight", args)


def errors(result, check=None):
    return [
        f for f in result["findings"] if f["severity"] == "error" and check in (None, f["check"])
    ]


def test_lab_zones_pass(inputs):
    def clean():
        result = preflight(inputs)
        return result if result["passed"] and result["summary"]["warning"] == 0 else None

    # The lab is shared: a colleague's failover drill (mx2 preferred, mx1 cut off) makes the
    # preflight rightly complain. Wait for the lab to be back in its normal state.
    result = wait_until(clean, timeout=900, interval=15, what="the lab in its normal state")
    assert result["summary"]["error"] == 0 and result["summary"]["warning"] == 0
    assert {f["check"] for f in result["findings"]} == {"mta_sts"}  # info: no policy published
    checks = {(c["domain"], c["check"]) for c in result["checked"] if c["result"] == "pass"}
    for domain in inputs["domains"]:
        for check in (
            "mx_present",
            "secondary_in_mx",
            "mx_smtp",
            "spf",
            "dmarc",
            "recipients",
            "mx_ttl",
            "mx_address_limit",
        ):
            assert (domain, check) in checks
    roles = {mx["exchange"]: mx["role"] for mx in result["mx"]["example.org"]}
    assert roles == {"mx1.example.org": "primary", "mx2.example.org": "secondary"}
    assert all(p["cert"]["hostname_ok"] for p in result["probes"])


def test_wrong_mta_sts_policy_text(inputs):
    policy = "version: STSv1\nmode: enforce\nmx: mx1.example.test\nmax_age: 604800\n"
    result = preflight(inputs, mta_sts={"example.test": policy})
    found = errors(result, "mta_sts")
    assert [f["subject"] for f in found] == ["mx2.example.test"]
    assert "mx: mx2.example.test" in found[0]["fix"]
    broken_text = "version: STSv2\nmode: sometimes\n"
    found = errors(preflight(inputs, mta_sts={"example.org": broken_text}), "mta_sts")
    assert len(found) == 1 and "invalid MTA-STS policy" in found[0]["message"]


def test_secondary_recipient_list_differs(inputs):
    recipients = [r for r in inputs["secondary_recipients"] if r != "bob@example.org"] + [
        "ghost@example.org"
    ]
    result = preflight(inputs, secondary_recipients=recipients)
    found = [f for f in result["findings"] if f["check"] == "recipients"]
    assert {(f["domain"], f["severity"]) for f in found} == {
        ("example.org", "error"),
        ("example.org", "warning"),
    }
    assert any("bob@example.org" in f["message"] for f in found if f["severity"] == "error")
    assert any("ghost@example.org" in f["message"] for f in found if f["severity"] == "warning")


def test_rto_target_smaller_than_ttl(lab, inputs):
    result = preflight(inputs, rto_target=10)
    assert {f["domain"] for f in errors(result, "mx_ttl")} == set(inputs["domains"])
    assert {f["subject"] for f in errors(result, "client_name_ttl")} == set(inputs["client_names"])
    ttl = lab.vars["continuity_mx_ttl"]
    assert "%d s exceeds the RTO target 10 s" % ttl in errors(result, "mx_ttl")[0]["message"]


def test_spf_not_covering_the_secondary_outbound_address(inputs):
    result = preflight(inputs, secondary_outbound=["172.30.53.45"])
    found = errors(result, "spf")
    assert {f["domain"] for f in found} == set(inputs["domains"])
    assert "'fail'" in found[0]["message"] and "ip4:172.30.53.45" in found[0]["fix"]


def test_secondary_not_in_mx_and_smtp_failures(inputs):
    result = preflight(inputs, secondary=["172.30.53.45"], smtp_port=2525)
    assert {f["domain"] for f in errors(result, "secondary_in_mx")} == set(inputs["domains"])
    smtp = errors(result, "mx_smtp")
    assert len(smtp) == 4 and all("SMTP refused" in f["message"] for f in smtp)


def test_fail_on_error_fails_the_task_and_keeps_findings(inputs):
    result = run_module(
        "localhost", "continuity.mail.continuity_preflight", dict(inputs, rto_target=10)
    )
    assert result.get("failed") is True
    assert "finding(s) at error level" in result["msg"]
    assert result["summary"]["error"] >= 2


def _tsig(lab):
    return dict(
        keyring=dns.tsigkeyring.from_text({lab.dns["key_name"]: lab.dns["key_secret"]}),
        keyalgorithm=lab.dns["key_algorithm"],
    )


@contextlib.contextmanager
def zone_records(lab, rdtype, records):
    """Add RRsets of one type with a signed RFC 2136 UPDATE; always delete them again."""

    def send(update):
        response = dns.query.tcp(update, lab.ip("ns1"), timeout=10)
        assert response.rcode() == 0, response

    try:
        update = dns.update.UpdateMessage("example.test", **_tsig(lab))
        for name, text in records.items():
            update.add(name + ".", 60, rdtype, text)
        send(update)
        yield
    finally:
        update = dns.update.UpdateMessage("example.test", **_tsig(lab))
        for name in records:
            update.delete(name + ".", rdtype)
        send(update)


def test_tlsa_match_and_mismatch(lab, inputs):
    with open(os.path.join(STATE_DIR, "pki", "mx1.crt"), "rb") as handle:
        cert = x509.load_pem_x509_certificate(handle.read())
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    records = {
        "_25._tcp.mx1.example.test": "3 1 1 " + hashlib.sha256(spki).hexdigest(),
        "_25._tcp.mx2.example.test": "3 1 1 " + "00" * 32,
    }
    with zone_records(lab, "TLSA", records):
        result = preflight(inputs, domains=["example.test"])
    tlsa = [f for f in result["findings"] if f["check"] == "tlsa"]
    assert [f["subject"] for f in errors(result, "tlsa")] == [
        "_25._tcp.mx2.example.test (172.30.53.21)"
    ]
    assert any(
        c["check"] == "tlsa" and c["result"] == "pass" and c["subject"].startswith("_25._tcp.mx1")
        for c in result["checked"]
    )
    assert any(f["severity"] == "warning" and "without DNSSEC" in f["message"] for f in tlsa)
    gone = dns.query.tcp(
        dns.message.make_query("_25._tcp.mx1.example.test", "TLSA"), lab.ip("ns1"), timeout=10
    )
    assert not gone.answer


def dmarc(result):
    return [f for f in result["findings"] if f["check"] in ("dmarc", "dkim")]


def test_dmarc_passes_through_spf_or_dkim_and_fails_without_either(lab, inputs):
    # The lab's zones publish p=quarantine, and their SPF covers mx2 (test_lab_zones_pass).
    one = dict(inputs, domains=["example.test"])
    # An outbound address SPF does not cover, and nothing signs: quarantined.
    result = preflight(one, secondary_outbound=["172.30.53.45"])
    assert [(f["check"], f["severity"]) for f in dmarc(result)] == [("dmarc", "error")]
    assert "receivers quarantine it" in dmarc(result)[0]["message"]
    key = {"s2026._domainkey.example.test": '"v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOC"'}
    with zone_records(lab, "TXT", key):
        # The same address, but the secondary signs with a published key: DMARC passes.
        signed = preflight(
            one, secondary_outbound=["172.30.53.45"], dkim_selectors={"example.test": "s2026"}
        )
        assert dmarc(signed) == []
        passed = {(c["check"], c["subject"]) for c in signed["checked"] if c["result"] == "pass"}
        assert ("dkim", "s2026._domainkey.example.test") in passed
    # A selector whose key is not published is itself an error.
    missing = preflight(one, dkim_selectors={"example.test": ["s1999"]})
    assert [f["subject"] for f in errors(missing, "dkim")] == ["s1999._domainkey.example.test"]


STS_SERVER = """
import http.server, ssl
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain("/etc/postfix/certs/good.crt", "/etc/postfix/certs/good.key")
server = http.server.HTTPServer(("0.0.0.0", 8443), http.server.SimpleHTTPRequestHandler)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"""


def test_mta_sts_policy_fetched_over_https(lab, inputs, broken):  # noqa: F811
    policy = (
        "version: STSv1\nmode: testing\nmx: mx1.example.test\nmx: mx2.example.test\n"
        "max_age: 86400\n"
    )
    broken.sh(
        "mkdir -p /srv/sts/.well-known && cat > /srv/sts/.well-known/mta-sts.txt", input_text=policy
    )
    broken.sh("cat > /root/sts.py", input_text=STS_SERVER)
    broken.sh("systemd-run --unit continuity-sts --working-directory=/srv/sts python3 /root/sts.py")
    wait_until(
        lambda: "8443" in broken.sh("ss -ltn", check=False).stdout,
        timeout=30,
        what="HTTPS policy server",
    )
    url = "https://%s:8443/.well-known/mta-sts.txt" % broken.ip
    result = preflight(
        inputs,
        domains=["example.test"],
        mta_sts={"example.test": url},
        ca_path=broken.ca_path,
        probe_smtp=False,
    )
    assert sorted(
        c["subject"] for c in result["checked"] if c["check"] == "mta_sts" and c["result"] == "pass"
    ) == ["mx1.example.test", "mx2.example.test"]
    broken.sh(
        "cat > /srv/sts/.well-known/mta-sts.txt",
        input_text=policy.replace("mx: mx2.example.test\n", ""),
    )
    result = preflight(
        inputs,
        domains=["example.test"],
        mta_sts={"example.test": url},
        ca_path=broken.ca_path,
        probe_smtp=False,
    )
    warned = [f for f in result["findings"] if f["check"] == "mta_sts"]
    assert [(f["severity"], f["subject"]) for f in warned] == [("warning", "mx2.example.test")]
    closed = "https://%s:8444/.well-known/mta-sts.txt" % broken.ip
    result = preflight(
        inputs, domains=["example.test"], mta_sts={"example.test": closed}, probe_smtp=False
    )
    assert "cannot fetch the MTA-STS policy" in errors(result, "mta_sts")[0]["message"]
