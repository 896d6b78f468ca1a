# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""continuity_preflight: is each domain ready to fail over? DNS, SMTP/TLS, MTA-STS, SPF,
DMARC and DKIM, TLSA, recipient lists and TTLs, as findings with a severity and a fix.

SMTP and TLS are judged by the same probe engine as mail_health (_probe.engine), never a copy.
"""

from ansible_collections.continuity.mail.plugins.module_utils._preflight.dns import DnsLookupError
from ansible_collections.continuity.mail.plugins.module_utils._preflight.policy import (
    check_dmarc,
    check_mta_sts,
    check_recipients,
    check_spf,
)
from ansible_collections.continuity.mail.plugins.module_utils._preflight.tlsa import (
    match as tlsa_match,
)
from ansible_collections.continuity.mail.plugins.module_utils._probe import engine
from ansible_collections.continuity.mail.plugins.module_utils._probe.targets import normalize

SEVERITIES = ("error", "warning", "info")


class Report:
    def __init__(self):
        self.findings = []
        self.checked = []

    def add(self, domain, check, severity, subject, message, fix=None):
        self.findings.append(
            dict(
                domain=domain,
                check=check,
                severity=severity,
                subject=subject,
                message=message,
                fix=fix,
            )
        )
        self.checked.append(
            dict(
                domain=domain,
                check=check,
                subject=subject,
                result="fail"
                if severity == "error"
                else "warn"
                if severity == "warning"
                else "info",
            )
        )

    def ok(self, domain, check, subject):
        self.checked.append(dict(domain=domain, check=check, subject=subject, result="pass"))

    def summary(self):
        return dict((s, sum(1 for f in self.findings if f["severity"] == s)) for s in SEVERITIES)


def resolve_identity(lookup, names):
    """Names or addresses of a server -> the set of its addresses."""
    out = set()
    for name in names or []:
        if name.replace(".", "").isdigit() or ":" in name:
            out.add(name)
        else:
            out.update(lookup.addresses(name)[0])
    return out


def mx_table(lookup, domain, primary, secondary):
    records, ttl = lookup.mx(domain)
    table = []
    for preference, exchange in records:
        addresses, dummy, cname = lookup.addresses(exchange)
        role = (
            "secondary"
            if set(addresses) & secondary
            else ("primary" if set(addresses) & primary else "other")
        )
        table.append(
            dict(
                preference=preference,
                exchange=exchange,
                addresses=addresses,
                cname=cname,
                role=role,
            )
        )
    return table, ttl


def check_mx(report, domain, table, ttl, params):
    if not table:
        report.add(
            domain,
            "mx_present",
            "error",
            domain,
            "%s has no MX records" % domain,
            "publish MX records: the primary first, the secondary with a higher number",
        )
        return
    report.ok(domain, "mx_present", domain)
    for mx in table:
        if not mx["addresses"]:
            report.add(
                domain,
                "mx_resolves",
                "error",
                mx["exchange"],
                "MX %s has no A/AAAA record" % mx["exchange"],
                "give %s an address record" % mx["exchange"],
            )
        elif mx["cname"]:
            report.add(
                domain,
                "mx_resolves",
                "warning",
                mx["exchange"],
                "MX %s is an alias (CNAME to %s); RFC 2181 10.3 forbids it and some "
                "senders refuse it" % (mx["exchange"], mx["cname"]),
                "point the MX record at %s directly" % mx["cname"].rstrip("."),
            )
        else:
            report.ok(domain, "mx_resolves", mx["exchange"])
    secondary = [mx for mx in table if mx["role"] == "secondary"]
    if not secondary:
        report.add(
            domain,
            "secondary_in_mx",
            "error",
            domain,
            "no MX of %s points at the secondary: senders will never fall back to it" % domain,
            "add an MX record for the secondary with a higher preference number "
            "than the primary's (e.g. '20 mx2.%s.')" % domain,
        )
    else:
        report.ok(domain, "secondary_in_mx", domain)
        best_secondary = min(mx["preference"] for mx in secondary)
        ahead = set()
        for mx in table:
            if mx["preference"] < best_secondary:
                ahead.update(mx["addresses"])
        primaries = [mx["preference"] for mx in table if mx["role"] == "primary"]
        if primaries and best_secondary <= min(primaries):
            report.add(
                domain,
                "secondary_preference",
                "warning",
                domain,
                "the secondary (preference %d) is preferred over or equal to the primary "
                "(%d): senders deliver to it in normal times" % (best_secondary, min(primaries)),
                "give the secondary's MX a higher preference number than the primary's",
            )
        limit = params["mx_address_limit"]
        if len(ahead) > limit:
            report.add(
                domain,
                "mx_address_limit",
                "error",
                domain,
                "%d addresses are ahead of the secondary; senders try at most %d, so the "
                "secondary is never tried" % (len(ahead), limit),
                "keep the MX hosts preferred over the secondary to %d addresses or fewer" % limit,
            )
        elif len(ahead) == limit:
            report.add(
                domain,
                "mx_address_limit",
                "warning",
                domain,
                "exactly %d addresses are ahead of the secondary: Postfix senders "
                "(smtp_mx_address_limit=%d) would stop before reaching it" % (limit, limit),
                "remove one address from the MX hosts preferred over the secondary",
            )
        else:
            report.ok(domain, "mx_address_limit", domain)
    rto = params["rto_target"]
    if rto:
        if ttl is not None and ttl > rto:
            report.add(
                domain,
                "mx_ttl",
                "error",
                domain,
                "MX TTL %d s exceeds the RTO target %d s: resolvers keep the old MX set "
                "that long after a switch" % (ttl, rto),
                "lower the MX TTL to %d s or less ahead of any planned failover" % rto,
            )
        else:
            report.ok(domain, "mx_ttl", domain)


def probe_targets(tables, params):
    targets, seen = [], set()
    for table in tables.values():
        for mx in table:
            for address in mx["addresses"]:
                name = "%s %s" % (mx["exchange"], address)
                if name not in seen:
                    seen.add(name)
                    targets.append(
                        dict(
                            name=name,
                            host=address,
                            port=params["smtp_port"],
                            protocol="smtp",
                            server_name=mx["exchange"],
                        )
                    )
    return targets


_SMTP_FIX = {
    "refused": "make %s accept connections on port %d from the internet",
    "timeout": "make %s answer on port %d (firewall, routing, or an overloaded server)",
    "tls_error": "serve a certificate that chains to a public CA and covers %s (port %d)",
    "cert_expired": "renew the certificate of %s (port %d) now",
    "cert_expiring": "renew the certificate of %s (port %d) before it expires",
}


def check_smtp(report, domain, table, results, params):
    for mx in table:
        for address in mx["addresses"]:
            result = results.get("%s %s" % (mx["exchange"], address))
            subject = "%s (%s)" % (mx["exchange"], address)
            if result is None:
                continue
            status = result["status"]
            if status == "ok":
                report.ok(domain, "mx_smtp", subject)
            else:
                fix = _SMTP_FIX.get(status, "check the SMTP service of %s on port %d")
                report.add(
                    domain,
                    "mx_smtp",
                    "warning" if status == "cert_expiring" else "error",
                    subject,
                    "SMTP %s: %s" % (status, result["error"]),
                    fix % (mx["exchange"], params["smtp_port"]),
                )
            check_tlsa(report, domain, mx, address, result, params)


def check_tlsa(report, domain, mx, address, result, params):
    name = "_%d._tcp.%s" % (params["smtp_port"], mx["exchange"])
    records = params["lookup"].tlsa(name)
    if not records:
        return
    subject = "%s (%s)" % (name, address)
    parsed = result.get("_parsed")
    if not parsed:
        report.add(
            domain,
            "tlsa",
            "error",
            subject,
            "TLSA records exist but no certificate was served to compare them with",
            "make STARTTLS work on %s" % mx["exchange"],
        )
        return
    verdict, detail = tlsa_match(records, parsed["der"], parsed["spki"])
    if verdict == "match":
        report.ok(domain, "tlsa", subject)
    else:
        report.add(
            domain,
            "tlsa",
            "error" if verdict == "mismatch" else "info",
            subject,
            detail,
            "publish a TLSA record for the served certificate (e.g. 3 1 1 <SHA-256 of its "
            "public key>) before removing the old one"
            if verdict == "mismatch"
            else None,
        )
    if not params["lookup"].has_dnskey(domain):
        report.add(
            domain,
            "tlsa",
            "warning",
            subject,
            "TLSA records in a zone without DNSSEC are ignored by senders",
            "sign the zone or drop the TLSA records",
        )


def check_client_names(report, params):
    rto = params["rto_target"]
    for name in params["client_names"] or []:
        domain = next((d for d in params["domains"] if name == d or name.endswith("." + d)), "*")
        cname = params["lookup"].query(name, "CNAME")
        ttl = cname.ttl if cname.records else params["lookup"].addresses(name)[1]
        if ttl is None:
            report.add(
                domain,
                "client_name",
                "error",
                name,
                "%s does not resolve" % name,
                "publish %s pointing at the active server" % name,
            )
        elif rto and ttl > rto:
            report.add(
                domain,
                "client_name_ttl",
                "error",
                name,
                "TTL %d s of %s exceeds the RTO target %d s" % (ttl, name, rto),
                "lower the TTL of %s to %d s or less" % (name, rto),
            )
        else:
            report.ok(domain, "client_name_ttl", name)


def run(params, lookup):
    """All checks; returns (report, per-domain MX tables, public probe results)."""
    params = dict(params, lookup=lookup)
    report = Report()
    primary = resolve_identity(lookup, params["primary"])
    secondary = resolve_identity(lookup, params["secondary"])
    outbound = params["secondary_outbound"] or sorted(secondary)
    tables = {}
    for domain in params["domains"]:
        try:
            tables[domain], ttl = mx_table(lookup, domain, primary, secondary)
        except DnsLookupError as exc:
            report.add(
                domain,
                "dns",
                "error",
                domain,
                "DNS lookup failed: %s" % exc,
                "make the domain's authoritative servers answer",
            )
            continue
        check_mx(report, domain, tables[domain], ttl, params)
    results = {}
    if params["probe_smtp"]:
        targets = normalize(
            probe_targets(tables, params),
            tls_verify=params["tls_verify"],
            ca_path=params["ca_path"],
        )
        found, dummy = engine.run(
            targets,
            timeout=params["timeout"],
            helo_name=params["helo_name"],
            cert_min_days=params["cert_min_days"],
            concurrency=50,
        )
        results = dict((r["name"], r) for r in found)
    for domain, table in tables.items():
        try:
            if params["probe_smtp"]:
                check_smtp(report, domain, table, results, params)
            check_mta_sts(report, domain, table, params)
            check_dmarc(report, domain, check_spf(report, domain, outbound, params), params)
            check_recipients(report, domain, params)
        except DnsLookupError as exc:
            report.add(
                domain,
                "dns",
                "error",
                domain,
                "DNS lookup failed: %s" % exc,
                "make the domain's authoritative servers answer",
            )
    check_client_names(report, params)
    return report, tables, [engine.public(r) for r in results.values()]
