import datetime

import pytest

from health_certs import der_cert, make_ca, make_leaf
from ansible_collections.continuity.mail.plugins.module_utils._probe_cert import (
    CertificateError, format_name, matches_hostname, parse_certificate,
)
from ansible_collections.continuity.mail.plugins.module_utils._tls import describe, evaluate

CA = make_ca()


def _parsed(names, **kwargs):
    return parse_certificate(der_cert(make_leaf(CA, names, **kwargs)[1]))


def test_subject_issuer_names_and_dates():
    key, cert = make_leaf(CA, ["mx1.example.test", "mail.example.test", "172.30.53.20"], org="Lab")
    parsed = parse_certificate(der_cert(cert))
    assert format_name(parsed["subject"]) == "CN=mx1.example.test,O=Lab"
    assert format_name(parsed["issuer"]) == "CN=continuity test CA"
    assert parsed["dns_names"] == ["mx1.example.test", "mail.example.test"]
    assert parsed["ip_addresses"] == ["172.30.53.20"]
    assert parsed["not_after"] == cert.not_valid_after_utc.replace(microsecond=0)
    assert parsed["spki"].startswith(b"\x30")


def test_generalized_time_after_2049():
    parsed = _parsed(["far.example.test"], not_after_days=365 * 40)
    assert parsed["not_after"].year >= 2060


@pytest.mark.parametrize("name,ok", [
    ("mx1.example.test", True),
    ("MX1.Example.Test.", True),
    ("mx2.example.test", False),
    ("a.wild.example.test", True),
    ("b.a.wild.example.test", False),
    ("wild.example.test", False),
    ("172.30.53.20", True),
    ("172.30.53.21", False),
])
def test_hostname_matching(name, ok):
    parsed = _parsed(["mx1.example.test", "*.wild.example.test", "172.30.53.20"])
    assert matches_hostname(parsed, name) is ok


def test_common_name_only_used_without_dns_sans():
    parsed = _parsed([], common_name="legacy.example.test")
    assert matches_hostname(parsed, "legacy.example.test")
    parsed = _parsed(["other.example.test"], common_name="legacy.example.test")
    assert not matches_hostname(parsed, "legacy.example.test")


def test_truncated_der_is_an_error():
    der = der_cert(make_leaf(CA, ["x.example.test"])[1])
    with pytest.raises(CertificateError):
        parse_certificate(der[:100])


def _verdict(names, check, verify=True, min_days=14, **kwargs):
    der = der_cert(make_leaf(CA, names, **kwargs)[1])
    cert, parsed = describe(der, check, True if verify else None)
    return evaluate(cert, parsed, verify, min_days), cert


def test_status_ok_and_days_left():
    (status, message), cert = _verdict(["mx1.example.test"], "mx1.example.test", not_after_days=100)
    assert (status, message) == ("ok", None)
    assert cert["days_left"] in (99, 100)
    assert cert["hostname_ok"] is True and cert["chain_ok"] is True


def test_expired_whether_or_not_verifying():
    for verify in (True, False):
        (status, _), cert = _verdict(["mx1.example.test"], "mx1.example.test", verify,
                                     not_before_days=-60, not_after_days=-1)
        assert status == "cert_expired"
        assert cert["days_left"] < 0


def test_name_mismatch_is_tls_error_only_when_verifying():
    (status, _), cert = _verdict(["other.example.test"], "mx1.example.test", True)
    assert status == "tls_error" and cert["hostname_ok"] is False
    (status, _), cert = _verdict(["other.example.test"], "mx1.example.test", False)
    assert status == "ok" and cert["chain_ok"] is None


def test_expiring_soon_is_a_warning_status():
    (status, message), _ = _verdict(["mx1.example.test"], "mx1.example.test", not_after_days=5)
    assert status == "cert_expiring"
    assert "expires in" in message


def test_not_yet_valid_is_tls_error():
    (status, _), _ = _verdict(["mx1.example.test"], "mx1.example.test", not_before_days=2)
    assert status == "tls_error"


def test_describe_uses_given_clock():
    der = der_cert(make_leaf(CA, ["x.example.test"], not_after_days=10)[1])
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=20)
    cert, parsed = describe(der, "x.example.test", True, now=later)
    assert cert["days_left"] < 0
    assert evaluate(cert, parsed, True, 14, now=later)[0] == "cert_expired"
