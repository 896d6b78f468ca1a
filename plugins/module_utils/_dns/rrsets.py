# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What continuity.mail.dns_rrsets does with its rrsets list, on top of the engine."""

from ansible_collections.continuity.mail.plugins.module_utils._dns.engine import (
    Engine,
    plan_failure,
)
from ansible_collections.continuity.mail.plugins.module_utils._dns.input import (
    InputError,
    parse_name,
    parse_ttl,
    parse_type,
    parse_values,
)
from ansible_collections.continuity.mail.plugins.module_utils._dns.options import (
    settings_from_params,
)
from ansible_collections.continuity.mail.plugins.module_utils._dns.plan import (
    DEFAULT_TTL,
    Change,
    State,
    expectation_problems,
)


def rrset_spec():
    return dict(
        zone=dict(type="str"),
        name=dict(type="str", required=True),
        type=dict(type="str", required=True),
        ttl=dict(type="int"),
        values=dict(type="list", elements="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        expect=dict(type="list", elements="str"),
    )


class Wanted:
    """One checked entry of rrsets."""

    def __init__(self, index, item):
        what = "rrsets[%d]" % index
        self.name = parse_name(item.get("name"), what + ".name", wildcard=True)
        self.zone = parse_name(item["zone"], what + ".zone") if item.get("zone") else None
        if self.zone is not None and not self.name.is_subdomain(self.zone):
            raise InputError(
                "%s: %s is not inside zone %s" % (what, self.name.to_text(), self.zone.to_text())
            )
        self.rdtype = parse_type(item.get("type"), what + ".type")
        self.ttl = parse_ttl(item.get("ttl"), what)
        self.state = item.get("state") or "present"
        if self.state not in ("present", "absent"):
            raise InputError("%s: state must be present or absent, got %r" % (what, self.state))
        values = item.get("values")
        if self.state == "present" and not values:
            raise InputError(
                "%s: state=present needs at least one value (use state=absent to delete %s)"
                % (what, self.name.to_text())
            )
        self.values = parse_values(values, self.rdtype, what) if values else None
        expect = item.get("expect")
        self.expect = (
            parse_values(expect, self.rdtype, what + ".expect") if expect is not None else None
        )

    def after(self, before):
        if self.state == "present":
            return State(
                self.ttl if self.ttl is not None else (before.ttl or DEFAULT_TTL), self.values
            )
        if self.values is None:
            return State()
        drop = frozenset(value.key for value in self.values)
        return State(before.ttl, [value for value in before.values if value.key not in drop])


def parse_rrsets(items):
    if not items:
        raise InputError("rrsets must list at least one RRset")
    wanted, seen = [], set()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InputError("rrsets[%d] must be a dictionary" % index)
        entry = Wanted(index, item)
        if (entry.name, entry.rdtype) in seen:
            raise InputError("rrsets[%d]: %s is listed twice" % (index, entry.name.to_text()))
        seen.add((entry.name, entry.rdtype))
        wanted.append(entry)
    return wanted


def plan(engine, wanted):
    """Read what the primary serves now; returns (changes, problems). Nothing is written."""
    reading = engine.read(
        locate=[w.name for w in wanted if w.zone is None],
        zones=[w.zone for w in wanted if w.zone is not None],
        rrsets=[(w.name, w.rdtype) for w in wanted],
    )
    if reading.problems:
        return [], reading.problems
    changes = []
    for entry in wanted:
        before = reading.state(entry.name, entry.rdtype)
        zone = entry.zone or reading.zone_of[entry.name]
        changes.append(
            Change(zone, entry.name, entry.rdtype, before, entry.after(before), entry.expect)
        )
    return changes, expectation_problems(changes)


def run(params, check_mode, want_diff):
    """(result, failure message or None); raises InputError before any network I/O."""
    settings = settings_from_params(params)
    wanted = parse_rrsets(params.get("rrsets"))
    engine = Engine(settings)
    try:
        changes, problems = plan(engine, wanted)
        if problems:
            result = {"changed": False, "problems": problems}
            if changes:
                result["rrsets"] = [c.as_dict() for c in changes]
            return result, plan_failure(problems)
        return engine.finish(changes, check_mode, want_diff)
    finally:
        engine.close()
