# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from ansible_collections.continuity.mail.plugins.module_utils._preflight import checks
from ansible_collections.continuity.mail.plugins.module_utils._preflight.dns import Answer


class ZoneLookup:
    """A tiny in-memory DNS: mx, a (with optional cname), txt, ttl."""

    def __init__(self, mx, a, txt=None, mx_ttl=60, cname=None, ttl=60):
        self._mx, self._a, self._txt = mx, a, txt or {}
        self.mx_ttl, self._cname, self.ttl = mx_ttl, cname or {}, ttl

    def mx(self, domain):
        return sorted(self._mx.get(domain, [])), self.mx_ttl if domain in self._mx else None

    def addresses(self, name):
        return (
            sorted(self._a.get(name, [])),
            (self.ttl if name in self._a else None),
            self._cname.get(name),
        )

    def txt(self, name):
        return self._txt.get(name, [])

    def tlsa(self, name):
        return []

    def has_dnskey(self, domain):
        return False

    def query(self, name, rdtype):
        target = self._cname.get(name)
        return Answer(
            [target] if target and rdtype == "CNAME" else [], self.ttl if target else None
        )


def params(**overrides):
    base = dict(
        domains=["example.test"],
        primary=["mx1.example.test"],
        secondary=["mx2.example.test"],
        secondary_outbound=None,
        rto_target=None,
        client_names=None,
        mta_sts={},
        mta_sts_fetch=False,
        primary_users=None,
        secondary_recipients=None,
        probe_smtp=False,
        smtp_port=25,
        mx_address_limit=5,
        timeout=1.0,
        cert_min_days=14,
        tls_verify=True,
        ca_path=None,
        helo_name="unit",
    )
    base.update(overrides)
    return base


LAB = dict(
    mx={"example.test": [(10, "mx1.example.test"), (20, "mx2.example.test")]},
    a={
        "mx1.example.test": ["10.0.0.1"],
        "mx2.example.test": ["10.0.0.2"],
        "mail.example.test": ["10.0.0.1"],
    },
    txt={"example.test": ["v=spf1 mx -all"]},
)


def findings(report, severity=None):
    return [
        (f["check"], f["severity"])
        for f in report.findings
        if severity is None or f["severity"] == severity
    ]


def test_a_ready_domain_has_no_errors_or_warnings():
    report, tables, _probes = checks.run(
        params(rto_target=60, client_names=["mail.example.test"]), ZoneLookup(**LAB)
    )
    assert findings(report) == [("mta_sts", "info")]
    assert tables["example.test"][1]["role"] == "secondary"
    passed = {(c["check"], c["result"]) for c in report.checked}
    assert ("spf", "pass") in passed and ("secondary_in_mx", "pass") in passed
    assert ("client_name_ttl", "pass") in passed


def test_secondary_missing_from_mx():
    report, _, _ = checks.run(params(secondary=["10.9.9.9"]), ZoneLookup(**LAB))
    assert ("secondary_in_mx", "error") in findings(report)
    spf = [f for f in report.findings if f["check"] == "spf"]
    assert spf and "10.9.9.9" in spf[0]["message"]  # an outbound address SPF does not cover


def test_secondary_preferred_over_primary_and_cname_mx():
    lab = dict(LAB, mx={"example.test": [(10, "mx1.example.test"), (5, "mx2.example.test")]})
    report, _, _ = checks.run(
        params(), ZoneLookup(cname={"mx2.example.test": "host.example.net."}, **lab)
    )
    assert ("secondary_preference", "warning") in findings(report)
    assert ("mx_resolves", "warning") in findings(report)


def test_address_limit_counts_addresses_ahead_of_the_secondary():
    lab = dict(
        LAB, a=dict(LAB["a"], **{"mx1.example.test": ["10.0.0.%d" % n for n in range(10, 16)]})
    )
    report, _, _ = checks.run(params(), ZoneLookup(**lab))
    assert ("mx_address_limit", "error") in findings(report)
    report, _, _ = checks.run(params(mx_address_limit=6), ZoneLookup(**lab))
    assert ("mx_address_limit", "warning") in findings(report)


def test_ttl_above_rto_target():
    report, _, _ = checks.run(
        params(rto_target=30, client_names=["mail.example.test"]), ZoneLookup(**LAB)
    )
    assert ("mx_ttl", "error") in findings(report)
    assert ("client_name_ttl", "error") in findings(report)


def test_recipient_lists_are_compared_per_domain():
    report, _, _ = checks.run(
        params(
            primary_users=["alice@example.test", "bob@example.test", "zed@other.test"],
            secondary_recipients=["Alice@example.test", "ghost@example.test"],
        ),
        ZoneLookup(**LAB),
    )
    messages = {f["severity"]: f["message"] for f in report.findings if f["check"] == "recipients"}
    assert "bob@example.test" in messages["error"] and "zed" not in messages["error"]
    assert "ghost@example.test" in messages["warning"]


def test_mta_sts_policy_text_missing_the_secondary():
    text = "version: STSv1\nmode: enforce\nmx: mx1.example.test\nmax_age: 86400\n"
    report, _, _ = checks.run(params(mta_sts={"example.test": text}), ZoneLookup(**LAB))
    errors = [f for f in report.findings if f["check"] == "mta_sts"]
    assert [(f["severity"], f["subject"]) for f in errors] == [("error", "mx2.example.test")]
    assert "mx: mx2.example.test" in errors[0]["fix"]
    testing = text.replace("enforce", "testing")
    report, _, _ = checks.run(params(mta_sts={"example.test": testing}), ZoneLookup(**LAB))
    assert ("mta_sts", "warning") in findings(report)


def test_no_mx_at_all():
    report, _, _ = checks.run(params(domains=["empty.test"]), ZoneLookup(**LAB))
    assert ("mx_present", "error") in findings(report)
