# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import pytest

from ansible_collections.continuity.mail.plugins.module_utils._preflight.dmarc import (
    DmarcError,
    dkim_key,
    find_policy,
    parse_dmarc,
)


class Txt:
    def __init__(self, records):
        self.records = records
        self.asked = []

    def txt(self, name):
        self.asked.append(name)
        return self.records.get(name, [])


def test_parse_reads_policy_percentage_and_subdomain_policy():
    tags = parse_dmarc("v=DMARC1; p=Quarantine; sp=reject; pct=50; rua=mailto:d@example.test")
    assert (tags["p"], tags["sp"], tags["pct"]) == ("quarantine", "reject", 50)
    assert parse_dmarc("v=DMARC1;p=none")["pct"] == 100


@pytest.mark.parametrize(
    "text, error",
    [
        ("p=reject; v=DMARC1", "must start with v=DMARC1"),
        ("v=DMARC1; rua=mailto:d@example.test", "p must be"),
        ("v=DMARC1; p=reject; sp=drop", "sp must be"),
        ("v=DMARC1; p=reject; pct=150", "pct must be"),
        ("v=DMARC1; p=reject; pct=half", "pct must be"),
        ("v=DMARC1; p=reject; adkim", "has no value"),
    ],
)
def test_parse_rejects_what_receivers_cannot_use(text, error):
    with pytest.raises(DmarcError, match=error):
        parse_dmarc(text)


def test_the_domains_own_record_applies_first():
    lookup = Txt(
        {
            "_dmarc.mail.example.test": ["v=DMARC1; p=none"],
            "_dmarc.example.test": ["v=DMARC1; p=reject"],
        }
    )
    name, _tags, policy = find_policy(lookup, "mail.example.test")
    assert (name, policy) == ("_dmarc.mail.example.test", "none")


def test_a_subdomain_gets_the_parents_sp_then_its_p():
    lookup = Txt({"_dmarc.example.test": ["v=DMARC1; p=reject; sp=quarantine"]})
    assert find_policy(lookup, "eu.mail.example.test")[2] == "quarantine"
    lookup = Txt({"_dmarc.example.test": ["v=DMARC1; p=reject"]})
    assert find_policy(lookup, "mail.example.test")[2] == "reject"
    # The walk stops at two labels: the top-level domain is never asked.
    lookup = Txt({})
    assert find_policy(lookup, "a.b.example.test") == (None, None, None)
    assert "_dmarc.test" not in lookup.asked and "_dmarc.example.test" in lookup.asked


def test_two_records_at_one_name_are_an_error():
    lookup = Txt({"_dmarc.example.test": ["v=DMARC1; p=none", "v=DMARC1; p=reject"]})
    with pytest.raises(DmarcError, match="2 DMARC records"):
        find_policy(lookup, "example.test")


def test_dkim_key_records():
    name = "s1._domainkey.example.test"
    assert dkim_key(Txt({name: ["v=DKIM1; k=rsa; ", "p=MIIB Ijan"]}), "s1", "example.test") is None
    assert "no DKIM key" in dkim_key(Txt({}), "s1", "example.test")
    assert "revoked" in dkim_key(Txt({name: ["v=DKIM1; p="]}), "s1", "example.test")
    assert "not a DKIM1" in dkim_key(Txt({name: ["v=DKIM2; p=abc"]}), "s1", "example.test")
