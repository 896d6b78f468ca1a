# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight checks on what a domain publishes or promises beyond MX: its MTA-STS policy,
its SPF and DMARC records and DKIM keys, and the recipients the secondary accepts."""

from ansible_collections.continuity.mail.plugins.module_utils._preflight.dmarc import (
    DmarcError,
    dkim_key,
    find_policy,
)
from ansible_collections.continuity.mail.plugins.module_utils._preflight.mtasts import (
    fetch,
    mx_matches,
    parse_policy,
    policy_url,
)
from ansible_collections.continuity.mail.plugins.module_utils._preflight.spf import (
    Evaluator,
    SpfError,
    spf_record,
)


def _policy_text(report, domain, params):
    """The policy text to check, or None (no policy, or a problem already reported)."""
    given = (params["mta_sts"] or {}).get(domain)
    if given and not given.startswith("https://"):
        return given, "given"
    url = given
    if not url:
        txt = [t for t in params["lookup"].txt("_mta-sts." + domain) if t.startswith("v=STSv1")]
        if not txt:
            report.add(domain, "mta_sts", "info", domain, "no MTA-STS policy is published")
            return None, None
        if not params["mta_sts_fetch"]:
            report.add(
                domain,
                "mta_sts",
                "info",
                domain,
                "an MTA-STS policy is announced "
                "(_mta-sts TXT) but fetching it is off (mta_sts_fetch)",
            )
            return None, None
        url = policy_url(domain)
    try:
        return fetch(url, params["ca_path"], params["timeout"]), url
    except Exception as exc:  # any failure to fetch is the finding itself
        report.add(
            domain,
            "mta_sts",
            "error",
            url,
            "cannot fetch the MTA-STS policy: %s" % exc,
            "serve the policy at %s over HTTPS with a valid certificate" % url,
        )
        return None, None


def check_mta_sts(report, domain, table, params):
    text, source = _policy_text(report, domain, params)
    if text is None:
        return
    policy, problems = parse_policy(text)
    if problems:
        report.add(
            domain,
            "mta_sts",
            "error",
            source,
            "invalid MTA-STS policy: %s" % "; ".join(problems),
            "fix the policy text (RFC 8461 3.2)",
        )
        return
    if policy["mode"] == "none":
        report.add(domain, "mta_sts", "info", source, "MTA-STS mode is none (policy withdrawn)")
        return
    severity = "error" if policy["mode"] == "enforce" else "warning"
    for mx in table:
        if any(mx_matches(mx["exchange"], pattern) for pattern in policy["mx"]):
            report.ok(domain, "mta_sts", mx["exchange"])
            continue
        consequence = (
            "senders enforcing MTA-STS will refuse to deliver to it"
            if severity == "error"
            else "senders report it (mode testing)"
        )
        report.add(
            domain,
            "mta_sts",
            severity,
            mx["exchange"],
            "MX %s matches no mx: line of the MTA-STS policy (%s): %s"
            % (mx["exchange"], ", ".join(policy["mx"]), consequence),
            "add 'mx: %s' to the policy and change the id in the _mta-sts.%s TXT record"
            % (mx["exchange"], domain),
        )


def check_spf(report, domain, outbound, params):
    """Report SPF for the secondary's outbound addresses; True when every one passes."""
    lookup = params["lookup"]
    try:
        record = spf_record(lookup.txt(domain))
    except SpfError as exc:
        report.add(
            domain, "spf", "error", domain, "SPF: %s" % exc, "publish exactly one v=spf1 record"
        )
        return False
    if record is None:
        report.add(
            domain,
            "spf",
            "warning",
            domain,
            "%s publishes no SPF record" % domain,
            "publish an SPF record covering the primary and the secondary",
        )
        return False
    passed = bool(outbound)
    for address in outbound:
        try:
            result = Evaluator(lookup).check(address, domain)
        except SpfError as exc:
            severity = "warning" if exc.result == "unsupported" else "error"
            report.add(
                domain,
                "spf",
                severity,
                address,
                "SPF %s for %s: %s" % (exc.result, address, exc),
                "simplify the SPF record of %s" % domain,
            )
            passed = False
            continue
        if result == "pass":
            report.ok(domain, "spf", address)
        else:
            passed = False
            report.add(
                domain,
                "spf",
                "error",
                address,
                "SPF of %s gives '%s' for the secondary's outbound address %s: mail it "
                "sends (bounces, users' mail after a failover) fails SPF"
                % (domain, result, address),
                "add 'ip%d:%s' to the SPF record of %s"
                % (6 if ":" in address else 4, address, domain),
            )
    return passed


