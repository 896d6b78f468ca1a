# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only DNS lookups for continuity_preflight (control node, dnspython).

Every answer is cached for the run: the same MX host is asked about by several checks.
"""

try:
    import dns.exception
    import dns.name
    import dns.rdatatype
    import dns.resolver

    HAS_DNSPYTHON = True
except ImportError:  # reported by the module with missing_required_lib
    HAS_DNSPYTHON = False


class DnsLookupError(Exception):
    """The question could not be answered (timeout, SERVFAIL): not the same as 'no data'."""


class Answer:
    def __init__(self, records, ttl, cname=None):
        self.records = records
        self.ttl = ttl
        self.cname = cname


class Lookup:
    def __init__(self, nameservers=None, port=53, timeout=5.0):
        if nameservers:
            self.resolver = dns.resolver.Resolver(configure=False)
            self.resolver.nameservers = list(nameservers)
            self.resolver.port = port
        else:
            self.resolver = dns.resolver.Resolver()
        self.resolver.lifetime = timeout
        self._cache = {}

    def query(self, name, rdtype):
        """Answer for (name, type); empty records when the name or the type does not exist."""
        key = (name.lower().rstrip("."), rdtype)
        if key not in self._cache:
            self._cache[key] = self._ask(name, rdtype)
        return self._cache[key]

    def _ask(self, name, rdtype):
        try:
            answer = self.resolver.resolve(name, rdtype, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return Answer([], None)
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
            raise DnsLookupError("%s %s: %s" % (name, rdtype, exc)) from exc
        except dns.exception.DNSException as exc:
            raise DnsLookupError("%s %s: %s" % (name, rdtype, exc)) from exc
        if answer.rrset is None:
            return Answer([], None)
        qname = dns.name.from_text(name)
        cname = answer.canonical_name.to_text() if answer.canonical_name != qname else None
        return Answer(list(answer.rrset), answer.rrset.ttl, cname)

    def mx(self, domain):
        answer = self.query(domain, "MX")
        records = sorted(
            (r.preference, r.exchange.to_text().rstrip(".").lower()) for r in answer.records
        )
        return records, answer.ttl

    def addresses(self, name):
        """(sorted IPv4+IPv6 addresses, TTL of the A set, canonical name if a CNAME)."""
        a = self.query(name, "A")
        aaaa = self.query(name, "AAAA")
        found = sorted(set(r.address for r in a.records + aaaa.records))
        return found, a.ttl if a.ttl is not None else aaaa.ttl, a.cname or aaaa.cname

    def txt(self, name):
        answer = self.query(name, "TXT")
        return [b"".join(r.strings).decode("utf-8", "replace") for r in answer.records]

    def tlsa(self, name):
        answer = self.query(name, "TLSA")
        return [(r.usage, r.selector, r.mtype, r.cert) for r in answer.records]

    def has_dnskey(self, domain):
        try:
            zone = dns.resolver.zone_for_name(domain, resolver=self.resolver).to_text()
        except dns.exception.DNSException:
            zone = domain
        return bool(self.query(zone, "DNSKEY").records)
