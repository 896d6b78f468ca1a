# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Input checks of the DNS modules: every bad input is refused with a message naming it."""

import dns.name
import dns.rdata
import pytest

from ansible_collections.continuity.mail.plugins.module_utils._dns.input import (
    InputError,
    parse_name,
    parse_server,
    parse_tsig,
    parse_ttl,
    parse_type,
    parse_values,
)
from ansible_collections.continuity.mail.plugins.module_utils._dns.options import (
    settings_from_params,
)

SECRET = "c2VjcmV0LWZvci11bml0LXRlc3RzLW9ubHktMzJieXRlcyE="


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "a name is required"),
        ("   ", "a name is required"),
        ("a..example.test", "empty"),
        ("bad name.example.test", "spaces"),
        ("-lead.example.test", 'may not start or end with "-"'),
        ("trail-.example.test", 'may not start or end with "-"'),
        ("ex@mple.test", "label"),
        ("x" * 64 + ".test", "label"),
        (".".join(["abcdefghij"] * 26), "> 255 octets"),
        (".", "root name"),
        ("a\\046b.test", "escapes"),
    ],
)
def test_invalid_names_are_refused(text, fragment):
    with pytest.raises(InputError) as error:
        parse_name(text, "rrsets[0].name")
    assert "rrsets[0].name" in str(error.value)
    assert fragment.lower() in str(error.value).lower()


def test_names_are_absolute_with_or_without_trailing_dot():
    assert parse_name("Mail.Example.Test", "x") == parse_name("mail.example.test.", "x")
    assert parse_name("mail.example.test", "x").is_absolute()


def test_single_label_is_relative_only_with_an_origin():
    origin = dns.name.from_text("example.org")
    assert parse_name("mx2", "active", origin=origin).to_text() == "mx2.example.org."
    assert parse_name("mx2.example.test", "active", origin=origin).to_text() == "mx2.example.test."
    assert parse_name("mx2", "active").to_text() == "mx2."


def test_wildcard_only_as_first_label_when_allowed():
    assert parse_name("*.example.test", "n", wildcard=True).to_text() == "*.example.test."
    with pytest.raises(InputError):
        parse_name("*.example.test", "n")
    with pytest.raises(InputError):
        parse_name("a.*.example.test", "n", wildcard=True)


def test_unicode_names_become_idna():
    assert parse_name("bücher.example", "n").to_text() == "xn--bcher-kva.example."


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("BOGUS", "unknown record type"),
        ("", "record type is required"),
        ("SOA", "managed by the server"),
        ("RRSIG", "managed by the server"),
        ("ANY", "managed by the server"),
        ("AXFR", "managed by the server"),
    ],
)
def test_bad_types_are_refused(text, fragment):
    with pytest.raises(InputError, match=fragment):
        parse_type(text, "rrsets[1].type")


def test_types_are_case_insensitive():
    assert parse_type("mx", "t") == parse_type("MX", "t")


@pytest.mark.parametrize(
    "rdtype, value, fragment",
    [
        ("MX", "70000 mx1.example.test", "not an unsigned 16-bit integer"),
        ("MX", "-1 mx1.example.test", "invalid MX value"),
        ("MX", "10", "invalid MX value"),
        ("MX", "10 bad_.-host.example.test", "may not start or end"),
        ("A", "192.0.2.300", "invalid A value"),
        ("AAAA", "192.0.2.1", "invalid AAAA value"),
        ("CNAME", "two words", "invalid CNAME value"),
        ("MX", "", "empty MX value"),
    ],
)
def test_bad_values_are_refused(rdtype, value, fragment):
    with pytest.raises(InputError, match=fragment):
        parse_values([value], parse_type(rdtype, "t"), "rrsets[0]")


def test_values_compare_without_case_trailing_dot_or_duplicates():
    mx = parse_type("MX", "t")
    one = parse_values(["10 MX1.Example.Test", "20 mx2.example.test."], mx, "v")
    two = parse_values(
        ["20 mx2.example.test", "10 mx1.example.test.", "10 mx1.EXAMPLE.test"], mx, "v"
    )
    assert sorted(v.key for v in one) == sorted(v.key for v in two)
    assert len(two) == 2
    # the wire form keeps what the user typed; only the comparison key is lower-cased
    assert b"MX1" in one[0].wire


def test_value_keys_match_dnspython_canonical_form():
    mx = parse_type("MX", "t")
    value = parse_values(["10 Mx1.Example.Test"], mx, "v")[0]
    rdata = dns.rdata.from_text("IN", "MX", "10 mx1.example.test.")
    assert value.key == rdata.to_digestable(dns.name.root)


