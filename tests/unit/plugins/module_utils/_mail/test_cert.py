# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""X.509 DER reading and host name matching."""

import pytest

from ansible_collections.continuity.mail.plugins.module_utils._mail.cert import (
    CertificateError,
    format_name,
    matches_hostname,
    parse_certificate,
)
from health_certs import der_cert, make_ca, make_leaf

CA = make_ca()


def _parsed(names, **kwargs):
    return parse_certificate(der_cert(make_leaf(CA, names, **kwargs)[1]))


def test_subject_issuer_names_and_dates():
    _key, cert = make_leaf(CA, ["mx1.example.test", "mail.example.test", "172.30.53.20"], org="Lab")
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


@pytest.mark.parametrize(
    "name,ok",
    [
        ("mx1.example.test", True),
        ("MX1.Example.Test.", True),
        ("mx2.example.test", False),
        ("a.wild.example.test", True),
        ("b.a.wild.example.test", False),
        ("wild.example.test", False),
        ("172.30.53.20", True),
        ("172.30.53.21", False),
    ],
)
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