def _dkim_signs(report, domain, params):
    """Whether the secondary's DKIM selectors for `domain` all publish a usable key."""
    selectors = (params.get("dkim_selectors") or {}).get(domain) or []
    usable = bool(selectors)
    for selector in selectors:
        problem = dkim_key(params["lookup"], selector, domain)
        if problem:
            usable = False
            report.add(
                domain,
                "dkim",
                "error",
                "%s._domainkey.%s" % (selector, domain),
                "%s: mail the secondary signs with it fails DKIM" % problem,
                "publish the secondary's public key as TXT 'v=DKIM1; k=rsa; p=...' at "
                "%s._domainkey.%s" % (selector, domain),
            )
        else:
            report.ok(domain, "dkim", "%s._domainkey.%s" % (selector, domain))
    return usable


def check_dmarc(report, domain, spf_passes, params):
    """Would mail the secondary sends as `domain` (users' mail after a failover) pass DMARC?

    Users' mail keeps an envelope sender in the From domain, so SPF is aligned (relaxed or
    strict) whenever it passes; DKIM is aligned when the secondary signs with d=<domain>.
    """
    dkim_ok = _dkim_signs(report, domain, params)
    try:
        name, tags, policy = find_policy(params["lookup"], domain)
    except DmarcError as exc:
        report.add(
            domain,
            "dmarc",
            "error",
            "_dmarc." + domain,
            "invalid DMARC record: %s" % exc,
            "publish one record such as 'v=DMARC1; p=none; rua=mailto:dmarc@%s'" % domain,
        )
        return
    if name is None:
        report.add(
            domain,
            "dmarc",
            "info",
            domain,
            "%s publishes no DMARC policy; receivers judge its mail by their own rules" % domain,
        )
        return
    if spf_passes or dkim_ok:
        report.ok(domain, "dmarc", name)
        return
    enforced = policy in ("quarantine", "reject") and tags["pct"] > 0
    consequence = (
        "receivers %s it" % ("reject" if policy == "reject" else "quarantine")
        if enforced
        else "receivers only report it (p=none)"
    )
    report.add(
        domain,
        "dmarc",
        "error" if enforced else "warning",
        name,
        "mail the secondary sends as %s fails DMARC (p=%s at %s): SPF does not pass for its "
        "outbound addresses and it has no DKIM key to sign with; %s"
        % (domain, policy, name, consequence),
        "let SPF pass for the secondary (see the spf findings) or sign its mail with DKIM "
        "and name the selector in dkim_selectors",
    )


def _for_domain(addresses, domain):
    return set(a.lower() for a in addresses if a.lower().endswith("@" + domain))


def check_recipients(report, domain, params):
    if params["primary_users"] is None or params["secondary_recipients"] is None:
        return
    users = _for_domain(params["primary_users"], domain)
    accepted = _for_domain(params["secondary_recipients"], domain)
    missing, extra = sorted(users - accepted), sorted(accepted - users)
    fix = (
        "re-run the continuity.mail.secondary role so its recipient list is rebuilt from "
        "the primary's users"
    )
    if missing:
        report.add(
            domain,
            "recipients",
            "error",
            domain,
            "the secondary refuses mail for %d user(s) of the primary: %s"
            % (len(missing), ", ".join(missing[:20])),
            fix,
        )
    if extra:
        report.add(
            domain,
            "recipients",
            "warning",
            domain,
            "the secondary accepts mail for %d address(es) the primary does not have "
            "(accepted now, bounced later): %s" % (len(extra), ", ".join(extra[:20])),
            fix,
        )
    if not missing and not extra:
        report.ok(domain, "recipients", domain)
