# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read and write one TXT record of the site (the lock, the state) on the DNS engine.

A read is one query to the primary; a write is one UPDATE whose prerequisite is the record
exactly as read (or "does not exist"), so a concurrent writer makes it fail instead of
being overwritten.
"""

from ansible_collections.continuity.mail.plugins.module_utils._dns.engine import plan_failure
from ansible_collections.continuity.mail.plugins.module_utils._dns.input import parse_values
from ansible_collections.continuity.mail.plugins.module_utils._dns.plan import Change, State

TXT = 16


def txt_strings(value):
    """The text of one TXT rdata (its character-strings joined, as one string)."""
    data, offset, chunks = value.wire, 0, []
    while offset < len(data):
        length = data[offset]
        chunks.append(data[offset + 1 : offset + 1 + length])
        offset += 1 + length
    return b"".join(chunks).decode("utf-8", "replace")


class Record:
    """One TXT RRset as read from the primary: zone, name, State and its strings."""

    def __init__(self, zone, name, state):
        self.zone = zone
        self.name = name
        self.state = state
        self.texts = [txt_strings(value) for value in state.values]


def read(engine, name):
    """(Record, None) or (None, failure message)."""
    reading = engine.read(locate=[name], rrsets=[(name, TXT)])
    if reading.problems:
        return None, plan_failure(reading.problems)
    return Record(reading.zone_of[name], name, reading.state(name, TXT)), None


def change(record, text, ttl, delete=False):
    """The Change that writes `text` (or deletes the record), guarded by what was read."""
    if delete:
        after = State()
    elif text is None:
        after = record.state
    else:
        after = State(ttl, parse_values([text], TXT, "record"))
    return Change(record.zone, record.name, TXT, record.state, after, expect=record.state.values)


def concurrent(result):
    """Whether a failed engine.finish() lost to a concurrent change (a prerequisite)."""
    return any("concurrent change" in (zone.get("error") or "") for zone in result.get("zones", []))
