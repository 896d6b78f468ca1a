# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the flows leave in the lab for every control node to see, read the way a test
checks it: the site lock and state records in DNS, the preferred MX, and whether a server
accepts SMTP at all (a fenced Postfix refuses it)."""

import json
import smtplib

import dns.message
import dns.query

ZONE = "example.test"
LOCK = "_continuity-lock.%s." % ZONE
STATE = "_continuity-state.%s." % ZONE


def state_record(server):
    """The state record's JSON as the DNS server at address `server` serves it."""
    query = dns.message.make_query(STATE, "TXT")
    query.flags = 0
    answer = dns.query.tcp(query, server, timeout=5)
    (rrset,) = answer.answer
    (rdata,) = list(rrset)
    return json.loads(b"".join(rdata.strings).decode())


def lock_texts(bind, server=None):
    """The lock record's texts on one server of the `bind` fixture (its primary by default)."""
    return [text.strip('"') for text in bind.query(server or bind.primary, LOCK, "TXT")]


def prefers(bind, exchange):
    """Whether every server of the `bind` fixture prefers `exchange` in every lab zone."""
    return all(
        bind.query(server, zone + ".", "MX")[0] == "10 %s.%s." % (exchange, zone)
        for server in bind.servers
        for zone in bind.zones
    )


def mx_set(bind, server, zone):
    """The MX exchanges one server of the `bind` fixture serves for `zone`, sorted."""
    return sorted(record.split()[1] for record in bind.query(server, zone + ".", "MX"))


def accepts_smtp(address, timeout=10):
    """Whether port 25 at `address` accepts an SMTP session."""
    try:
        with smtplib.SMTP(address, 25, local_hostname="tester.example.net", timeout=timeout) as s:
            return s.noop()[0] == 250
    except OSError:
        return False
