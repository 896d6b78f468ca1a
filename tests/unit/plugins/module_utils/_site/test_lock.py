# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""site_lock on the DNS engine, against an in-memory authoritative server."""

import dns.name
import dns.rdataset
import pytest

from ansible_collections.continuity.mail.plugins.module_utils._dns.input import InputError
from ansible_collections.continuity.mail.plugins.module_utils._site import lock
from dns_fake import PRIMARY, FakeServer, connection, make_zone, patched_network

NAME = "_continuity-lock.example.test."
NOW = 1_800_000_000


@pytest.fixture
def net(monkeypatch):
    network = patched_network(monkeypatch)
    network.primary = network.add(PRIMARY, FakeServer([make_zone("example.test.")]))
    return network


def params(**overrides):
    result = connection(
        name=NAME,
        action="take",
        run_id="run-a",
        owner="alice",
        host="ctl1",
        lease=120,
        ttl=30,
    )
    result.update(overrides)
    return result


def served(network):
    zone = network.primary.zones[dns.name.from_text("example.test.")]
    rdataset = zone.get_rdataset(NAME, "TXT")
    return sorted(b"".join(r.strings).decode() for r in rdataset) if rdataset else []


def plant(network, text):
    zone = network.primary.zones[dns.name.from_text("example.test.")]
    with zone.writer() as txn:
        txn.replace(NAME, dns.rdataset.from_text("IN", "TXT", 30, '"%s"' % text))


def at(seconds):
    return lambda: NOW + seconds


def test_take_a_free_lock_writes_our_lease(net):
    result, failure = lock.run(params(), False, True, clock=at(0))
    assert failure is None and result["changed"] is True
    assert served(net) == ["v=1 owner=alice run=run-a host=ctl1 expires=%d" % (NOW + 120)]
    assert result["lock"]["run_id"] == "run-a" and result["held"] is True
    assert result["previous"] is None
    assert "_continuity-lock.example.test. 30 IN TXT" in result["diff"]["after"]


def test_check_mode_sends_no_update(net):
    result, failure = lock.run(params(), True, False, clock=at(0))
    assert failure is None and result["changed"] is True
    assert net.primary.updates() == [] and served(net) == []


def test_a_fresh_lock_of_another_run_stops_the_take_and_is_untouched(net):
    planted = "v=1 owner=bob run=run-b host=ctl2 expires=%d" % (NOW + 90)
    plant(net, planted)
    result, failure = lock.run(params(), False, False, clock=at(0))
    assert failure and "run run-b (owner bob on host ctl2)" in failure and "in 90 s" in failure
    assert result["lock"]["run_id"] == "run-b" and result["changed"] is False
    assert net.primary.updates() == [] and served(net) == [planted]


def test_an_expired_lock_is_taken_over_with_a_prerequisite_on_it(net):
    plant(net, "v=1 owner=bob run=run-b host=ctl2 expires=%d" % (NOW - 5))
    result, failure = lock.run(params(), False, False, clock=at(0))
    assert failure is None and result["previous"]["run_id"] == "run-b"
    assert served(net) == ["v=1 owner=alice run=run-a host=ctl1 expires=%d" % (NOW + 120)]
    (update,) = net.primary.updates()
    assert [b"".join(r.strings).decode() for rrset in update.answer for r in rrset] == [
        "v=1 owner=bob run=run-b host=ctl2 expires=%d" % (NOW - 5)
    ]


def test_two_takers_at_once_exactly_one_wins_and_the_other_names_it(net):
    """Both read "absent"; another control node's UPDATE lands between our read and ours."""

    def other_takes(server):
        plant(net, "v=1 owner=bob run=run-b host=ctl2 expires=%d" % (NOW + 120))

    net.primary.before_update = other_takes
    result, failure = lock.run(params(), False, False, clock=at(0))
    assert failure and "run run-b" in failure and "changed while we took it" in failure
    assert result["changed"] is False and result["lock"]["run_id"] == "run-b"
    assert served(net) == ["v=1 owner=bob run=run-b host=ctl2 expires=%d" % (NOW + 120)]


def test_renew_moves_the_expiry_of_our_own_lease(net):
    lock.run(params(), False, False, clock=at(0))
    result, failure = lock.run(params(action="renew"), False, False, clock=at(100))
    assert failure is None and result["lock"]["expires"] == NOW + 220
    assert served(net) == ["v=1 owner=alice run=run-a host=ctl1 expires=%d" % (NOW + 220)]


def test_renew_fails_once_another_run_took_over(net):
    lock.run(params(), False, False, clock=at(0))
    lock.run(params(run_id="run-b"), False, False, clock=at(121))
    _result, failure = lock.run(params(action="renew"), False, False, clock=at(122))
    assert failure and "no longer ours" in failure and "run-b" in failure


def test_release_deletes_only_our_own_lease(net):
    planted = "v=1 owner=bob run=run-b host=ctl2 expires=%d" % (NOW + 90)
    plant(net, planted)
    result, failure = lock.run(params(action="release"), False, False, clock=at(0))
    assert failure is None and result["changed"] is False and served(net) == [planted]
    result, failure = lock.run(params(action="release", run_id="run-b"), False, False, clock=at(0))
    assert failure is None and result["changed"] is True and served(net) == []
    result, failure = lock.run(params(action="release", run_id="run-b"), False, False, clock=at(0))
    assert failure is None and result["changed"] is False


def test_break_needs_the_holders_run_id(net):
    planted = "v=1 owner=bob run=run-b host=ctl2 expires=%d" % (NOW + 90)
    plant(net, planted)
    result, failure = lock.run(params(action="break", run_id="run-x"), False, False, clock=at(0))
    assert failure and "run-b" in failure and served(net) == [planted]
    result, failure = lock.run(params(action="break", run_id="run-b"), False, False, clock=at(0))
    assert failure is None and result["changed"] is True and served(net) == []


def test_read_reports_without_writing(net):
    plant(net, "v=1 owner=bob run=run-b host=ctl2 expires=%d" % (NOW + 90))
    result, failure = lock.run(params(action="read", run_id=None), False, False, clock=at(0))
    assert failure is None and result["held"] is True and result["lock"]["seconds_left"] == 90
    assert net.primary.updates() == []


@pytest.mark.parametrize(
    "overrides",
    [{"run_id": None}, {"run_id": "two words"}, {"lease": 0}, {"name": "bad name"}],
)
def test_bad_input_fails_before_any_query(net, overrides):
    with pytest.raises(InputError):
        lock.run(params(**overrides), False, False, clock=at(0))
    assert net.primary.requests == []
