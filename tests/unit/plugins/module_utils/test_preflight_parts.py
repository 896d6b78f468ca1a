import hashlib

import pytest

from health_certs import der_cert, make_ca, make_leaf
from ansible_collections.continuity.mail.plugins.module_utils._preflight_mtasts import (
    mx_matches, parse_policy, policy_url,
)
from ansible_collections.continuity.mail.plugins.module_utils._preflight_spf import (
    Evaluator, SpfError, spf_record,
)
from ansible_collections.continuity.mail.plugins.module_utils._preflight_tlsa import match
from ansible_collections.continuity.mail.plugins.module_utils._probe_cert import parse_certificate


class FakeLookup:
    """DNS data as dicts: txt[name] = [...], a[name] = [...], mx[name] = [(pref, host)]."""

    def __init__(self, txt=None, a=None, mx=None):
        self._txt, self._a, self._mx = txt or {}, a or {}, mx or {}
        self.asked = []

    def txt(self, name):
        self.asked.append(("TXT", name))
        return self._txt.get(name, [])

    def addresses(self, name):
        self.asked.append(("A", name))
        return self._a.get(name, []), 60, None

    def mx(self, name):
        self.asked.append(("MX", name))
        return self._mx.get(name, []), 60


POLICY = """version: STSv1
mode: enforce
mx: mx1.example.test
mx: *.backup.example.test
max_age: 604800
"""


def test_policy_parse_and_match():
    policy, problems = parse_policy(POLICY)
    assert problems == []
    assert policy == {"version": "STSv1", "mode": "enforce", "max_age": 604800,
                      "mx": ["mx1.example.test", "*.backup.example.test"]}
    assert mx_matches("MX1.example.test.", "mx1.example.test")
    assert mx_matches("mx2.backup.example.test", "*.backup.example.test")
    assert not mx_matches("a.mx2.backup.example.test", "*.backup.example.test")
    assert not mx_matches("mx2.example.test", "mx1.example.test")
    assert policy_url("example.test") == "https://mta-sts.example.test/.well-known/mta-sts.txt"


@pytest.mark.parametrize("text,problem", [
    ("mode: enforce\nmx: a\nmax_age: 1\n", "version must be STSv1"),
    ("version: STSv1\nmode: strict\nmx: a\nmax_age: 1\n", "mode must be one of"),
    ("version: STSv1\nmode: enforce\nmax_age: 1\n", "no mx: lines"),
    ("version: STSv1\nmode: enforce\nmx: a\nmax_age: soon\n", "max_age must be"),
    ("version: STSv1\ngarbage\n", "is not 'key: value'"),
])
def test_policy_problems(text, problem):
    assert any(problem in p for p in parse_policy(text)[1])


SPF_DNS = FakeLookup(
    txt={"example.test": ["v=spf1 ip4:172.30.53.20 mx:relay.example.test include:_spf.example.net -all",
                          "other text"],
         "_spf.example.net": ["v=spf1 ip4:198.51.100.0/24 ~all"],
         "example.org": ["v=spf1 a/24 ?all"],
         "redir.test": ["v=spf1 redirect=example.test"],
         "two.test": ["v=spf1 -all", "v=spf1 +all"],
         "macro.test": ["v=spf1 exists:%{i}.spf.test -all"],
         "loop.test": ["v=spf1 include:loop.test -all"]},
    a={"relay.example.test": ["172.30.53.21"], "example.org": ["10.1.2.3"]},
    mx={"relay.example.test": [(10, "relay.example.test")]},
)


@pytest.mark.parametrize("ip,domain,result", [
    ("172.30.53.20", "example.test", "pass"),
    ("172.30.53.21", "example.test", "pass"),        # through mx:relay.example.test
    ("198.51.100.7", "example.test", "pass"),        # through include (its ~all is no match)
    ("192.0.2.1", "example.test", "fail"),
    ("10.1.2.200", "example.org", "pass"),           # a/24
    ("10.9.9.9", "example.org", "neutral"),
    ("172.30.53.21", "redir.test", "pass"),
    ("2001:db8::1", "example.test", "fail"),
    ("192.0.2.1", "nothing.test", "none"),
])
def test_spf_evaluation(ip, domain, result):
    assert Evaluator(SPF_DNS).check(ip, domain) == result


@pytest.mark.parametrize("domain,kind", [("two.test", "permerror"), ("macro.test", "unsupported"),
                                         ("loop.test", "permerror")])
def test_spf_errors(domain, kind):
    with pytest.raises(SpfError) as info:
        Evaluator(SPF_DNS).check("192.0.2.1", domain)
    assert info.value.result == kind


def test_spf_record_selection():
    assert spf_record(["hello", "v=spf1 -all"]) == "v=spf1 -all"
    assert spf_record(["v=spf10 nope"]) is None


CA = make_ca()


def _served():
    der = der_cert(make_leaf(CA, ["mx1.example.test"])[1])
    return der, parse_certificate(der)["spki"]


def test_tlsa_match_selectors_and_types():
    der, spki = _served()
    assert match([(3, 1, 1, hashlib.sha256(spki).digest())], der, spki)[0] == "match"
    assert match([(3, 0, 2, hashlib.sha512(der).digest())], der, spki)[0] == "match"
    assert match([(1, 0, 0, der)], der, spki)[0] == "match"
    verdict, detail = match([(3, 1, 1, b"\0" * 32)], der, spki)
    assert verdict == "mismatch" and hashlib.sha256(spki).hexdigest() in detail
    assert match([(2, 1, 1, b"\0" * 32)], der, spki)[0] == "unverifiable"
