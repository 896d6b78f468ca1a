# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dns_rrsets on the engine, against in-memory servers (network layer replaced, wire kept)."""

import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.tsig
import pytest

from ansible_collections.continuity.mail.plugins.module_utils._dns import rrsets as rrsets_module
from ansible_collections.continuity.mail.plugins.module_utils._dns.input import InputError
from dns_fake import KEY_NAME, PRIMARY, SECONDARY, FakeServer, make_zone, no_wait, patched_network


@pytest.fixture
def net(monkeypatch):
    network = patched_network(monkeypatch)
    zones = [make_zone("example.test."), make_zone("example.org.")]
    network.primary = network.add(PRIMARY, FakeServer(zones))
    # the secondary shares the Zone objects: always in sync unless a test replaces them
    network.secondary = network.add(SECONDARY, FakeServer(zones))
    return network


def params(rrsets, **overrides):
    result = no_wait(
        rrsets=rrsets,
    )
    result.update(overrides)
    return result


def rr(name, rtype, values=None, **extra):
    item = dict(
        name=name, type=rtype, values=values, zone=None, ttl=None, state="present", expect=None
    )
    item.update(extra)
    return item


MX_SWITCHED = ["10 mx2.example.test", "20 mx1.example.test"]


def served(network, name, rtype):
    name = dns.name.from_text(name)
    zone = network.primary.zones[network.primary._zone_for(name)]
    rdataset = zone.get_rdataset(name, rtype)
    return sorted(r.to_text() for r in rdataset) if rdataset else []


def test_change_is_one_update_per_zone_and_reports_before_after(net):
    result, failure = rrsets_module.run(
        params(
            [
                rr("example.test", "MX", MX_SWITCHED),
                rr("mail.example.test", "CNAME", ["mx2.example.test"], ttl=30),
                rr("example.org", "MX", ["10 mx2.example.org", "20 mx1.example.org"]),
            ]
        ),
        False,
        True,
    )
    assert failure is None
    assert result["changed"] is True
    assert len(net.primary.updates()) == 2
    assert [z["status"] for z in result["zones"]] == ["applied", "applied"]
    first = result["rrsets"][0]
    assert first["zone"] == "example.test."
    assert first["before"] == {
        "ttl": 60,
        "values": ["10 mx1.example.test.", "20 mx2.example.test."],
    }
    assert first["after"] == {"ttl": 60, "values": ["10 mx2.example.test.", "20 mx1.example.test."]}
    assert result["rrsets"][1]["after"] == {"ttl": 30, "values": ["mx2.example.test."]}
    assert served(net, "example.test.", "MX") == ["10 mx2.example.test.", "20 mx1.example.test."]
    assert served(net, "mail.example.test.", "CNAME") == ["mx2.example.test."]
    assert "example.test. 60 IN MX 10 mx1.example.test." in result["diff"]["before"]
    assert "mail.example.test. 30 IN CNAME mx2.example.test." in result["diff"]["after"]


def test_update_carries_prerequisites_as_read(net):
    rrsets_module.run(params([rr("example.test", "MX", MX_SWITCHED)]), False, False)
    update = net.primary.updates()[0]
    prerequisites = {}
    for rrset in update.answer:
        key = (rrset.name.to_text(), rrset.rdclass, rrset.deleting, rrset.ttl)
        prerequisites.setdefault(key, []).extend(r.to_text() for r in rrset)
    assert prerequisites == {
        ("example.test.", 1, None, 0): ["10 mx1.example.test.", "20 mx2.example.test."]
    }
    deletions = [(r.name.to_text(), r.deleting) for r in update.authority if r.deleting is not None]
    assert deletions == [("example.test.", dns.rdataclass.ANY)]


def test_creating_carries_a_does_not_exist_prerequisite(net):
    rrsets_module.run(params([rr("_lock.example.test", "TXT", ["mine"], expect=[])]), False, False)
    prerequisite = net.primary.updates()[0].answer[0]
    assert (
        prerequisite.name.to_text(),
        prerequisite.deleting,
        prerequisite.ttl,
        len(prerequisite),
    ) == ("_lock.example.test.", dns.rdataclass.NONE, 0, 0)


@pytest.mark.parametrize(
    "values",
    [
        ["10 mx1.example.test", "20 mx2.example.test"],
        ["20 MX2.EXAMPLE.TEST.", "10 Mx1.Example.Test."],
    ],
)
def test_same_data_in_another_spelling_is_unchanged_and_sends_nothing(net, values):
    result, failure = rrsets_module.run(params([rr("Example.Test.", "mx", values)]), False, True)
    assert failure is None and result["changed"] is False
    assert net.all_updates() == []
    assert result["diff"] == {"before": "", "after": ""}
    assert result["zones"][0]["status"] == "unchanged"


