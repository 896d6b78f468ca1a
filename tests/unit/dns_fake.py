# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An in-memory authoritative DNS server for unit tests of the DNS engine.

It stands in for the network layer only: the engine's real requests are rendered to wire,
parsed here with dnspython (TSIG checked with the server's keys), answered from
dns.zone.Zone objects (RFC 2136 prerequisites and updates applied for real), and the wire
answer goes back through the engine's real parsers. Every request is recorded, so tests
can assert that check mode sent no UPDATE.
"""

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.tsig
import dns.zone

from ansible_collections.continuity.mail.plugins.module_utils._dns.transport import DNSError

KEY_NAME = "unit-key."
KEY_SECRET = "c2VjcmV0LWZvci11bml0LXRlc3RzLW9ubHktMzJieXRlcyE="
ZONE_TEMPLATE = """
$TTL 60
@ SOA ns1 hostmaster 1 60 30 86400 60
@ NS ns1
@ NS ns2
@ MX 10 mx1
@ MX 20 mx2
ns1 A 192.0.2.10
ns2 A 192.0.2.11
mx1 A 192.0.2.20
mx2 A 192.0.2.21
mx2 AAAA 2001:db8::21
mail CNAME mx1
"""


def make_zone(origin, text=ZONE_TEMPLATE):
    return dns.zone.from_text(text, origin=origin, relativize=False)


class FakeServer:
    """One authoritative server holding some zones (shared Zone objects stay in sync)."""

    def __init__(self, zones, keys=None, refuse_updates=False, authoritative=True):
        self.zones = dict((zone.origin, zone) for zone in zones)
        self.keys = (
            {dns.name.from_text(KEY_NAME): dns.tsig.Key(KEY_NAME, KEY_SECRET)}
            if keys is None
            else keys
        )
        self.refuse_updates = refuse_updates
        self.authoritative = authoritative
        self.down = None
        self.requests = []
        self.before_update = None

    def updates(self):
        return [m for m in self.requests if m.opcode() == dns.opcode.UPDATE]

    def _zone_for(self, name):
        best = None
        for origin in self.zones:
            if name.is_subdomain(origin) and (best is None or len(origin) > len(best)):
                best = origin
        return best

    def handle(self, wire):
        try:
            request = dns.message.from_wire(wire, keyring=self.keys)
        except dns.message.UnknownTSIGKey:
            request = dns.message.from_wire(wire, keyring=False)
            return self._tsig_error(request, dns.rcode.BADKEY)
        except dns.tsig.BadSignature:
            request = dns.message.from_wire(wire, keyring=False)
            return self._tsig_error(request, dns.rcode.BADSIG)
        self.requests.append(request)
        response = dns.message.make_response(request)
        response.flags &= ~dns.flags.RA
        if request.opcode() == dns.opcode.UPDATE:
            self._update(request, response)
        else:
            self._query(request, response)
        return response.to_wire()

    def _tsig_error(self, request, error):
        response = dns.message.make_response(request)
        response.set_rcode(dns.rcode.NOTAUTH)
        response.use_tsig(
            dns.tsig.Key(request.keyname, b"\0" * 32, request.keyalgorithm), tsig_error=error
        )
        return response.to_wire()

    def _query(self, request, response):
        question = request.question[0]
        origin = self._zone_for(question.name)
        if origin is None:
            response.set_rcode(dns.rcode.REFUSED)
            return
        if self.authoritative:
            response.flags |= dns.flags.AA
        zone = self.zones[origin]
        node = zone.get_node(question.name)
        soa = zone.get_rdataset(origin, "SOA")
        if node is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
            response.find_rrset(
                response.authority, origin, dns.rdataclass.IN, dns.rdatatype.SOA, create=True
            ).update(soa)
            return
        rdataset = node.get_rdataset(dns.rdataclass.IN, question.rdtype)
        if rdataset is None and question.rdtype != dns.rdatatype.CNAME:
            rdataset = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
        if rdataset is None:
            response.find_rrset(
                response.authority, origin, dns.rdataclass.IN, dns.rdatatype.SOA, create=True
            ).update(soa)
            return
        response.find_rrset(
            response.answer, question.name, dns.rdataclass.IN, rdataset.rdtype, create=True
        ).update(rdataset)

    def _update(self, request, response):
        origin = request.question[0].name
        if self.refuse_updates:
            response.set_rcode(dns.rcode.REFUSED)
            return
        if origin not in self.zones:
            response.set_rcode(dns.rcode.NOTAUTH)
            return
        if self.before_update is not None:
            hook, self.before_update = self.before_update, None
            hook(self)
        zone = self.zones[origin]
        rcode = self._prerequisites(zone, request.answer)
        if rcode != dns.rcode.NOERROR:
            response.set_rcode(rcode)
            return
        with zone.writer() as txn:
            # dnspython keeps class ANY/NONE of update RRs in rrset.deleting
            for rrset in request.authority:
                if rrset.deleting == dns.rdataclass.ANY:
                    txn.delete(rrset.name, rrset.rdtype)
                elif rrset.deleting is None:
                    txn.add(rrset.name, rrset)
                else:
                    raise AssertionError("the engine never deletes single records: %s" % rrset)
            soa = txn.get(origin, "SOA")[0]
            txn.replace(origin, 60, soa.replace(serial=soa.serial + 1))

    @staticmethod
    def _prerequisites(zone, section):
        # RFC 2136 3.2.5: value-dependent prerequisites are collected per RRset, then compared.
        wanted = {}
        for rrset in section:
            assert rrset.ttl == 0, "prerequisites must carry TTL 0 (BIND answers FORMERR)"
            current = zone.get_rdataset(rrset.name, rrset.rdtype)
            if rrset.deleting == dns.rdataclass.NONE:
                if current is not None:
                    return dns.rcode.YXRRSET
            elif rrset.deleting is None:
                wanted.setdefault((rrset.name, rrset.rdtype), set()).update(rrset)
            else:
                raise AssertionError("unexpected prerequisite class %s" % rrset.rdclass)
        for (name, rdtype), rdatas in wanted.items():
            current = zone.get_rdataset(name, rdtype)
            if current is None or set(current) != rdatas:
                return dns.rcode.NXRRSET
        return dns.rcode.NOERROR


class FakeNetwork:
    """Endpoints (host, port) to FakeServers; hand connection() to the engine as Connection."""

    def __init__(self):
        self.servers = {}
        self.connections = []

    def add(self, host, server, port=53):
        self.servers[(host, port)] = server
        return server

    def connection(self, endpoint, protocol="tcp", timeout=10.0, key=None):
        conn = FakeConnection(self, endpoint, protocol, timeout, key)
        self.connections.append(conn)
        return conn

    def all_updates(self):
        return [m for server in self.servers.values() for m in server.updates()]


def patched_network(monkeypatch):
    """A FakeNetwork that the engine and the wait loop connect through for one test."""
    from ansible_collections.continuity.mail.plugins.module_utils._dns import engine, wait
    from ansible_collections.continuity.mail.plugins.module_utils._site import view

    network = FakeNetwork()
    monkeypatch.setattr(engine, "Connection", network.connection)
    monkeypatch.setattr(wait, "Connection", network.connection)
    monkeypatch.setattr(view, "Connection", network.connection)
    return network


class FakeConnection:
    def __init__(self, network, endpoint, protocol, timeout, key):
        self.network = network
        self.endpoint = endpoint
        self.protocol = protocol
        self.timeout = timeout
        self.key = key
        self._id = 0

    def close(self):
        pass

    def exchange(self, requests):
        server = self.network.servers.get((self.endpoint.host, self.endpoint.port))
        results = []
        for request in requests:
            self._id = (self._id + 1) & 0xFFFF
            wire = request.render(self._id, self.key)
            if server is None or server.down == "refused":
                results.append(
                    DNSError(
                        self.endpoint.label,
                        "CONNECTION",
                        "cannot connect over TCP: Connection refused",
                    )
                )
            elif server.down == "timeout":
                results.append(
                    DNSError(self.endpoint.label, "TIMEOUT", "no answer within %gs" % self.timeout)
                )
            else:
                answer = server.handle(wire)
                results.append(request.accept(answer, self.key, self._fail))
        return results

    def _fail(self, code, detail):
        return DNSError(self.endpoint.label, code, detail)


PRIMARY, SECONDARY = "192.0.2.10", "192.0.2.11"


def connection(**overrides):
    """The DNS modules' connection options (options.connection_spec) aimed at the fake
    primary, signed with the unit key; overrides replace or add options."""
    result = dict(
        server=PRIMARY,
        port=53,
        protocol="tcp",
        key_name=KEY_NAME,
        key_secret=KEY_SECRET,
        key_algorithm="hmac-sha256",
        timeout=5.0,
    )
    result.update(overrides)
    return result


def no_wait(**overrides):
    """connection() plus the wait options (options.wait_spec), waiting for nothing."""
    return connection(wait=False, wait_servers=[], wait_timeout=5.0, **overrides)
