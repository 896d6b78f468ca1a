# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""mx_switch planning on the engine, against in-memory servers."""

import dns.name
import dns.rdataset
import pytest

from ansible_collections.continuity.mail.plugins.module_utils._dns import mx
from ansible_collections.continuity.mail.plugins.module_utils._dns.input import InputError
from dns_fake import PRIMARY, FakeServer, make_zone, no_wait, patched_network


@pytest.fixture
def net(monkeypatch):
    network = patched_network(monkeypatch)
    network.primary = network.add(
        PRIMARY, FakeServer([make_zone("example.test."), make_zone("example.org.")])
    )
    network.add("192.0.2.11", FakeServer(list(network.primary.zones.values())))
    return network


def params(**overrides):
    result = no_wait(
        domains=["example.test", "example.org"],
        active="mx2",
        standby=None,
        preference_start=10,
        preference_step=10,
        ttl=None,
        expect_active=None,
        client_names=[],
        client_target=None,
        client_type="auto",
    )
    result.update(overrides)
    return result


def served(network, name, rtype):
    name = dns.name.from_text(name)
    rdataset = network.primary.zones[network.primary._zone_for(name)].get_rdataset(name, rtype)
    return sorted(r.to_text() for r in rdataset) if rdataset else []


def set_mx(network, zone, *values):
    with network.primary.zones[dns.name.from_text(zone)].writer() as txn:
        txn.replace(zone, dns.rdataset.from_text("IN", "MX", 60, *values))


def test_relative_active_switches_each_domain_to_its_own_exchange(net):
    result, failure = mx.run(params(), False, False)
    assert failure is None and result["changed"] is True
    assert result["domains"] == [
        {
            "domain": "example.test.",
            "zone": "example.test.",
            "ttl": 60,
            "changed": True,
            "before": ["10 mx1.example.test.", "20 mx2.example.test."],
            "after": ["10 mx2.example.test.", "20 mx1.example.test."],
        },
        {
            "domain": "example.org.",
            "zone": "example.org.",
            "ttl": 60,
            "changed": True,
            "before": ["10 mx1.example.org.", "20 mx2.example.org."],
            "after": ["10 mx2.example.org.", "20 mx1.example.org."],
        },
    ]
    assert "rrsets" not in result
    assert len(net.primary.updates()) == 2


def test_same_switch_twice_sends_one_update(net):
    mx.run(params(), False, False)
    result, failure = mx.run(params(), False, False)
    assert failure is None and result["changed"] is False
    assert len(net.primary.updates()) == 2


def test_check_mode_sends_nothing(net):
    result, failure = mx.run(params(client_names=["mail"]), True, True)
    assert failure is None and result["changed"] is True
    assert net.all_updates() == []
    assert "mail.example.test. 60 IN CNAME mx2.example.test." in result["diff"]["after"]
    assert served(net, "example.test.", "MX") == ["10 mx1.example.test.", "20 mx2.example.test."]


def test_unrelated_exchanges_are_kept_after_active_and_standby(net):
    set_mx(
        net,
        "example.test.",
        "5 backup.provider.test.",
        "10 mx1.example.test.",
        "20 mx2.example.test.",
    )
    result, _ = mx.run(params(domains=["example.test"]), False, False)
    assert result["domains"][0]["after"] == [
        "10 mx2.example.test.",
        "20 backup.provider.test.",
        "30 mx1.example.test.",
    ]
    result, _ = mx.run(
        params(
            domains=["example.test"],
            active="mx1",
            standby=["mx2"],
            preference_start=0,
            preference_step=5,
        ),
        False,
        False,
    )
    assert result["domains"][0]["after"] == [
        "0 mx1.example.test.",
        "5 mx2.example.test.",
        "10 backup.provider.test.",
    ]


def test_active_not_in_the_set_is_added_first(net):
    result, _ = mx.run(params(domains=["example.test"], active="relay.provider.test"), False, False)
    assert result["domains"][0]["after"] == [
        "10 relay.provider.test.",
        "20 mx1.example.test.",
        "30 mx2.example.test.",
    ]


def test_missing_mx_set_is_created_with_default_ttl(net):
    set_mx(net, "example.org.", "10 mx1.example.org.")
    with net.primary.zones[dns.name.from_text("example.org.")].writer() as txn:
        txn.delete("example.org.", "MX")
    result, _ = mx.run(params(domains=["example.org"]), False, False)
    assert result["domains"][0]["before"] == []
    assert result["domains"][0]["after"] == ["10 mx2.example.org."]
    assert result["domains"][0]["ttl"] == 3600


def test_ttl_is_lowered_when_given(net):
    result, _ = mx.run(params(domains=["example.test"], ttl=30, active="mx1"), False, False)
    assert result["changed"] is True and result["domains"][0]["ttl"] == 30
    assert (
        net.primary.zones[dns.name.from_text("example.test.")]
        .get_rdataset("example.test.", "MX")
        .ttl
        == 30
    )