def test_ttl_counts_only_when_given(net):
    same = ["10 mx1.example.test", "20 mx2.example.test"]
    assert (
        rrsets_module.run(params([rr("example.test", "MX", same, ttl=60)]), False, False)[0][
            "changed"
        ]
        is False
    )
    result, _failure = rrsets_module.run(
        params([rr("example.test", "MX", same, ttl=300)]), False, False
    )
    assert result["changed"] is True
    assert result["rrsets"][0]["after"]["ttl"] == 300
    assert (
        net.primary.zones[dns.name.from_text("example.test.")]
        .get_rdataset("example.test.", "MX")
        .ttl
        == 300
    )


def test_second_identical_run_changes_nothing(net):
    first, _ = rrsets_module.run(params([rr("example.test", "MX", MX_SWITCHED)]), False, False)
    second, failure = rrsets_module.run(
        params([rr("example.test", "MX", MX_SWITCHED)]), False, False
    )
    assert first["changed"] is True and second["changed"] is False and failure is None
    assert len(net.primary.updates()) == 1


def test_check_mode_sends_no_update_but_reports_the_plan(net):
    result, failure = rrsets_module.run(
        params([rr("example.test", "MX", MX_SWITCHED)], wait=True), True, True
    )
    assert failure is None and result["changed"] is True
    assert net.all_updates() == []
    assert result["zones"][0]["status"] == "would_change"
    assert result["rrsets"][0]["after"]["values"] == [
        "10 mx2.example.test.",
        "20 mx1.example.test.",
    ]
    assert "10 mx2.example.test." in result["diff"]["after"]
    assert result["servers"] == []
    assert served(net, "example.test.", "MX") == ["10 mx1.example.test.", "20 mx2.example.test."]


def test_absent_removes_the_rrset_or_only_the_given_values(net):
    result, _ = rrsets_module.run(
        params([rr("example.test", "MX", ["20 mx2.example.test"], state="absent")]), False, False
    )
    assert result["rrsets"][0]["after"]["values"] == ["10 mx1.example.test."]
    result, _ = rrsets_module.run(
        params([rr("mail.example.test", "CNAME", state="absent")]), False, False
    )
    assert result["rrsets"][0]["after"] == {"ttl": None, "values": []}
    assert served(net, "mail.example.test.", "CNAME") == []


def test_new_rrset_gets_default_ttl_and_zone_found_by_soa(net):
    result, _ = rrsets_module.run(
        params([rr("new.deep.example.org", "A", ["192.0.2.99"])]), False, False
    )
    assert result["rrsets"][0]["zone"] == "example.org."
    assert result["rrsets"][0]["after"] == {"ttl": 3600, "values": ["192.0.2.99"]}


def test_alias_names_are_placed_in_their_zone(net):
    result, _ = rrsets_module.run(
        params([rr("mail.example.org", "CNAME", ["mx2.example.org"])]), False, False
    )
    assert result["rrsets"][0]["zone"] == "example.org."


def test_lock_with_expect_empty_is_taken_once(net):
    lock = rr("_lock.example.test", "TXT", ["run=1 by=a"], expect=[])
    first, failure = rrsets_module.run(params([lock]), False, False)
    assert failure is None and first["changed"] is True
    other = rr("_lock.example.test", "TXT", ["run=2 by=b"], expect=[])
    second, failure = rrsets_module.run(params([other]), False, False)
    assert second["changed"] is False
    assert (
        "precondition failed" in failure
        and "expected not to exist" in failure
        and "run=1 by=a" in failure
    )
    assert len(net.primary.updates()) == 1
    release, failure = rrsets_module.run(
        params(
            [
                rr(
                    "_lock.example.test",
                    "TXT",
                    state="absent",
                    expect=first["rrsets"][0]["after"]["values"],
                )
            ]
        ),
        False,
        False,
    )
    assert failure is None and release["changed"] is True
    assert served(net, "_lock.example.test.", "TXT") == []


def test_expect_failure_in_one_zone_changes_no_zone(net):
    result, failure = rrsets_module.run(
        params(
            [
                rr("example.org", "MX", ["10 mx2.example.org"]),
                rr("example.test", "MX", MX_SWITCHED, expect=["10 mx2.example.test"]),
            ]
        ),
        False,
        False,
    )
    assert failure.startswith("Nothing was changed: precondition failed in zone example.test.")
    assert net.all_updates() == []
    assert result["changed"] is False


