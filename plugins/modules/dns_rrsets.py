#!/usr/bin/python
# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: dns_rrsets
short_description: Set many DNS RRsets across many zones with atomic, guarded RFC 2136 updates
version_added: 0.1.0
description:
  - Reads every listed RRset from the primary first, then sends one UPDATE per zone that
    replaces all of that zone's changed RRsets at once.
  - Each UPDATE carries prerequisites for the RRsets exactly as they were read, so an edit
    made by someone else in between fails that zone loudly (C(concurrent change)) instead of
    being overwritten. The result says which zones were applied and which were not.
  - Compares semantically (name case, trailing dots and value order do not matter; the TTL
    only when O(rrsets[].ttl) is given), so running the same task twice changes nothing
    and sends no UPDATE.
  - Any problem found while reading (zone not found, server not authoritative, an
    O(rrsets[].expect) not met, a TSIG key the server rejects) fails the task before any
    UPDATE is sent, naming the zones.
  - Check mode sends queries only, never an UPDATE.
  - With V(expect=[]) an RRset is created only if it does not exist, which makes a lock
    that only one of several control nodes can take.
author:
  - continuity.mail developers (@continuity-mail)
extends_documentation_fragment:
  - continuity.mail._dns_connection
  - continuity.mail._dns_connection.wait
attributes:
  check_mode:
    support: full
    description: Reads with queries only and reports what would change.
  diff_mode:
    support: full
    description: Shows changed RRsets as zone-file lines before and after.
options:
  rrsets:
    description:
      - The RRsets to manage. A name and type may appear only once.
    type: list
    elements: dict
    required: true
    suboptions:
      zone:
        description:
          - The zone that holds O(rrsets[].name). When omitted it is found by an SOA query
            to O(server).
        type: str
      name:
        description:
          - Owner name, absolute (V(mail.example.test) and V(mail.example.test.) are the
            same). A leading V(*) label makes a wildcard.
        type: str
        required: true
      type:
        description:
          - Record type, for example V(MX), V(A), V(AAAA), V(CNAME), V(TXT), V(SRV), V(NS).
          - SOA and DNSSEC types are managed by the server and refused.
        type: str
        required: true
      ttl:
        description:
          - TTL of the RRset. When omitted the current TTL is kept, and a new RRset gets
            3600.
        type: int
      values:
        description:
          - With O(rrsets[].state=present), the complete set of values (required).
          - With O(rrsets[].state=absent), the values to remove; omit to remove the whole
            RRset.
          - Values are zone-file rdata; names in them are absolute whether or not they end
            with a dot (V(10 mx1.example.test)).
          - A TXT value is one text string taken verbatim (longer than 255 octets is split)
            unless it starts with a double quote; then it is zone-file text.
        type: list
        elements: str
      state:
        description:
          - Whether the values should be present or absent.
        type: str
        choices:
          - present
          - absent
        default: present
      expect:
        description:
          - The values the RRset must have right now; V([]) means it must not exist.
          - When the RRset differs, nothing is changed in any zone and the task fails with
            C(precondition failed). When the zone is updated, its UPDATE also carries this as a
            prerequisite, so a change made after the read fails with C(concurrent change).
        type: list
        elements: str
seealso:
  - module: continuity.mail.mx_switch
  - name: RFC 2136 - Dynamic Updates in the DNS
    description: Prerequisites and update semantics.
    link: https://www.rfc-editor.org/rfc/rfc2136
"""

EXAMPLES = r"""
- name: Point both mail domains at the secondary and wait for every server
  continuity.mail.dns_rrsets:
    server: 172.30.53.10
    key_name: continuity-lab
    key_secret: "{{ continuity_dns.key_secret }}"
    rrsets:
      - name: example.test
        type: MX
        values:
          - 10 mx2.example.test
          - 20 mx1.example.test
      - name: mail.example.test
        type: CNAME
        ttl: 60
        values:
          - mx2.example.test
    wait: true
    wait_servers:
      - 172.30.53.11