def test_expect_active_mismatch_changes_nothing_anywhere(net):
    set_mx(net, "example.org.", "10 mx2.example.org.", "20 mx1.example.org.")
    result, failure = mx.run(params(active="mx2", expect_active="mx1"), False, False)
    assert failure.startswith(
        "Nothing was changed: precondition failed in zone example.org.: expect_active "
        "mx1.example.org., but the most preferred exchange is mx2.example.org."
    )
    assert net.all_updates() == []
    assert result["changed"] is False


def test_expect_active_accepts_a_tie_for_most_preferred(net):
    set_mx(net, "example.test.", "10 mx1.example.test.", "10 mx3.example.test.")
    _result, failure = mx.run(params(domains=["example.test"], expect_active="mx3"), False, False)
    assert failure is None


def test_preferences_beyond_65535_are_refused_before_any_update(net):
    set_mx(net, "example.test.", "10 a.example.test.", "20 b.example.test.", "30 c.example.test.")
    _result, failure = mx.run(params(preference_start=65000, preference_step=300), False, False)
    assert "exceed 65535" in failure and "example.test." in failure
    assert net.all_updates() == []


def test_client_names_follow_active_as_cname_in_the_same_update(net):
    result, failure = mx.run(params(client_names=["mail"]), False, False)
    assert failure is None
    assert [c["after"] for c in result["clients"]] == [
        ["CNAME mx2.example.test."],
        ["CNAME mx2.example.org."],
    ]
    assert len(net.primary.updates()) == 2
    update = net.primary.updates()[0]
    assert sorted(r.name.to_text() for r in update.authority if r.deleting is None) == [
        "example.test.",
        "example.test.",
        "mail.example.test.",
    ]


def test_full_client_name_with_relative_target_uses_its_domain(net):
    result, _ = mx.run(params(client_names=["mail.example.org"]), False, False)
    assert result["clients"] == [
        {
            "name": "mail.example.org.",
            "zone": "example.org.",
            "before": ["CNAME mx1.example.org."],
            "after": ["CNAME mx2.example.org."],
            "changed": True,
        }
    ]


def test_client_names_as_address_copies_and_removes_the_cname(net):
    result, failure = mx.run(
        params(domains=["example.test"], client_names=["mail"], client_type="address"), False, False
    )
    assert failure is None
    assert result["clients"][0]["after"] == ["A 192.0.2.21", "AAAA 2001:db8::21"]
    assert served(net, "mail.example.test.", "CNAME") == []
    assert served(net, "mail.example.test.", "A") == ["192.0.2.21"]
    # auto keeps the kind the name has now: address records stay address records
    back, _ = mx.run(
        params(domains=["example.test"], active="mx1", client_names=["mail"]), False, False
    )
    assert back["clients"][0]["after"] == ["A 192.0.2.20"]
    assert served(net, "mail.example.test.", "AAAA") == []


def test_cname_at_the_apex_is_refused(net):
    _result, failure = mx.run(
        params(domains=["example.test"], client_names=["example.test"], client_type="cname"),
        False,
        False,
    )
    assert "zone apex" in failure and net.all_updates() == []


def test_address_target_without_addresses_is_refused(net):
    _result, failure = mx.run(
        params(
            domains=["example.test"],
            client_names=["mail"],
            client_type="address",
            client_target="nowhere",
        ),
        False,
        False,
    )
    assert "has no A or AAAA records" in failure and net.all_updates() == []


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        (dict(domains=[]), "at least one domain"),
        (dict(domains=["bad domain"]), "domains[0]"),
        (dict(active="-mx2"), "active"),
        (dict(preference_start=70000), "preference_start must be from 0 to 65535"),
        (dict(preference_start=-1), "preference_start must be from 0 to 65535"),
        (dict(preference_step=0), "preference_step must be from 1 to 65535"),
        (dict(preference_step=65536), "preference_step must be from 0 to 65535"),
        (dict(standby=["a", "b"], preference_start=65530), "exceeds 65535"),
        (dict(ttl=-5), "ttl must be an integer"),
        (dict(client_names=["mail.elsewhere.test"]), "needs to be a full name"),
        (dict(client_names=["mail"], client_target="mail"), "cannot point at itself"),
        (dict(client_names=["mail", "mail.example.test"], client_target="mx2"), None),
        (dict(key_secret=None), "needs both key_name and key_secret"),
        (dict(wait_servers=["192.0.2.11:0"]), "port must be from 1 to 65535"),
    ],
)
def test_bad_input_fails_before_any_network_io(net, overrides, fragment):
    if fragment is None:
        mx.run(params(**overrides), True, False)
        return
    with pytest.raises(InputError) as error:
        mx.run(params(**overrides), False, False)
    assert fragment in str(error.value)
    assert net.connections == []