def test_concurrent_change_between_read_and_update_fails_that_zone_only(net):
    def someone_else(server):
        zone = server.zones[dns.name.from_text("example.test.")]
        with zone.writer() as txn:
            txn.replace("example.test.", 60, dns.rdata.from_text("IN", "MX", "5 mx9.example.test."))

    net.primary.before_update = someone_else
    result, failure = rrsets_module.run(
        params(
            [
                rr("example.test", "MX", MX_SWITCHED),
                rr("example.org", "MX", ["10 mx2.example.org", "20 mx1.example.org"]),
            ]
        ),
        False,
        False,
    )
    assert "Applied in zone(s): example.org." in failure
    assert "NOT applied in zone(s): example.test." in failure
    assert "concurrent change" in failure and "NXRRSET" in failure
    assert result["changed"] is True
    statuses = dict((z["zone"], z["status"]) for z in result["zones"])
    assert statuses == {"example.test.": "failed", "example.org.": "applied"}
    assert served(net, "example.test.", "MX") == ["5 mx9.example.test."]


def test_creating_an_rrset_someone_else_just_created_is_detected(net):
    def someone_else(server):
        zone = server.zones[dns.name.from_text("example.test.")]
        with zone.writer() as txn:
            txn.add("_lock.example.test.", 60, dns.rdata.from_text("IN", "TXT", '"theirs"'))

    net.primary.before_update = someone_else
    _result, failure = rrsets_module.run(
        params([rr("_lock.example.test", "TXT", ["mine"], expect=[])]), False, False
    )
    assert "concurrent change" in failure and "YXRRSET" in failure


def test_missing_zone_fails_before_any_write(net):
    _result, failure = rrsets_module.run(
        params(
            [
                rr("example.test", "MX", MX_SWITCHED),
                rr("example.com", "MX", ["10 mx.example.com"]),
            ]
        ),
        False,
        False,
    )
    assert failure.startswith("Nothing was changed")
    assert "example.com." in failure and "REFUSED" in failure
    assert net.all_updates() == []


def test_given_zone_must_be_an_apex_here(net):
    _result, failure = rrsets_module.run(
        params([rr("mx1.example.test", "A", ["192.0.2.1"], zone="mx1.example.test")]), False, False
    )
    assert "not authoritative for zone mx1.example.test." in failure


def test_not_authoritative_server_is_named(net):
    net.primary.authoritative = False
    _result, failure = rrsets_module.run(
        params([rr("example.test", "MX", MX_SWITCHED)]), False, False
    )
    assert "192.0.2.10: not authoritative for example.test." in failure
    assert net.all_updates() == []


@pytest.mark.parametrize(
    "server_keys, fragment",
    [
        ({}, "BADKEY"),
        (
            {
                dns.name.from_text(KEY_NAME): dns.tsig.Key(
                    KEY_NAME, "b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldC1vdGhlci0xMg=="
                )
            },
            "BADSIG",
        ),
    ],
)
def test_wrong_key_is_refused_before_any_update(net, server_keys, fragment):
    net.primary.keys = server_keys
    result, failure = rrsets_module.run(
        params([rr("example.test", "MX", MX_SWITCHED)]), True, False
    )
    assert failure.startswith("Nothing was changed: TSIG check: 192.0.2.10")
    assert fragment in failure and KEY_NAME in failure
    assert net.all_updates() == [] and result["changed"] is False


def test_refused_update_names_server_and_rcode(net):
    net.primary.refuse_updates = True
    result, failure = rrsets_module.run(
        params([rr("example.test", "MX", MX_SWITCHED)]), False, False
    )
    assert (
        "NOT applied in zone(s): example.test. (192.0.2.10: UPDATE of example.test.: refused"
        in failure
    )
    assert "(REFUSED)" in failure
    assert result["changed"] is False


def test_refused_unsigned_update_says_which_options_sign_it(net):
    net.primary.refuse_updates = True
    _result, failure = rrsets_module.run(
        params([rr("example.test", "MX", MX_SWITCHED)], key_name=None, key_secret=None),
        False,
        False,
    )
    assert "192.0.2.10: UPDATE of example.test.: refused" in failure
    assert "the UPDATE was not signed: give key_name and key_secret" in failure


def test_refused_signed_update_has_no_signing_hint(net):
    net.primary.refuse_updates = True
    _result, failure = rrsets_module.run(
        params([rr("example.test", "MX", MX_SWITCHED)]), False, False
    )
    assert "not signed" not in failure


def test_notauth_update_is_mapped(net, monkeypatch):
    # The zone is read from the primary but the server that gets the UPDATE does not have it.
    monkeypatch.setattr(
        net.primary, "_update", lambda request, response: response.set_rcode(dns.rcode.NOTAUTH)
    )
    _result, failure = rrsets_module.run(
        params([rr("example.test", "MX", MX_SWITCHED)]), False, False
    )
    assert "NOTAUTH" in failure and "not authoritative for the zone" in failure


