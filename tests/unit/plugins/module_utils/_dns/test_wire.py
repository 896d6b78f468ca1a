# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fast query parser and the UPDATE renderer agree with dnspython byte for byte."""

import struct
import time

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rrset
import dns.tsig
import dns.update
import pytest

from ansible_collections.continuity.mail.plugins.module_utils._dns.plan import Change, State
from ansible_collections.continuity.mail.plugins.module_utils._dns.transport import DNSError
from ansible_collections.continuity.mail.plugins.module_utils._dns.tsig import TsigKey
from ansible_collections.continuity.mail.plugins.module_utils._dns.update import UpdateRequest
from ansible_collections.continuity.mail.plugins.module_utils._dns.wire import (
    FastQuery,
    name_wire,
    read_name,
    to_text,
    value_of,
)

KEY = dns.tsig.Key("unit-key.", "c2VjcmV0LWZvci11bml0LXRlc3RzLW9ubHktMzJieXRlcyE=")
TSIG = TsigKey(KEY)


def fail(code, detail):
    return DNSError("192.0.2.10", code, detail)


def answer_for(query, build):
    request = dns.message.from_wire(query.render(4242, None))
    response = dns.message.make_response(request)
    response.flags |= dns.flags.AA
    build(response)
    return response.to_wire()


def rrset(name, rtype, *values, ttl=60):
    return dns.rrset.from_text(name, ttl, "IN", rtype, *values)


def test_query_is_plain_non_recursive_and_parses_compressed_answers():
    query = FastQuery(name_wire(dns.name.from_text("Example.Test.")), 15)
    request = dns.message.from_wire(query.render(7, None))
    assert request.id == 7 and not request.flags & dns.flags.RD and request.question[0].rdtype == 15

    def build(response):
        response.answer.append(
            rrset("example.test.", "MX", "10 MX1.Example.Test.", "20 mx2.example.test.")
        )
        response.authority.append(rrset("example.test.", "NS", "ns1.example.test."))
        response.additional.append(rrset("mx1.example.test.", "A", "192.0.2.20"))

    reply = query.accept(answer_for(query, build), None, fail)
    ttl, values = reply.rrset(name_wire(dns.name.from_text("example.test.")), 15)
    assert ttl == 60 and reply.aa and reply.rcode == 0
    expected = [
        dns.rdata.from_text("IN", "MX", v).to_digestable(dns.name.root)
        for v in ("10 mx1.example.test.", "20 mx2.example.test.")
    ]
    assert sorted(v.key for v in values) == sorted(expected)
    assert b"MX1" in min(values).wire  # the server's spelling is kept for prerequisites
    assert reply.authority == []  # only SOA lookups parse the authority section


def test_soa_answers_give_zone_and_serial_from_either_section():
    query = FastQuery(name_wire(dns.name.from_text("www.example.test.")), 6)

    def build(response):
        response.set_rcode(dns.rcode.NXDOMAIN)
        response.authority.append(
            rrset("example.test.", "SOA", "ns1.example.test. h.example.test. 77 1 2 3 4")
        )

    reply = query.accept(answer_for(query, build), None, fail)
    assert reply.rcode == 3
    assert reply.soa("authority") == (name_wire(dns.name.from_text("example.test.")), 77)
    assert reply.soa("answer") == (None, None)


@pytest.mark.parametrize(
    "rtype, text",
    [
        ("MX", "10 mx1.example.test."),
        ("CNAME", "mx2.example.test."),
        ("A", "192.0.2.20"),
        ("AAAA", "2001:db8::21"),
        ("TXT", '"v=spf1 -all" "second"'),
        ("SRV", "0 5 25 smtp.example.test."),
        ("CAA", '0 issue "ca.example.net"'),
        ("MX", "10 we\\032ird.example.test."),
    ],
)
def test_text_matches_dnspython(rtype, text):
    rdata = dns.rdata.from_text("IN", rtype, text)
    assert to_text(rdata.rdtype, value_of(rdata)) == rdata.to_text()


def test_answer_for_another_question_is_rejected():
    query = FastQuery(name_wire(dns.name.from_text("example.test.")), 15)
    other = FastQuery(name_wire(dns.name.from_text("example.org.")), 15)
    error = query.accept(answer_for(other, lambda response: None), None, fail)
    assert (
        isinstance(error, DNSError)
        and error.code == "FORMERR"
        and "another question" in error.detail
    )


def test_compression_loops_are_refused():
    wire = b"\xc0\x00"
    with pytest.raises(ValueError, match="compression loop"):
        read_name(wire, 0)
    truncated = FastQuery(name_wire(dns.name.from_text("example.test.")), 15).accept(
        struct.pack("!HHHHHH", 1, 0x8400, 1, 1, 0, 0) + b"\x07example", None, fail
    )
    assert isinstance(truncated, DNSError) and truncated.code == "FORMERR"