def test_txt_values_are_one_string_unless_quoted():
    txt = parse_type("TXT", "t")
    plain = parse_values(["v=spf1 ip4:192.0.2.1 -all"], txt, "v")[0]
    quoted = parse_values(['"v=spf1 ip4:192.0.2.1 -all"'], txt, "v")[0]
    assert plain.key == quoted.key
    split = parse_values(['"v=spf1" "-all"'], txt, "v")[0]
    assert split.key != plain.key
    long_text = parse_values(["x" * 300], txt, "v")[0]
    assert long_text.key[0] == 255 and long_text.key[256] == 45


@pytest.mark.parametrize("value", [-1, 2147483648, "60", True])
def test_bad_ttl_is_refused(value):
    with pytest.raises(InputError, match="ttl must be an integer"):
        parse_ttl(value, "rrsets[0]")


@pytest.mark.parametrize(
    "name, secret, fragment",
    [
        ("continuity-lab", None, "only key_name given"),
        (None, SECRET, "only key_secret given"),
        ("continuity-lab", "not base64!", "not valid base64"),
        ("bad key", SECRET, "invalid name"),
    ],
)
def test_half_or_broken_tsig_keys_are_refused(name, secret, fragment):
    with pytest.raises(InputError, match=fragment):
        parse_tsig(name, secret, "hmac-sha256")


def test_every_hmac_algorithm_maps_to_dnspython():
    for algorithm in (
        "hmac-md5",
        "hmac-sha1",
        "hmac-sha224",
        "hmac-sha256",
        "hmac-sha256-128",
        "hmac-sha384",
        "hmac-sha384-192",
        "hmac-sha512",
        "hmac-sha512-256",
    ):
        key = parse_tsig("k", SECRET, algorithm)
        assert key.dns.algorithm.to_text().lower().startswith(algorithm)
        assert key.signer.algorithm == algorithm
    with pytest.raises(InputError, match="key_algorithm must be one of"):
        parse_tsig("k", SECRET, "hmac-sha3")


def test_no_key_means_unsigned():
    assert parse_tsig(None, None, "hmac-sha256") is None


@pytest.mark.parametrize(
    "text, label",
    [
        ("192.0.2.11", "192.0.2.11"),
        ("192.0.2.11:5353", "192.0.2.11:5353"),
        ("2001:db8::11", "2001:db8::11"),
        ("[2001:db8::11]:5353", "[2001:db8::11]:5353"),
        ("ns2.example.test", "ns2.example.test"),
    ],
)
def test_wait_servers_forms(text, label):
    assert parse_server(text, "wait_servers[0]").label == label


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("192.0.2.11:99999", "port must be from 1 to 65535"),
        ("192.0.2.11:abc", "invalid port"),
        ("[2001:db8::11", "invalid server"),
        ("", "a server address is required"),
        ("bad host:53", "invalid name"),
    ],
)
def test_bad_wait_servers_are_refused(text, fragment):
    with pytest.raises(InputError, match=fragment):
        parse_server(text, "wait_servers[0]")


def _params(**overrides):
    params = dict(
        server="192.0.2.10",
        port=53,
        protocol="tcp",
        key_name=None,
        key_secret=None,
        key_algorithm="hmac-sha256",
        timeout=10.0,
        wait=False,
        wait_servers=[],
        wait_timeout=60.0,
    )
    params.update(overrides)
    return params


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        (dict(port=0), "port must be from 1 to 65535"),
        (dict(port=70000), "port must be from 1 to 65535"),
        (dict(timeout=0), "timeout must be greater than 0"),
        (dict(wait_timeout=-1), "wait_timeout must be greater than 0"),
        (dict(key_name="continuity-lab"), "needs both key_name and key_secret"),
        (dict(server="bad host"), "invalid name"),
        (dict(wait_servers=["192.0.2.11", "x:0"]), "wait_servers[1]"),
    ],
)
def test_bad_connection_settings_are_refused(overrides, fragment):
    with pytest.raises(InputError) as error:
        settings_from_params(_params(**overrides))
    assert fragment in str(error.value)


def test_wait_servers_are_deduplicated():
    settings = settings_from_params(
        _params(wait_servers=["192.0.2.11", "192.0.2.11:53", "192.0.2.12"])
    )
    assert [e.label for e in settings.wait_servers] == ["192.0.2.11", "192.0.2.12"]
