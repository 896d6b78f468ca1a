# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""provision: the secondary missing from a domain's MX set is added back, once."""

from flows_lab import module, playbook


def _mx(lab, server, domain):
    answer = lab.exec("sender", "dig +short MX %s @%s" % (domain, lab.ip(server))).stdout
    return sorted(line.strip().lower() for line in answer.splitlines() if line.strip())


def _dns(lab, rrsets):
    result = module(
        "localhost",
        "continuity.mail.dns_rrsets",
        {
            "server": lab.dns["server"],
            "key_name": lab.dns["key_name"],
            "key_secret": lab.dns["key_secret"],
            "rrsets": rrsets,
            "wait": True,
            "wait_servers": lab.dns["servers"],
        },
    )
    assert not result.get("failed"), result
    return result


def test_provision_adds_the_missing_secondary_and_is_idempotent(lab):
    domain = "example.org"
    normal = ["10 mx1.example.org.", "20 mx2.example.org."]
    assert _mx(lab, "ns1", domain) == normal
    _dns(lab, [{"name": domain, "type": "MX", "values": ["10 mx1.example.org."], "expect": normal}])
    try:
        assert _mx(lab, "ns2", domain) == ["10 mx1.example.org."]
        first = playbook("playbooks/provision.yml")
        assert first.rc == 0, first.describe()
        assert first.changed("localhost") >= 1
        for server in ("ns1", "ns2"):
            assert _mx(lab, server, domain) == normal, server
            # the other domain was complete and is untouched
            assert _mx(lab, server, "example.test") == [
                "10 mx1.example.test.",
                "20 mx2.example.test.",
            ]
        second = playbook("playbooks/provision.yml")
        assert second.rc == 0, second.describe()
        assert second.changed("localhost") == 0
        assert second.changed("mx2") == 0
    finally:
        if _mx(lab, "ns1", domain) != normal:
            _dns(lab, [{"name": domain, "type": "MX", "values": normal}])