def change(name, rtype, before, after, before_ttl=60, after_ttl=60, expect=None):
    def state(values, ttl):
        return State(ttl, [value_of(dns.rdata.from_text("IN", rtype, v)) for v in values])

    return Change(
        dns.name.from_text("example.test."),
        dns.name.from_text(name),
        dns.rdatatype.from_text(rtype),
        state(before, before_ttl),
        state(after, after_ttl),
        expect,
    )


def test_update_wire_is_what_dnspython_would_send():
    changes = [
        change("mail.example.test.", "CNAME", ["mx1.example.test."], []),
        change("mail.example.test.", "A", [], ["192.0.2.21"], after_ttl=30),
        change(
            "example.test.", "MX", ["10 mx1.example.test."], ["10 mx1.example.test."]
        ),  # unchanged
    ]
    request = UpdateRequest(dns.name.from_text("example.test."), changes)
    parsed = dns.message.from_wire(request.render(99, TSIG), keyring=KEY)
    assert isinstance(parsed, dns.update.UpdateMessage) and parsed.id == 99 and parsed.had_tsig
    prerequisites = [
        (r.name.to_text(), r.rdtype, r.deleting, r.ttl, [x.to_text() for x in r])
        for r in parsed.answer
    ]
    assert prerequisites == [
        ("mail.example.test.", 5, None, 0, ["mx1.example.test."]),
        ("mail.example.test.", 1, dns.rdataclass.NONE, 0, []),
    ]
    updates = [
        (r.name.to_text(), r.rdtype, r.deleting, r.ttl, [x.to_text() for x in r])
        for r in parsed.authority
    ]
    # deletions first, so a CNAME can turn into an A record in one message
    assert updates == [
        ("mail.example.test.", 5, dns.rdataclass.ANY, 0, []),
        ("mail.example.test.", 1, None, 30, ["192.0.2.21"]),
    ]


def test_unchanged_rrsets_with_expect_become_prerequisites_only():
    values = [value_of(dns.rdata.from_text("IN", "TXT", '"held"'))]
    guard = change("_lock.example.test.", "TXT", ['"held"'], ['"held"'], expect=values)
    parsed = dns.message.from_wire(
        UpdateRequest(dns.name.from_text("example.test."), [guard]).render(1, None)
    )
    assert len(parsed.answer) == 1 and len(parsed.authority) == 0


def sign_answer(request_wire, rcode=dns.rcode.NOERROR, key=KEY, tsig_error=0):
    request = dns.message.from_wire(request_wire, keyring=KEY)
    response = dns.message.make_response(request)
    response.set_rcode(rcode)
    if key is None:
        response.tsig = None
        response.keyring = None
    elif key is not KEY or tsig_error:
        response.use_tsig(key, tsig_error=tsig_error)
    return response.to_wire(request_mac=request.mac) if key is not None else response.to_wire()


def test_signed_answers_are_verified():
    request = UpdateRequest(
        dns.name.from_text("example.test."), [change("a.example.test.", "A", [], ["192.0.2.1"])]
    )
    wire = request.render(5, TSIG)
    assert request.accept(sign_answer(wire), TSIG, fail).rcode == 0
    assert (
        request.accept(sign_answer(wire, dns.rcode.NXRRSET), TSIG, fail).rcode == dns.rcode.NXRRSET
    )


@pytest.mark.parametrize(
    "tsig_error, code",
    [
        (dns.rcode.BADKEY, "BADKEY"),
        (dns.rcode.BADSIG, "BADSIG"),
        (dns.rcode.BADTIME, "BADTIME"),
    ],
)
def test_tsig_errors_are_named(tsig_error, code):
    request = UpdateRequest(
        dns.name.from_text("example.test."), [change("a.example.test.", "A", [], ["192.0.2.1"])]
    )
    wire = request.render(5, TSIG)
    answer = sign_answer(
        wire, dns.rcode.NOTAUTH, key=dns.tsig.Key("unit-key.", b"\0" * 32), tsig_error=tsig_error
    )
    error = request.accept(answer, TSIG, fail)
    assert isinstance(error, DNSError) and error.code == code and "unit-key." in error.detail


def test_unsigned_or_forged_success_is_not_trusted():
    request = UpdateRequest(
        dns.name.from_text("example.test."), [change("a.example.test.", "A", [], ["192.0.2.1"])]
    )
    wire = request.render(5, TSIG)
    unsigned = request.accept(sign_answer(wire, key=None), TSIG, fail)
    assert (
        isinstance(unsigned, DNSError)
        and unsigned.code == "BADSIG"
        and "not signed" in unsigned.detail
    )
    forged = request.accept(
        sign_answer(wire, key=dns.tsig.Key("unit-key.", b"\1" * 32)), TSIG, fail
    )
    assert isinstance(forged, DNSError) and forged.code == "BADSIG"


def test_signature_time_is_now():
    request = UpdateRequest(
        dns.name.from_text("example.test."), [change("a.example.test.", "A", [], ["192.0.2.1"])]
    )
    parsed = dns.message.from_wire(request.render(5, TSIG), keyring=KEY)
    assert abs(parsed.tsig[0].time_signed - time.time()) < 5