- name: Take the failover lock (fails if another control node holds it)
  continuity.mail.dns_rrsets:
    server: "{{ continuity_dns.server }}"
    key_name: "{{ continuity_dns.key_name }}"
    key_secret: "{{ continuity_dns.key_secret }}"
    rrsets:
      - name: _continuity-lock.example.test
        type: TXT
        ttl: 60
        values:
          - "{{ inventory_hostname }} {{ now(utc=true).isoformat() }}"
        expect: []
  register: lock

- name: Release the lock, only if it is still ours
  continuity.mail.dns_rrsets:
    server: "{{ continuity_dns.server }}"
    key_name: "{{ continuity_dns.key_name }}"
    key_secret: "{{ continuity_dns.key_secret }}"
    rrsets:
      - name: _continuity-lock.example.test
        type: TXT
        state: absent
        expect: "{{ lock.rrsets[0].after['values'] }}"
"""

RETURN = r"""
rrsets:
  description:
    - Every listed RRset, before and after (after is the planned state in check mode).
    - In Jinja write C(before['values']); C(before.values) is the dictionary's own method.
  returned: when the zones could be read
  type: list
  elements: dict
  contains:
    zone:
      description: The zone of the RRset.
      type: str
      sample: example.test.
    name:
      description: Owner name, absolute.
      type: str
      sample: example.test.
    type:
      description: Record type.
      type: str
      sample: MX
    before:
      description: The RRset as read; O(rrsets[].ttl) is null and values empty when it did not
        exist.
      type: dict
      sample: {ttl: 60, values: ["10 mx1.example.test.", "20 mx2.example.test."]}
    after:
      description: The RRset as it is (or would be) after the run.
      type: dict
      sample: {ttl: 60, values: ["10 mx2.example.test.", "20 mx1.example.test."]}
    changed:
      description: Whether this RRset differs.
      type: bool
zones:
  description:
    - One entry per zone with its status V(unchanged), V(would_change) (check mode),
      V(applied) or V(failed), and the error of a failed zone.
  returned: when the zones could be read
  type: list
  elements: dict
  sample: [{zone: example.test., status: applied, error: null}]
servers:
  description:
    - With O(wait), one entry per server waited for. RV(servers[].serial) maps each zone to
      the serial last seen; RV(servers[].lagging) lists the zones not in sync with what the
      server serves.
  returned: always (empty without O(wait))
  type: list
  elements: dict
  contains:
    server:
      description: Address, with the port when it is not 53.
      type: str
      sample: 172.30.53.11
    names:
      description: The NS names that resolved to this server.
      type: list
      elements: str
      sample: [ns2.example.test.]
    in_sync:
      description: Whether the server serves the new data for every zone.
      type: bool
    serial:
      description: Zone to SOA serial last seen.
      type: dict
      sample: {example.test.: 7}
    lagging:
      description: Zones not in sync, with the serial and values the server serves.
      type: list
      elements: dict
    error:
      description: The last error talking to the server, if any.
      type: str
problems:
  description: Every problem found while reading, when the task failed before any UPDATE (the
    message shows the first 10).
  returned: on failure before any change
  type: list
  elements: str
  sample:
    - "precondition failed in zone example.test.: _lock.example.test. TXT expected not to exist,
      found ['\"run=1\"']"
timings:
  description: Seconds spent reading, applying and waiting (V(apply) and V(wait) only when reached).
  returned: when the zones could be read
  type: dict
  sample: {read: 0.01, apply: 0.004, wait: 0.2}
diff:
  description: Changed RRsets as zone-file lines.
  returned: in diff mode
  type: dict
  sample:
    before: "example.test. 60 IN MX 10 mx1.example.test.\n"
    after: "example.test. 60 IN MX 10 mx2.example.test.\n"
"""

from ansible_collections.continuity.mail.plugins.module_utils._dns.entrypoint import run_module
from ansible_collections.continuity.mail.plugins.module_utils._dns.rrsets import rrset_spec, run


def main():
    run_module(
        dict(rrsets=dict(type="list", elements="dict", required=True, options=rrset_spec())), run
    )


if __name__ == "__main__":
    main()
