# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Our TSIG signatures against dnspython's, both ways, for every HMAC algorithm."""

import struct
import time

import dns.message
import dns.name
import dns.rcode
import dns.tsig
import dns.update
import pytest

from ansible_collections.continuity.mail.plugins.module_utils._dns.tsig import TsigKey

SECRET = "c2VjcmV0LWZvci11bml0LXRlc3RzLW9ubHktMzJieXRlcyE="
ALGORITHMS = [
    "hmac-md5",
    "hmac-sha1",
    "hmac-sha224",
    "hmac-sha256",
    "hmac-sha256-128",
    "hmac-sha384",
    "hmac-sha384-192",
    "hmac-sha512",
    "hmac-sha512-256",
]


def key(algorithm, name="Unit-Key.", secret=SECRET):
    return dns.tsig.Key(name, secret, getattr(dns.tsig, algorithm.upper().replace("-", "_")))


def update_wire(msg_id=4711):
    message = dns.update.UpdateMessage("example.test.", id=msg_id)
    message.add("www.example.test.", 60, "A", "192.0.2.1")
    return message.to_wire()


def tsig_parts(wire):
    """(TSIG start, owner wire, rdata offset) of the last record, found with dnspython's help."""
    message = dns.message.from_wire(wire, keyring=False)
    owner = message.tsig.name.to_wire()
    start = len(wire) - (len(owner) + 10 + len(message.tsig[0].to_wire()))
    return start, wire[start : start + len(owner)], start + len(owner) + 10


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_dnspython_accepts_our_signature(algorithm):
    ours = TsigKey(key(algorithm))
    wire, mac = ours.signer.sign(update_wire())
    parsed = dns.message.from_wire(wire, keyring=key(algorithm))
    assert parsed.had_tsig and parsed.id == 4711 and parsed.mac == mac
    assert len(mac) == ours.signer.size


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_we_accept_dnspythons_signed_answer(algorithm):
    ours = TsigKey(key(algorithm))
    wire, mac = ours.signer.sign(update_wire())
    request = dns.message.from_wire(wire, keyring=key(algorithm))
    response = dns.message.make_response(request)
    answer = response.to_wire()
    assert ours.signer.check(answer, *tsig_parts(answer), request_mac=mac) is None


def signed_answer(tamper=None, tsig_error=0, signing_key=None, when=None):
    ours = TsigKey(key("hmac-sha256"))
    wire, mac = ours.signer.sign(update_wire())
    request = dns.message.from_wire(wire, keyring=key("hmac-sha256"))
    response = dns.message.make_response(request)
    if signing_key is not None or tsig_error:
        response.use_tsig(signing_key or key("hmac-sha256"), tsig_error=tsig_error)
    answer = response.to_wire(request_mac=mac) if signing_key or tsig_error else response.to_wire()
    if tamper:
        answer = tamper(answer)
    return ours.signer.check(
        answer, *tsig_parts(answer), request_mac=mac, now=when if when is not None else time.time()
    )


def test_a_changed_answer_does_not_verify():
    flip_rcode = lambda wire: wire[:3] + bytes([wire[3] | 0x08]) + wire[4:]  # noqa: E731
    assert signed_answer(tamper=flip_rcode)[0] == "BADSIG"


def test_another_secret_or_key_name_is_refused():
    assert signed_answer(signing_key=key("hmac-sha256", secret="b3RoZXI="))[0] == "BADSIG"
    assert signed_answer(signing_key=key("hmac-sha256", name="other-key."))[0] == "BADKEY"
    assert signed_answer(signing_key=key("hmac-sha512"))[0] == "BADKEY"


def test_old_answers_are_refused():
    assert signed_answer(when=time.time() + 3600)[0] == "BADTIME"


@pytest.mark.parametrize(
    "error, code, words",
    [
        (dns.rcode.BADKEY, "BADKEY", "does not know"),
        (dns.rcode.BADSIG, "BADSIG", "rejected the TSIG signature"),
        (dns.rcode.BADTIME, "BADTIME", "clocks differ"),
    ],
)
def test_errors_the_server_reports_win(error, code, words):
    result = signed_answer(tsig_error=error, signing_key=key("hmac-sha256", secret="AAAA"))
    assert result[0] == code and words in result[1]


def test_signature_carries_the_original_id_and_fudge():
    wire, _mac = TsigKey(key("hmac-sha256")).signer.sign(update_wire(msg_id=99), now=1700000000)
    tsig = dns.message.from_wire(wire, keyring=False).tsig[0]
    assert (tsig.original_id, tsig.fudge, tsig.time_signed, tsig.error) == (99, 300, 1700000000, 0)
    assert struct.unpack("!H", wire[10:12])[0] == 1
