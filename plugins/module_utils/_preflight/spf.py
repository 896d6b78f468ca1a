# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Would SPF (RFC 7208) let this address send for this domain?

Evaluates ip4, ip6, a, mx, include, redirect and all with the RFC's 10-lookup limit;
macros, exists and ptr are not evaluated (a record using them is reported as such).
"""

import ipaddress

_QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
LOOKUP_LIMIT = 10


class SpfError(Exception):
    def __init__(self, result, message):
        super().__init__(message)
        self.result = result


def spf_record(txts):
    """The single v=spf1 record among TXT strings; None when absent, SpfError when several."""
    records = [t for t in txts if t.lower() == "v=spf1" or t.lower().startswith("v=spf1 ")]
    if len(records) > 1:
        raise SpfError("permerror", "more than one v=spf1 record")
    return records[0] if records else None


def _split_cidr(spec, default_domain):
    """'example.test/24//64' -> (domain, 24, 64)."""
    domain, v4, v6 = spec, 32, 128
    if "//" in domain:
        domain, v6 = domain.split("//", 1)
        v6 = int(v6)
    if "/" in domain:
        domain, v4 = domain.split("/", 1)
        v4 = int(v4)
    return (domain or default_domain), v4, v6


def _in_hosts(ip, addresses, v4, v6):
    for address in addresses:
        net = ipaddress.ip_network(
            "%s/%d" % (address, v4 if ":" not in address else v6), strict=False
        )
        if ip.version == net.version and ip in net:
            return True
    return False


class Evaluator:
    def __init__(self, lookup):
        self.lookup = lookup
        self.lookups = 0

    def _count(self):
        self.lookups += 1
        if self.lookups > LOOKUP_LIMIT:
            raise SpfError("permerror", "more than %d DNS lookups" % LOOKUP_LIMIT)

    def check(self, ip, domain):
        """'pass', 'fail', 'softfail', 'neutral' or 'none' for ip sending as domain."""
        record = spf_record(self.lookup.txt(domain))
        if record is None:
            return "none"
        return self._evaluate(ipaddress.ip_address(ip), domain, record)

    def _evaluate(self, ip, domain, record):
        redirect = None
        for term in record.split()[1:]:
            if "=" in term and ":" not in term.split("=", 1)[0]:
                name, value = term.split("=", 1)
                if name.lower() == "redirect":
                    redirect = value
                continue  # exp= and unknown modifiers do not change the result
            if "%" in term:
                raise SpfError("unsupported", "macros are not evaluated (%s)" % term)
            qualifier = _QUALIFIERS.get(term[0])
            if qualifier:
                term = term[1:]
            if self._matches(ip, domain, term):
                return qualifier or "pass"
        if redirect:
            self._count()
            target = spf_record(self.lookup.txt(redirect))
            if target is None:
                raise SpfError("permerror", "redirect to %s, which has no SPF record" % redirect)
            return self._evaluate(ip, redirect, target)
        return "neutral"

    def _matches(self, ip, domain, term):
        name, dummy, arg = term.partition(":")
        name = name.lower()
        if "/" in name:  # a/24 or mx/24 without a domain
            name, dummy, cidr = name.partition("/")
            arg = "/" + cidr
        if name == "all":
            return True
        if name in ("ip4", "ip6"):
            return (
                ip in ipaddress.ip_network(arg, strict=False)
                if ip.version == (4 if name == "ip4" else 6)
                else False
            )
        if name == "a":
            self._count()
            target, v4, v6 = _split_cidr(arg, domain)
            return _in_hosts(ip, self.lookup.addresses(target)[0], v4, v6)
        if name == "mx":
            self._count()
            target, v4, v6 = _split_cidr(arg, domain)
            records, dummy = self.lookup.mx(target)
            return any(
                _in_hosts(ip, self.lookup.addresses(host)[0], v4, v6) for dummy, host in records
            )
        if name == "include":
            self._count()
            record = spf_record(self.lookup.txt(arg))
            if record is None:
                raise SpfError("permerror", "include:%s has no SPF record" % arg)
            return self._evaluate(ip, arg, record) == "pass"
        if name in ("exists", "ptr"):
            raise SpfError("unsupported", "the %s mechanism is not evaluated" % name)
        raise SpfError("permerror", "unknown SPF term %r" % term)
