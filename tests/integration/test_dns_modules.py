# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dns_rrsets and mx_switch against real servers with TSIG: BIND (ns1 + ns2) and Knot (ns3).

Every test restores the lab state (MX 10 mx1, 20 mx2; mail CNAME mx1; no test names) in
its teardown, because other tests use the lab at the same time.
"""

import time

import dns.rdatatype
import pytest

from ansible_collections.continuity.mail.plugins.module_utils._dns.engine import Engine
from ansible_collections.continuity.mail.plugins.module_utils._dns.options import (
    settings_from_params,
)
from ansible_collections.continuity.mail.plugins.module_utils._dns.rrsets import parse_rrsets, plan
from dnslab import backends, run_module, start_named, stop_named
from labtools import wait_until

LOCK = "_continuity-itest-lock"
MARKER = "_continuity-itest-marker"


@pytest.fixture(params=["bind", "knot"])
def backend(request, lab):
    chosen = backends()[request.param]
    yield chosen
    chosen.restore(extra_names=[LOCK, MARKER])
    for server in chosen.servers:
        wait_until(
            lambda server=server: chosen.is_restored(server),
            timeout=60,
            interval=0.5,
            what="%s to serve the restored lab zones" % server,
        )


def switched(zone):
    return ["10 mx2.%s." % zone, "20 mx1.%s." % zone]


def original(zone):
    return ["10 mx1.%s." % zone, "20 mx2.%s." % zone]


def switch(backend, active, **extra):
    args = backend.connection(
        domains=backend.zones,
        active=active,
        client_names=["mail"],
        wait=True,
        wait_servers=backend.servers,
        wait_timeout=30,
    )
    args.update(extra)
    return args


def test_switch_and_back_with_wait_on_every_server(backend):
    result = run_module("mx_switch", switch(backend, "mx2"))
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    assert [d["after"] for d in result["domains"]] == [switched(z) for z in backend.zones]
    assert [d["before"] for d in result["domains"]] == [original(z) for z in backend.zones]
    assert sorted(s["server"] for s in result["servers"]) == sorted(backend.servers)
    assert all(s["in_sync"] for s in result["servers"])
    for server in backend.servers:
        for zone in backend.zones:
            assert backend.query(server, zone + ".", "MX") == switched(zone)
            assert backend.query(server, "mail.%s." % zone, "CNAME") == ["mx2.%s." % zone]

    back = run_module("mx_switch", switch(backend, "mx1", expect_active="mx2"))
    assert not back.get("failed"), back.get("msg")
    assert back["changed"] is True and all(s["in_sync"] for s in back["servers"])
    for server in backend.servers:
        assert backend.is_restored(server)


def test_second_identical_run_sends_no_update(backend):
    first = run_module("mx_switch", switch(backend, "mx2"))
    assert first["changed"] is True
    serials = dict((zone, backend.serial(backend.primary, zone)) for zone in backend.zones)
    second = run_module("mx_switch", switch(backend, "mx2"))
    assert not second.get("failed"), second.get("msg")
    assert second["changed"] is False
    assert [z["status"] for z in second["zones"]] == ["unchanged"] * len(backend.zones)
    # the serial only moves with an UPDATE: none was sent
    assert serials == dict((zone, backend.serial(backend.primary, zone)) for zone in backend.zones)
    assert all(s["in_sync"] for s in second["servers"])


def test_check_mode_reads_only(backend):
    serials = dict((zone, backend.serial(backend.primary, zone)) for zone in backend.zones)
    result = run_module("mx_switch", switch(backend, "mx2"), check=True, diff=True)
    assert result["changed"] is True
    assert [d["after"] for d in result["domains"]] == [switched(z) for z in backend.zones]
    assert "10 mx2.%s." % backend.zones[0] in result["diff"]["after"]
    assert result["servers"] == []
    assert serials == dict((zone, backend.serial(backend.primary, zone)) for zone in backend.zones)
    assert backend.is_restored(backend.primary)


def test_client_names_as_address_records(backend):
    result = run_module("mx_switch", switch(backend, "mx2", client_type="address"))
    assert not result.get("failed"), result.get("msg")
    zone = backend.zones[0]
    mx2 = backend.query(backend.primary, "mx2.%s." % zone, "A")
    assert result["clients"][0]["after"] == ["A %s" % a for a in mx2]
    assert result["clients"][0]["before"] == ["CNAME mx1.%s." % zone]
    for server in backend.servers:
        assert backend.query(server, "mail.%s." % zone, "A") == mx2
        assert backend.query(server, "mail.%s." % zone, "CNAME") == []


def test_concurrent_edit_between_plan_and_apply_is_detected(backend):
    first, second = backend.zones[0], backend.zones[1]
    settings = settings_from_params(
        backend.connection(
            port=53,
            protocol="tcp",
            key_algorithm="hmac-sha256",
            timeout=10.0,
            wait=False,
            wait_servers=[],
            wait_timeout=10.0,
        )
    )
    wanted = parse_rrsets(
        [
            dict(name=first, type="MX", values=switched(first)),
            dict(name="%s.%s" % (MARKER, first), type="TXT", values=["ours"]),
            dict(name=second, type="MX", values=switched(second)),
        ]
    )
    engine = Engine(settings)
    try:
        changes, problems = plan(engine, wanted)
        assert problems == []
        # somebody else writes the marker in the first zone after we read it
        backend.write(
            first, lambda update: update.replace("%s.%s." % (MARKER, first), 60, "TXT", '"theirs"')
        )
        result, failure = engine.finish(changes, False, False)
    finally:
        engine.close()
    assert "concurrent change" in failure, failure
    assert "NOT applied in zone(s): %s." % first in failure
    assert "Applied in zone(s): %s." % second in failure
    statuses = dict((z["zone"], z["status"]) for z in result["zones"])
    assert statuses == {first + ".": "failed", second + ".": "applied"}
    # the whole first zone stayed as the other writer left it: its MX switch was not applied
    assert backend.query(backend.primary, first + ".", "MX") == original(first)
    assert backend.query(backend.primary, "%s.%s." % (MARKER, first), "TXT") == ['"theirs"']
    assert backend.query(backend.primary, second + ".", "MX") == switched(second)


def test_lock_is_taken_once_refused_twice_and_released(backend):
    name = "%s.%s" % (LOCK, backend.zones[0])
    take = dict(
        backend.connection(),
        rrsets=[dict(name=name, type="TXT", ttl=60, values=["run=1 by=a"], expect=[])],
    )
    first = run_module("dns_rrsets", take)
    assert not first.get("failed"), first.get("msg")
    assert first["changed"] is True
    assert backend.query(backend.primary, name + ".", "TXT") == ['"run=1 by=a"']

    other = dict(
        backend.connection(), rrsets=[dict(name=name, type="TXT", values=["run=2 by=b"], expect=[])]
    )
    second = run_module("dns_rrsets", other)
    assert second["failed"] is True
    assert "precondition failed" in second["msg"] and "expected not to exist" in second["msg"]
    assert "run=1 by=a" in second["msg"]
    assert backend.query(backend.primary, name + ".", "TXT") == ['"run=1 by=a"']

    release = dict(
        backend.connection(),
        rrsets=[
            dict(
                name=name, type="TXT", state="absent", expect=first["rrsets"][0]["after"]["values"]
            )
        ],
    )
    released = run_module("dns_rrsets", release)
    assert not released.get("failed"), released.get("msg")
    assert released["changed"] is True
    assert backend.query(backend.primary, name + ".", "TXT") == []


def test_lock_race_between_read_and_create_is_detected(backend):
    zone = backend.zones[0]
    name = "%s.%s" % (LOCK, zone)
    settings = settings_from_params(
        backend.connection(
            port=53,
            protocol="tcp",
            key_algorithm="hmac-sha256",
            timeout=10.0,
            wait=False,
            wait_servers=[],
            wait_timeout=10.0,
        )
    )
    engine = Engine(settings)
    try:
        changes, problems = plan(
            engine, parse_rrsets([dict(name=name, type="TXT", values=["mine"], expect=[])])
        )
        assert problems == []
        backend.write(
            zone, lambda update: update.add(name + ".", 60, "TXT", '"other control node"')
        )
        _result, failure = engine.finish(changes, False, False)
    finally:
        engine.close()
    assert "concurrent change" in failure and "YXRRSET" in failure
    assert backend.query(backend.primary, name + ".", "TXT") == ['"other control node"']


@pytest.mark.parametrize(
    "key_name, secret, code",
    [
        (None, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "BADSIG"),
        ("no-such-key", None, "BADKEY"),
    ],
)
def test_wrong_key_is_refused_with_a_clear_message(backend, key_name, secret, code):
    serials = dict((zone, backend.serial(backend.primary, zone)) for zone in backend.zones)
    args = switch(backend, "mx2")
    args["key_name"] = key_name or args["key_name"]
    args["key_secret"] = secret or args["key_secret"]
    result = run_module("mx_switch", args)
    assert result["failed"] is True
    assert result["msg"].startswith("Nothing was changed: TSIG check: %s" % backend.primary)
    assert code in result["msg"]
    assert serials == dict((zone, backend.serial(backend.primary, zone)) for zone in backend.zones)


def test_wait_names_a_server_that_never_answers(backend):
    silent = "%s:5353" % backend.primary
    # long enough for BIND's NOTIFY to reach ns2 even right after another test's changes
    # (notify-delay: 5 s by default), so only the silent server lags
    result = run_module(
        "mx_switch",
        switch(backend, "mx2", wait_servers=backend.servers + [silent], wait_timeout=15),
    )
    assert result["failed"] is True
    count = len(backend.servers)
    assert result["msg"].startswith(
        "Timeout (%d of %d servers in sync): %s" % (count, count + 1, silent)
    )
    assert "Connection refused" in result["msg"]
    # the change itself was applied; only the wait failed
    assert result["changed"] is True
    lagging = [s for s in result["servers"] if not s["in_sync"]]
    assert [s["server"] for s in lagging] == [silent]


def test_stale_bind_secondary_makes_wait_time_out_naming_it(lab):
    bind = backends()["bind"]
    secondary_ip = lab.ip(bind.secondary)
    stop_named(lab, bind.secondary)
    try:
        started = time.monotonic()
        result = run_module("mx_switch", switch(bind, "mx2", wait_timeout=6))
        elapsed = time.monotonic() - started
    finally:
        start_named(lab, bind.secondary)
        bind.restore(extra_names=[LOCK, MARKER])
    assert result["failed"] is True
    assert result["msg"].startswith(
        "Timeout (1 of 2 servers in sync): %s (%s)"
        % (secondary_ip, ", ".join("ns2.%s." % z for z in sorted(bind.zones)))
    )
    stale = [s for s in result["servers"] if not s["in_sync"]]
    assert [s["server"] for s in stale] == [secondary_ip]
    assert elapsed >= 6
    for server in bind.servers:
        wait_until(
            lambda server=server: bind.is_restored(server),
            timeout=60,
            interval=0.5,
            what="%s to serve the restored lab zones" % server,
        )


def test_records_are_compared_semantically(backend):
    zone = backend.zones[0]
    spelled = ["20 MX2.%s" % zone.upper(), "10 mx1.%s." % zone]
    result = run_module(
        "dns_rrsets",
        dict(
            backend.connection(),
            rrsets=[dict(name=zone.upper() + ".", type="mx", values=spelled)],
        ),
    )
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    assert dns.rdatatype.from_text(result["rrsets"][0]["type"]) == dns.rdatatype.MX


def test_udp_transport_switches_and_waits_too(backend):
    result = run_module("mx_switch", switch(backend, "mx2", protocol="udp"))
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True and all(s["in_sync"] for s in result["servers"])
    back = run_module("mx_switch", switch(backend, "mx1", protocol="udp"))
    assert not back.get("failed"), back.get("msg")
    for server in backend.servers:
        assert backend.is_restored(server)
