# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every authoritative server serves for the site: each domain's MX set and where each
client name points, read from each server separately, then compared.

A server that cannot be read is named as unreadable and never counts as a vote for either
side: one server down must not make a normal site look failed over. Which side a record is
on comes from the exchange names of the primary and the secondary (a name without a dot is
taken inside each domain, as in mx_switch).
"""

import concurrent.futures

from ansible_collections.continuity.mail.plugins.module_utils._dns import mx, plan
from ansible_collections.continuity.mail.plugins.module_utils._dns.input import parse_name
from ansible_collections.continuity.mail.plugins.module_utils._dns.transport import Connection

MX, CNAME, A, AAAA = 15, 5, 1, 28
SIDES = ("primary", "secondary")


class Site:
    """The names to read: domains, exchanges per side and domain, client names per side."""

    def __init__(self, domains, client_names, exchanges):
        self.domains = list(
            dict.fromkeys(parse_name(d, "domains[%d]" % i) for i, d in enumerate(domains))
        )
        self.exchanges = {}
        self.clients = {}
        for side in SIDES:
            name = exchanges.get(side)
            if not name or not self.domains:
                continue
            self.exchanges[side] = dict(
                (domain, parse_name(name, side, origin=domain)) for domain in self.domains
            )
            request = mx.Request(
                {"domains": domains, "active": name, "client_names": client_names or []}
            )
            self.clients[side] = request.clients
        first = next(iter(self.clients.values()), {})
        self.client_names = list(first)

    def rrsets(self):
        wanted = [(domain, MX) for domain in self.domains]
        for name in self.client_names:
            wanted += [(name, CNAME), (name, A), (name, AAAA)]
        for side in self.clients:
            for target in self.clients[side].values():
                wanted += [(target, A), (target, AAAA)]
        return list(dict.fromkeys(wanted))


def _mx_texts(state):
    return state.texts(MX)


def _preferred(state):
    """Exchange names at the lowest preference."""
    texts = _mx_texts(state)
    if not texts:
        return []
    pairs = [(int(t.split()[0]), t.split()[1].lower()) for t in texts]
    top = min(p for p, _e in pairs)
    return sorted(e for p, e in pairs if p == top)


def _domain_side(site, domain, preferred):
    if not preferred:
        return "none"
    for side, names in site.exchanges.items():
        if preferred == [names[domain].to_text().lower()]:
            return side
    return "other"


def _client(site, reading, name):
    cname = reading.state(name, CNAME)
    addresses = sorted(reading.state(name, A).texts(A) + reading.state(name, AAAA).texts(AAAA))
    entry = {
        "cname": cname.texts(CNAME)[0].lower() if cname.exists else None,
        "addresses": addresses,
        "side": "none",
    }
    for side, clients in site.clients.items():
        target = clients[name]
        if entry["cname"] is not None:
            if entry["cname"] == target.to_text().lower():
                entry["side"] = side
                break
        elif addresses:
            served = sorted(
                reading.state(target, A).texts(A) + reading.state(target, AAAA).texts(AAAA)
            )
            if served and served == addresses:
                entry["side"] = side
                break
    if entry["side"] == "none" and (entry["cname"] or addresses):
        entry["side"] = "other"
    return entry


def read_server(endpoint, site, protocol, timeout):
    """One server's view: readable, error, domains and clients (each with its side)."""
    connection = Connection(endpoint, protocol, timeout)
    try:
        reading = plan.read(connection, rrsets=site.rrsets())
    finally:
        connection.close()
    result = {"server": endpoint.label, "readable": not reading.problems, "error": None}
    if reading.problems:
        more = len(reading.problems) - 1
        result["error"] = reading.problems[0] + (" (and %d more)" % more if more else "")
        return result
    result["domains"] = {}
    for domain in site.domains:
        state = reading.state(domain, MX)
        preferred = _preferred(state)
        result["domains"][domain.to_text()] = {
            "mx": _mx_texts(state),
            "preferred": preferred,
            "side": _domain_side(site, domain, preferred),
        }
    result["clients"] = dict(
        (name.to_text(), _client(site, reading, name)) for name in site.client_names
    )
    return result


def read_all(endpoints, site, protocol, timeout):
    """Every server read in parallel, in the order given."""
    if not endpoints:
        return []
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(endpoints))) as pool:
        return list(pool.map(lambda e: read_server(e, site, protocol, timeout), endpoints))


def summarise(servers):
    """The site as a whole: active side, disagreements between servers, unreadable servers.

    active is "primary" or "secondary" when every readable server puts every domain and
    client name on that side, "split" when they are not all on one side (a half-done switch,
    or servers that disagree), "unknown" when no server could be read."""
    readable = [s for s in servers if s["readable"]]
    unreadable = [
        {"server": s["server"], "error": s["error"]} for s in servers if not s["readable"]
    ]
    disagreements = []
    sides = set()
    domains = {}
    clients = {}
    for server in readable:
        for domain, entry in server["domains"].items():
            domains.setdefault(domain, {})[server["server"]] = entry
            sides.add(entry["side"])
        for name, entry in server["clients"].items():
            clients.setdefault(name, {})[server["server"]] = entry
            sides.add(entry["side"])
    for domain, by_server in domains.items():
        if len(set(tuple(e["mx"]) for e in by_server.values())) > 1:
            disagreements.append(
                "%s MX: %s"
                % (
                    domain,
                    "; ".join(
                        "%s serves %s" % (server, ", ".join(e["mx"]) or "no MX")
                        for server, e in by_server.items()
                    ),
                )
            )
    for name, by_server in clients.items():
        if len(set((e["cname"], tuple(e["addresses"])) for e in by_server.values())) > 1:
            disagreements.append(
                "%s: %s"
                % (
                    name,
                    "; ".join(
                        "%s points it at %s"
                        % (server, e["cname"] or ", ".join(e["addresses"]) or "nothing")
                        for server, e in by_server.items()
                    ),
                )
            )
    if not readable:
        active = "unknown"
    elif len(sides) == 1 and next(iter(sides)) in SIDES:
        active = next(iter(sides))
    else:
        active = "split"
    preferred = {}
    for domain, by_server in domains.items():
        tops = set(tuple(e["preferred"]) for e in by_server.values())
        preferred[domain] = " ".join(next(iter(tops))) if len(tops) == 1 else None
    return {
        "active": active,
        "consistent": not unreadable and not disagreements,
        "unreadable": unreadable,
        "disagreements": disagreements,
        "preferred": preferred,
        "sides": sorted(sides),
    }
