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
    txt={
        "example.test": ["v=spf1 mx -all"],
        "_dmarc.example.test": ["v=DMARC1; p=reject; rua=mailto:dmarc@example.test"],
    },
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
    assert ("dmarc", "pass") in passed


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


def dmarc_findings(report):
    return [f for f in report.findings if f["check"] in ("dmarc", "dkim")]


def with_txt(**txt):
    zone = dict(LAB, txt=dict(LAB["txt"]))
    zone["txt"].update({name.replace("__", "."): value for name, value in txt.items()})
    return ZoneLookup(**zone)


def test_dmarc_reject_fails_when_spf_does_not_cover_the_secondary_and_nothing_signs():
    report, _, _ = checks.run(params(secondary_outbound=["10.9.9.9"]), ZoneLookup(**LAB))
    (found,) = dmarc_findings(report)
    assert found["severity"] == "error" and found["subject"] == "_dmarc.example.test"
    assert "p=reject" in found["message"] and "receivers reject it" in found["message"]


def test_dmarc_passes_through_dkim_when_spf_does_not():
    zone = with_txt(s2026___domainkey__example__test=["v=DKIM1; k=rsa; p=MIIBIjANBgkq"])
    report, _, _ = checks.run(
        params(secondary_outbound=["10.9.9.9"], dkim_selectors={"example.test": ["s2026"]}), zone
    )
    assert dmarc_findings(report) == []
    passed = {(c["check"], c["subject"], c["result"]) for c in report.checked}
    assert ("dkim", "s2026._domainkey.example.test", "pass") in passed
    assert ("dmarc", "_dmarc.example.test", "pass") in passed


def test_a_selector_without_a_key_is_an_error_and_gives_no_dmarc_pass():
    zone = with_txt(old___domainkey__example__test=["v=DKIM1; p="])
    report, _, _ = checks.run(
        params(secondary_outbound=["10.9.9.9"], dkim_selectors={"example.test": ["old"]}), zone
    )
    found = {(f["check"], f["severity"]) for f in dmarc_findings(report)}
    assert found == {("dkim", "error"), ("dmarc", "error")}
    dkim = next(f for f in report.findings if f["check"] == "dkim")
    assert "revoked" in dkim["message"] and dkim["subject"] == "old._domainkey.example.test"


def test_dmarc_p_none_is_a_warning_and_a_missing_policy_is_information():
    zone = with_txt(_dmarc__example__test=["v=DMARC1; p=none"])
    report, _, _ = checks.run(params(secondary_outbound=["10.9.9.9"]), zone)
    assert [(f["check"], f["severity"]) for f in dmarc_findings(report)] == [("dmarc", "warning")]
    zone = with_txt(_dmarc__example__test=[])
    report, _, _ = checks.run(params(), zone)
    assert [(f["check"], f["severity"]) for f in dmarc_findings(report)] == [("dmarc", "info")]


def test_an_invalid_dmarc_record_is_an_error():
    zone = with_txt(_dmarc__example__test=["v=DMARC1; p=block"])
    report, _, _ = checks.run(params(), zone)
    (found,) = dmarc_findings(report)
    assert (
        found["severity"] == "error" and "p must be none, quarantine or reject" in found["message"]
    )
