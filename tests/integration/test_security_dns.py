# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DNS authentication: ns1 refuses UPDATEs that are unsigned or signed with a wrong key, and
every DNS module says so in words a person can act on: which server, which key, what to fix.

The raw UPDATEs are built with dnspython, independently of the code under test; the modules
run through real `ansible` calls. Nothing may change: the zone serials are compared.
(mx_switch with a wrong secret or an unknown key name is covered in test_dns_modules.py.)
"""

import dns.query
import dns.rcode
import dns.tsig
import dns.tsigkeyring
import dns.update
import pytest

from dnslab import backends, run_module

WRONG_SECRET = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
PROBE_NAME = "_continuity-itest-unsigned"


@pytest.fixture
def bind(lab):
    backend = backends()["bind"]
    serials = {zone: backend.serial(backend.primary, zone) for zone in backend.zones}
    yield backend
    assert serials == {zone: backend.serial(backend.primary, zone) for zone in backend.zones}, (
        "a refused UPDATE changed a zone"
    )
    for zone in backend.zones:
        assert backend.query(backend.primary, "%s.%s." % (PROBE_NAME, zone), "TXT") == []


def raw_update(bind, zone, keyring=None, keyname=None):
    update = dns.update.UpdateMessage(zone, keyring=keyring, keyname=keyname)
    update.add(PROBE_NAME, 60, "TXT", '"must not be written"')
    return dns.query.tcp(update, bind.primary, timeout=10)


def test_unsigned_update_is_refused(bind):
    for zone in bind.zones:
        response = raw_update(bind, zone)
        assert response.rcode() == dns.rcode.REFUSED, dns.rcode.to_text(response.rcode())


def test_update_signed_with_a_wrong_secret_is_refused(bind):
    name = bind.lab.dns["key_name"]
    keyring = dns.tsigkeyring.from_text({name: ("hmac-sha256", WRONG_SECRET)})
    with pytest.raises(dns.tsig.PeerBadSignature):
        raw_update(bind, bind.zones[0], keyring=keyring, keyname=name)


def test_update_signed_with_an_unknown_key_is_refused(bind):
    keyring = dns.tsigkeyring.from_text({"no-such-key": ("hmac-sha256", WRONG_SECRET)})
    with pytest.raises(dns.tsig.PeerBadKey):
        raw_update(bind, bind.zones[0], keyring=keyring, keyname="no-such-key")


def rrsets_args(bind, **connection):
    args = dict(
        server=bind.primary,
        rrsets=[dict(name="%s.%s" % (PROBE_NAME, bind.zones[0]), type="TXT", values=['"x"'])],
    )
    args.update(connection)
    return args


def mx_args(bind, **connection):
    args = dict(server=bind.primary, domains=bind.zones, active="mx2", client_names=["mail"])
    args.update(connection)
    return args


def unsigned(bind):
    return {}


def wrong_secret(bind):
    return dict(key_name=bind.lab.dns["key_name"], key_secret=WRONG_SECRET)


def unknown_key(bind):
    return dict(key_name="no-such-key", key_secret=bind.lab.dns["key_secret"])


@pytest.mark.parametrize("module", ["dns_rrsets", "mx_switch"])
@pytest.mark.parametrize(
    "credentials, expected",
    [
        (unsigned, ["REFUSED", "the UPDATE was not signed", "key_name and key_secret"]),
        (wrong_secret, ["BADSIG", "key continuity-lab", "wrong secret or algorithm"]),
        (unknown_key, ["BADKEY", "does not know TSIG key no-such-key"]),
    ],
    ids=["unsigned", "wrong-secret", "unknown-key"],
)
def test_modules_say_which_server_and_key_and_change_nothing(bind, module, credentials, expected):
    build = rrsets_args if module == "dns_rrsets" else mx_args
    result = run_module(module, build(bind, **credentials(bind)))
    assert result["failed"] is True
    message = result["msg"]
    assert bind.primary in message, message
    for words in expected:
        assert words in message, message
    assert result.get("changed") is False, result