def test_timeout_and_refused_connection_are_named(net):
    net.primary.down = "timeout"
    _result, failure = rrsets_module.run(
        params([rr("example.test", "MX", MX_SWITCHED)]), False, False
    )
    assert "192.0.2.10: no answer within 5s (TIMEOUT)" in failure
    net.primary.down = "refused"
    _result, failure = rrsets_module.run(
        params([rr("example.test", "MX", MX_SWITCHED)]), False, False
    )
    assert "Connection refused (CONNECTION)" in failure


def test_wait_reports_every_server_in_sync(net):
    result, failure = rrsets_module.run(
        params([rr("example.test", "MX", MX_SWITCHED)], wait=True, wait_servers=[SECONDARY]),
        False,
        False,
    )
    assert failure is None
    servers = dict((s["server"], s) for s in result["servers"])
    assert set(servers) == {PRIMARY, SECONDARY}
    assert servers[PRIMARY]["names"] == ["ns1.example.test."]
    assert all(s["in_sync"] for s in servers.values())
    assert servers[SECONDARY]["serial"] == {"example.test.": 2}


def test_wait_times_out_naming_the_stale_server(net):
    net.secondary.zones = dict(
        (origin, make_zone(origin.to_text())) for origin in net.secondary.zones
    )
    result, failure = rrsets_module.run(
        params([rr("example.test", "MX", MX_SWITCHED)], wait=True, wait_timeout=0.3), False, False
    )
    assert failure.startswith(
        "Timeout (1 of 2 servers in sync): 192.0.2.11 (ns2.example.test.) serves "
        "example.test. serial 1 (want >= 2)"
    )
    assert "10 mx1.example.test." in failure
    stale = next(s for s in result["servers"] if not s["in_sync"])
    assert stale["lagging"][0]["serving"]["example.test. MX"] == [
        "10 mx1.example.test.",
        "20 mx2.example.test.",
    ]
    assert result["changed"] is True


def test_wait_names_a_server_that_is_down(net):
    net.secondary.down = "refused"
    _result, failure = rrsets_module.run(
        params([rr("example.test", "MX", MX_SWITCHED)], wait=True, wait_timeout=0.2), False, False
    )
    assert (
        "Timeout (1 of 2 servers in sync): 192.0.2.11 (ns2.example.test.): cannot connect"
        in failure
    )


def test_bad_rrsets_input_is_refused_before_network(net):
    for rrsets, fragment in [
        ([], "at least one"),
        ([rr("example.test", "MX", None)], "state=present needs at least one value"),
        (
            [
                rr("example.test", "MX", ["10 a.example.test"]),
                rr("EXAMPLE.test.", "mx", ["10 b.example.test"]),
            ],
            "listed twice",
        ),
        ([rr("mail.example.org", "A", ["192.0.2.1"], zone="example.test")], "is not inside zone"),
        (["not a dict"], "must be a dictionary"),
    ]:
        with pytest.raises(InputError, match=fragment):
            rrsets_module.run(params(rrsets), False, False)
    assert net.connections == []


def _external_ns(network):
    zone = network.primary.zones[dns.name.from_text("example.test.")]
    with zone.writer() as txn:
        txn.replace("example.test.", dns.rdataset.from_text("IN", "NS", 60, "ns.provider.invalid."))


def test_ns_names_outside_the_primary_resolve_through_the_system(net, monkeypatch):
    import dns.resolver

    _external_ns(net)
    asked = []

    class Address:
        address = SECONDARY

    def resolve(name, rdtype, lifetime, **kwargs):
        asked.append((name.to_text(), rdtype))
        return [Address()]

    monkeypatch.setattr(dns.resolver, "resolve", resolve)
    result, failure = rrsets_module.run(
        params([rr("example.test", "MX", MX_SWITCHED)], wait=True), False, False
    )
    assert failure is None
    assert asked == [("ns.provider.invalid.", "A")]
    assert [(s["server"], s["names"]) for s in result["servers"]] == [
        (SECONDARY, ["ns.provider.invalid."])
    ]


def test_ns_names_that_resolve_nowhere_are_skipped_with_a_warning(net, monkeypatch):
    import dns.resolver

    _external_ns(net)

    def resolve(name, rdtype, lifetime, **kwargs):
        raise dns.resolver.NXDOMAIN()

    monkeypatch.setattr(dns.resolver, "resolve", resolve)
    result, failure = rrsets_module.run(
        params([rr("example.test", "MX", MX_SWITCHED)], wait=True, wait_servers=[PRIMARY]),
        False,
        False,
    )
    assert failure is None
    assert [s["server"] for s in result["servers"]] == [PRIMARY]
    assert "NS ns.provider.invalid. does not resolve" in result["warnings"][0]
