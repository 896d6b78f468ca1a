# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SPF evaluation against DNS data given as dicts."""

import pytest

from ansible_collections.continuity.mail.plugins.module_utils._preflight.spf import (
    Evaluator,
    SpfError,
    spf_record,
)


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


SPF_DNS = FakeLookup(
    txt={
        "example.test": [
            "v=spf1 ip4:172.30.53.20 mx:relay.example.test include:_spf.example.net -all",
            "other text",
        ],
        "_spf.example.net": ["v=spf1 ip4:198.51.100.0/24 ~all"],
        "example.org": ["v=spf1 a/24 ?all"],
        "redir.test": ["v=spf1 redirect=example.test"],
        "two.test": ["v=spf1 -all", "v=spf1 +all"],
        "macro.test": ["v=spf1 exists:%{i}.spf.test -all"],
        "loop.test": ["v=spf1 include:loop.test -all"],
    },
    a={"relay.example.test": ["172.30.53.21"], "example.org": ["10.1.2.3"]},
    mx={"relay.example.test": [(10, "relay.example.test")]},
)


@pytest.mark.parametrize(
    "ip,domain,result",
    [
        ("172.30.53.20", "example.test", "pass"),
        ("172.30.53.21", "example.test", "pass"),  # through mx:relay.example.test
        ("198.51.100.7", "example.test", "pass"),  # through include (its ~all is no match)
        ("192.0.2.1", "example.test", "fail"),
        ("10.1.2.200", "example.org", "pass"),  # a/24
        ("10.9.9.9", "example.org", "neutral"),
        ("172.30.53.21", "redir.test", "pass"),
        ("2001:db8::1", "example.test", "fail"),
        ("192.0.2.1", "nothing.test", "none"),
    ],
)
def test_spf_evaluation(ip, domain, result):
    assert Evaluator(SPF_DNS).check(ip, domain) == result


@pytest.mark.parametrize(
    "domain,kind",
    [("two.test", "permerror"), ("macro.test", "unsupported"), ("loop.test", "permerror")],
)
def test_spf_errors(domain, kind):
    with pytest.raises(SpfError) as info:
        Evaluator(SPF_DNS).check("192.0.2.1", domain)
    assert info.value.result == kind


def test_spf_record_selection():
    assert spf_record(["hello", "v=spf1 -all"]) == "v=spf1 -all"
    assert spf_record(["v=spf10 nope"]) is None
