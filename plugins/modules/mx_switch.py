#!/usr/bin/python
# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: mx_switch
short_description: Make one mail exchange preferred for many domains, and move client names with it
version_added: 0.1.0
description:
  - For each domain in O(domains), rewrites the MX RRset so that O(active) is the most
    preferred exchange, followed by O(standby) (by default the other exchanges of the
    current set, in their current order), followed by any other current exchange. Nothing
    is dropped. Preferences are O(preference_start), then O(preference_step) apart.
  - Optionally points client-access names (O(client_names), for example V(mail)) at
    O(client_target) in the same UPDATE as the zone's MX change, as a CNAME or as copies
    of the target's A/AAAA records.
  - Built on the engine of M(continuity.mail.dns_rrsets); everything said there holds
    here too. All zones are read first and any problem (zone not found, server not
    authoritative, O(expect_active) not met, wrong TSIG key) fails the task before any
    UPDATE; each zone then gets one UPDATE guarded by prerequisites, so a concurrent edit
    fails that zone with C(concurrent change) instead of being overwritten.
  - Running it again with the same options changes nothing and sends no UPDATE.
  - "A name without any dot (V(mx2), V(mail)) in O(active), O(standby), O(expect_active),
    O(client_names) or O(client_target) is taken inside each domain: V(mx2) means
    V(mx2.example.test.) for V(example.test) and V(mx2.example.org.) for V(example.org).
    Names with a dot are absolute, with or without the trailing dot."
author:
  - continuity.mail developers (@continuity-mail)
extends_documentation_fragment:
  - continuity.mail._dns_connection
  - continuity.mail._dns_connection.wait
attributes:
  check_mode:
    support: full
    description: Reads with queries only and reports the MX sets and client names it would set.
  diff_mode:
    support: full
    description: Shows changed RRsets as zone-file lines before and after.
options:
  domains:
    description:
      - Mail domains whose MX RRset is switched. Each is found in its zone by an SOA query.
    type: list
    elements: str
    required: true
  active:
    description:
      - The exchange that becomes the most preferred (V(mx2) or V(mx2.example.test)).
    type: str
    required: true
  standby:
    description:
      - Exchanges that follow O(active), in this order. Current exchanges not listed keep
        their place after them.
      - Default is the other exchanges of the current set, in their current order.
    type: list
    elements: str
  preference_start:
    description:
      - Preference of O(active).
    type: int
    default: 10
  preference_step:
    description:
      - Distance between consecutive preferences (1 to 65535).
    type: int
    default: 10
  ttl:
    description:
      - TTL of the MX RRsets and client names written. When omitted the current TTL is kept
        (3600 for RRsets that do not exist yet).
    type: int
  expect_active:
    description:
      - The exchange that must be the most preferred now. When it is not, in any domain,
        nothing is changed and the task fails with C(precondition failed).
      - A run that already switched fails this check too; leave it out to make re-runs
        succeed.
    type: str
  client_names:
    description:
      - Names users' clients connect to (V(mail) or V(mail.example.test)) that must follow
        the active server.
    type: list
    elements: str
    default: []
  client_target:
    description:
      - Where O(client_names) point. Default is O(active).
    type: str
  client_type:
    description:
      - V(cname) makes each client name a CNAME to O(client_target).
      - V(address) copies the A and AAAA records of O(client_target) to it (for names at a
        zone apex, or where CNAMEs are not wanted); a CNAME there is removed.
      - V(auto) keeps the kind the name has now (CNAME when it has none).
    type: str
    choices:
      - auto
      - cname
      - address
    default: auto
seealso:
  - module: continuity.mail.dns_rrsets
"""

EXAMPLES = r"""
- name: Fail over every domain to the secondary, with the client name, and wait for all servers
  continuity.mail.mx_switch:
    server: "{{ continuity_dns.server }}"
    key_name: "{{ continuity_dns.key_name }}"
    key_secret: "{{ continuity_dns.key_secret }}"
    domains: "{{ continuity_domains }}"
    active: mx2
    expect_active: mx1
    client_names:
      - mail
    ttl: "{{ continuity_mx_ttl }}"
    wait: true
    wait_servers: "{{ continuity_dns.servers }}"
  register: switch

- name: Show what changed
  ansible.builtin.debug:
    msg: "{{ switch.domains | map(attribute='after') | list }}"

- name: Fail back to the primary (check mode shows the plan without sending any update)
  continuity.mail.mx_switch:
    server: 172.30.53.10
    key_name: continuity-lab
    key_secret: "{{ continuity_dns.key_secret }}"
    domains:
      - example.test
      - example.org
    active: mx1
    standby:
      - mx2
    client_names:
      - mail.example.test
      - mail.example.org
  check_mode: true
"""

RETURN = r"""
domains:
  description: One entry per domain with its MX set before and after, most preferred first.
  returned: when the zones could be read
  type: list
  elements: dict
  contains:
    domain:
      description: The domain.
      type: str
      sample: example.test.
    zone:
      description: The zone that holds it.
      type: str
      sample: example.test.
    ttl:
      description: TTL of the MX RRset after the run.
      type: int
      sample: 60
    before:
      description: MX records as read.
      type: list
      elements: str
      sample: ["10 mx1.example.test.", "20 mx2.example.test."]
    after:
      description: MX records after the run (planned, in check mode).
      type: list
      elements: str
      sample: ["10 mx2.example.test.", "20 mx1.example.test."]
    changed:
      description: Whether the MX set differs.
      type: bool
clients:
  description: One entry per client name, records as C(TYPE value).
  returned: when the zones could be read
  type: list
  elements: dict
  sample: [{name: mail.example.test., zone: example.test., before: ["CNAME mx1.example.test."],
            after: ["CNAME mx2.example.test."], changed: true}]
zones:
  description: Per zone status V(unchanged), V(would_change), V(applied) or V(failed), with the
    error.
  returned: when the zones could be read
  type: list
  elements: dict
  sample: [{zone: example.test., status: applied, error: null}]
servers:
  description:
    - With O(wait), one entry per server waited for (C(server), C(names), C(in_sync),
      C(serial) per zone, C(lagging), C(error)), as in M(continuity.mail.dns_rrsets).
  returned: always (empty without O(wait))
  type: list
  elements: dict
  sample: [{server: 172.30.53.11, names: [ns2.example.test.], in_sync: true,
            serial: {example.test.: 8}, lagging: [], error: null}]
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
  description: Seconds spent reading, applying and waiting.
  returned: when the zones could be read
  type: dict
  sample: {read: 0.12, apply: 0.35, wait: 0.3}
diff:
  description: Changed RRsets as zone-file lines.
  returned: in diff mode
  type: dict
"""

from ansible_collections.continuity.mail.plugins.module_utils._dns.entrypoint import run_module
from ansible_collections.continuity.mail.plugins.module_utils._dns.mx import run, switch_spec


def main():
    run_module(switch_spec(), run)


if __name__ == "__main__":
    main()
