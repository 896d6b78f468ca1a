# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dns_rrsets and mx_switch as Ansible runs them: argument spec, check mode, diff, failures."""

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.continuity.mail.plugins.modules import dns_rrsets, mx_switch
from dns_fake import KEY_NAME, KEY_SECRET, FakeServer, make_zone, patched_network

PRIMARY = "192.0.2.10"


@pytest.fixture
def net(monkeypatch):
    network = patched_network(monkeypatch)
    network.primary = network.add(
        PRIMARY, FakeServer([make_zone("example.test."), make_zone("example.org.")])
    )
    return network


def run(capsys, module, args):
    with patch_module_args(args), pytest.raises(SystemExit) as info:
        module.main()
    return info.value.code, json.loads(capsys.readouterr().out)


def connection(**extra):
    args = dict(server=PRIMARY, key_name=KEY_NAME, key_secret=KEY_SECRET)
    args.update(extra)
    return args


def test_key_secret_is_no_log():
    from ansible_collections.continuity.mail.plugins.module_utils._dns.options import (
        connection_spec,
    )

    assert connection_spec()["key_secret"]["no_log"] is True


def test_dns_rrsets_applies_and_reports(capsys, net):
    code, out = run(
        capsys,
        dns_rrsets,
        connection(
            rrsets=[
                {
                    "name": "example.test",
                    "type": "MX",
                    "values": ["10 mx2.example.test", "20 mx1.example.test"],
                }
            ],
            _ansible_diff=True,
        ),
    )
    assert code == 0 and out["changed"] is True
    assert out["rrsets"][0]["after"]["values"] == ["10 mx2.example.test.", "20 mx1.example.test."]
    assert out["zones"] == [{"zone": "example.test.", "status": "applied", "error": None}]
    assert out["diff"]["after"].startswith("example.test. 60 IN MX 10 mx2.example.test.")
    assert set(out["timings"]) == {"read", "apply"}
    assert KEY_SECRET not in json.dumps(out)


def test_dns_rrsets_check_mode_sends_no_update(capsys, net):
    code, out = run(
        capsys,
        dns_rrsets,
        connection(
            rrsets=[{"name": "example.test", "type": "MX", "values": ["10 mx2.example.test"]}],
            _ansible_check_mode=True,
        ),
    )
    assert code == 0 and out["changed"] is True
    assert net.all_updates() == []
    assert out["zones"][0]["status"] == "would_change"


def test_mx_switch_fails_with_the_precondition_message(capsys, net):
    code, out = run(
        capsys, mx_switch, connection(domains=["example.test"], active="mx2", expect_active="mx2")
    )
    assert code == 1 and out["failed"] is True and out["changed"] is False
    assert "precondition failed in zone example.test." in out["msg"]
    assert out["domains"][0]["before"] == ["10 mx1.example.test.", "20 mx2.example.test."]
    assert net.all_updates() == []


def test_mx_switch_reports_domains_servers_and_diff(capsys, net):
    net.add("192.0.2.11", FakeServer(list(net.primary.zones.values())))
    code, out = run(
        capsys,
        mx_switch,
        connection(
            domains=["example.test", "example.org"],
            active="mx2",
            client_names=["mail"],
            wait=True,
            _ansible_diff=True,
        ),
    )
    assert code == 0 and out["changed"] is True
    assert [d["after"][0] for d in out["domains"]] == [
        "10 mx2.example.test.",
        "10 mx2.example.org.",
    ]
    assert [c["after"] for c in out["clients"]] == [
        ["CNAME mx2.example.test."],
        ["CNAME mx2.example.org."],
    ]
    assert sorted(s["server"] for s in out["servers"]) == ["192.0.2.10", "192.0.2.11"]
    assert all(s["in_sync"] for s in out["servers"])
    assert "mail.example.org. 60 IN CNAME mx2.example.org." in out["diff"]["after"]


@pytest.mark.parametrize(
    "module, args, fragment",
    [
        (
            dns_rrsets,
            connection(rrsets=[{"name": "example.test", "type": "MX"}]),
            "needs at least one value",
        ),
        (
            dns_rrsets,
            connection(rrsets=[{"name": "exa mple.test", "type": "MX", "values": ["10 a.test"]}]),
            "invalid name",
        ),
        (
            dns_rrsets,
            connection(rrsets=[{"name": "example.test", "type": "NOPE", "values": ["x"]}]),
            "unknown record type",
        ),
        (
            dns_rrsets,
            connection(rrsets=[{"name": "example.test", "type": "MX", "values": ["99999 a.test"]}]),
            "not an unsigned 16-bit integer",
        ),
        (
            dns_rrsets,
            connection(
                rrsets=[
                    {"name": "example.test", "type": "A", "values": ["1.2.3.4"], "state": "gone"}
                ]
            ),
            "value of state must be one of",
        ),
        (
            dns_rrsets,
            dict(
                server=PRIMARY,
                key_name=KEY_NAME,
                rrsets=[{"name": "a.test", "type": "A", "values": ["1.2.3.4"]}],
            ),
            "parameters are required together: key_name, key_secret",
        ),
        (
            dns_rrsets,
            connection(
                key_algorithm="hmac-sha3",
                rrsets=[{"name": "a.test", "type": "A", "values": ["1.2.3.4"]}],
            ),
            "value of key_algorithm must be one of",
        ),
        (
            dns_rrsets,
            connection(
                protocol="quic", rrsets=[{"name": "a.test", "type": "A", "values": ["1.2.3.4"]}]
            ),
            "value of protocol must be one of",
        ),
        (
            mx_switch,
            connection(domains=["example.test"], active="mx2", preference_start=65536),
            "preference_start must be from 0 to 65535",
        ),
        (
            mx_switch,
            connection(domains=["example.test"], active="mx2", preference_step=-10),
            "preference_step must be from 0 to 65535",
        ),
        (mx_switch, connection(domains=["example.test"]), "missing required arguments: active"),
        (
            mx_switch,
            connection(domains=["example.test"], active="mx2", key_secret="%%%"),
            "not valid base64",
        ),
        (
            mx_switch,
            connection(domains=["example.test"], active="mx2", client_type="alias"),
            "value of client_type must be one of",
        ),
    ],
)
def test_bad_input_fails_before_any_network_io(capsys, net, module, args, fragment):
    code, out = run(capsys, module, args)
    assert code == 1 and out["failed"] is True
    assert fragment in out["msg"]
    assert net.connections == []
