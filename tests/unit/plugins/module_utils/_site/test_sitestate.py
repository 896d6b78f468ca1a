# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""site_state against in-memory servers: one view from every server, the state record."""

import json

import dns.name
import dns.rdataset
import pytest

from ansible_collections.continuity.mail.plugins.module_utils._dns.input import InputError
from ansible_collections.continuity.mail.plugins.module_utils._site import sitestate
from dns_fake import PRIMARY, SECONDARY, FakeServer, connection, make_zone, patched_network

NOW = 1_800_000_000


@pytest.fixture
def net(monkeypatch):
    network = patched_network(monkeypatch)
    network.primary = network.add(
        PRIMARY, FakeServer([make_zone("example.test."), make_zone("example.org.")])
    )
    # The second server holds its own copies: it can serve something else (a lagging copy).
    network.second = network.add(
        SECONDARY, FakeServer([make_zone("example.test."), make_zone("example.org.")])
    )
    return network


def params(**overrides):
    result = connection(
        name="_continuity-state.example.test",
        lock_name="_continuity-lock.example.test",
        servers=[PRIMARY, SECONDARY],
        domains=["example.test", "example.org"],
        client_names=["mail"],
        primary="mx1",
        secondary="mx2",
        write=None,
        ttl=60,
    )
    result.update(overrides)
    return result


def switch(server, zone, exchange, client=None):
    with server.zones[dns.name.from_text(zone)].writer() as txn:
        other = "mx1" if exchange == "mx2" else "mx2"
        txn.replace(
            zone,
            dns.rdataset.from_text(
                "IN", "MX", 60, "10 %s.%s" % (exchange, zone), "20 %s.%s" % (other, zone)
            ),
        )
        txn.replace(
            "mail." + zone,
            dns.rdataset.from_text("IN", "CNAME", 60, (client or exchange) + "." + zone),
        )


def test_normal_site_read_from_every_server(net):
    result, failure = sitestate.run(params(), False, False, clock=lambda: NOW)
    assert failure is None
    assert result["active"] == "primary" and result["consistent"] is True
    assert [s["server"] for s in result["servers"]] == [PRIMARY, SECONDARY]
    assert result["preferred"] == {
        "example.test.": "mx1.example.test.",
        "example.org.": "mx1.example.org.",
    }
    assert result["state"] is None and result["lock"] is None


def test_failed_over_site(net):
    for server in (net.primary, net.second):
        for zone in ("example.test.", "example.org."):
            switch(server, zone, "mx2")
    result, _failure = sitestate.run(params(), False, False)
    assert result["active"] == "secondary" and result["consistent"] is True


def test_an_unreadable_server_is_named_and_never_votes(net):
    net.second.down = "timeout"
    result, failure = sitestate.run(params(), False, False)
    assert failure is None
    assert result["active"] == "primary" and result["consistent"] is False
    assert [u["server"] for u in result["unreadable"]] == [SECONDARY]
    assert "TIMEOUT" in result["unreadable"][0]["error"]


def test_servers_that_disagree_make_a_split_site(net):
    switch(net.primary, "example.test.", "mx2")
    result, _failure = sitestate.run(params(), False, False)
    assert result["active"] == "split" and result["consistent"] is False
    assert any(d.startswith("example.test. MX:") for d in result["disagreements"])
    assert any(d.startswith("mail.example.test.:") for d in result["disagreements"])
    assert result["preferred"]["example.test."] is None


def test_half_switched_domains_make_a_split_site_even_when_servers_agree(net):
    for server in (net.primary, net.second):
        switch(server, "example.test.", "mx2")
    result, _failure = sitestate.run(params(), False, False)
    assert result["active"] == "split" and result["disagreements"] == []


def test_a_client_name_left_behind_makes_a_split_site(net):
    for server in (net.primary, net.second):
        for zone in ("example.test.", "example.org."):
            switch(server, zone, "mx2", client="mx1" if zone == "example.org." else None)
    result, _failure = sitestate.run(params(), False, False)
    assert result["active"] == "split"


def test_write_and_read_back_the_state(net):
    write = dict(
        state="failed_over",
        active="mx2",
        since=NOW - 100,
        run_id="run-a",
        reason="the primary is down by quorum",
        primary="mx1",
    )
    result, failure = sitestate.run(params(write=write, domains=[]), True, True, clock=lambda: NOW)
    assert failure is None and result["changed"] is True and net.primary.updates() == []
    result, failure = sitestate.run(params(write=write, domains=[]), False, True, clock=lambda: NOW)
    assert failure is None and result["changed"] is True and result["previous"] is None
    assert "_continuity-state.example.test. 60 IN TXT" in result["diff"]["after"]
    result, failure = sitestate.run(params(), False, False, clock=lambda: NOW + 5)
    assert result["state"] == {
        "state": "failed_over",
        "active": "mx2",
        "since": NOW - 100,
        "run_id": "run-a",
        "reason": "the primary is down by quorum",
        "primary": "mx1",
        "updated": NOW,
    }
    # The JSON survives a long reason split over several TXT strings.
    long = dict(write, reason="x" * 390)
    sitestate.run(params(write=long, domains=[]), False, False, clock=lambda: NOW)
    result, _failure = sitestate.run(params(domains=[]), False, False)
    assert result["state"]["reason"] == "x" * 390


def test_the_lock_is_read_beside_the_state(net):
    zone = net.primary.zones[dns.name.from_text("example.test.")]
    with zone.writer() as txn:
        txn.replace(
            "_continuity-lock.example.test.",
            dns.rdataset.from_text(
                "IN", "TXT", 30, '"v=1 owner=bob run=run-b host=ctl2 expires=%d"' % (NOW + 60)
            ),
        )
    result, _failure = sitestate.run(params(), False, False, clock=lambda: NOW)
    assert result["lock"]["run_id"] == "run-b" and result["lock"]["seconds_left"] == 60
    assert "held by run run-b" in result["lock_message"]


def test_a_foreign_state_record_is_shown_as_unknown(net):
    zone = net.primary.zones[dns.name.from_text("example.test.")]
    with zone.writer() as txn:
        txn.replace(
            "_continuity-state.example.test.", dns.rdataset.from_text("IN", "TXT", 30, '"hello"')
        )
    result, _failure = sitestate.run(params(domains=[]), False, False)
    assert result["state"] == {"state": "unknown", "record": "hello"}
    assert json.dumps(result)


@pytest.mark.parametrize(
    "overrides",
    [
        {
            "write": {
                "state": "failed_over",
                "active": "",
                "run_id": "r",
                "since": None,
                "reason": "",
                "primary": None,
            }
        },
        {"domains": ["bad name"]},
        {"servers": ["[::1"]},
    ],
)
def test_bad_input_fails_before_any_query(net, overrides):
    with pytest.raises(InputError):
        sitestate.run(params(**overrides), False, False)
    assert net.primary.requests == []
