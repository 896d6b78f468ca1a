#!/usr/bin/python
# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: site_state
short_description: Read a mail site's state from every authoritative DNS server; record it in DNS
version_added: 0.1.0
description:
  - Reads, from B(every) authoritative server in O(servers) separately, the MX set of each of
    O(domains) and where each of O(client_names) points, and says which side each is on
    (O(primary) or O(secondary)), whether the servers disagree, and which servers could not
    be read. An unreadable server is named and never counts for either side, so one server
    down never makes a normal site look failed over.
  - Reads the site's state record (a TXT record at O(name) holding which server is active,
    since when, by which run and why) and, with O(lock_name), the site lock
    (M(continuity.mail.site_lock)), from O(server).
  - With O(write), writes the state record in one RFC 2136 UPDATE guarded by the record as
    read. The state lives in DNS, beside the lock, so every control node (an AWX job, a
    second admin's checkout) sees the same site.
author:
  - continuity.mail developers (@continuity-mail)
extends_documentation_fragment:
  - continuity.mail._dns_connection
attributes:
  check_mode:
    support: full
    description: Reads with queries only; with O(write), reports the record it would write.
  diff_mode:
    support: full
    description: Shows the state record as zone-file lines before and after.
options:
  name:
    description:
      - Owner name of the state's TXT record, for example V(_continuity-state.example.test).
    type: str
    required: true
  lock_name:
    description:
      - Owner name of the site lock's TXT record; when given, the lock is read and returned.
    type: str
  servers:
    description:
      - Every authoritative server to read the MX sets and client names from (C(host) or
        C(host:port)). O(server) is always read too.
    type: list
    elements: str
    default: []
  domains:
    description:
      - The mail domains. Without domains only the state record (and the lock) are read.
    type: list
    elements: str
    default: []
  client_names:
    description:
      - Names users' clients connect to (V(mail) is taken inside each domain), as in
        M(continuity.mail.mx_switch).
    type: list
    elements: str
    default: []
  primary:
    description:
      - The primary's MX exchange name (V(mx1), taken inside each domain, or a full name).
    type: str
  secondary:
    description:
      - The secondary's MX exchange name, same form as O(primary).
    type: str
  write:
    description:
      - The state to record. Omit to only read.
    type: dict
    suboptions:
      state:
        description: The site's state.
        type: str
        required: true
        choices:
          - normal
          - failed_over
      active:
        description: The server that receives the site's mail.
        type: str
        required: true
      since:
        description: Since when (seconds since the epoch); default now.
        type: float
      run_id:
        description: The run that brought the site into this state.
        type: str
        required: true
      reason:
        description: Why (kept to 400 characters).
        type: str
        default: ""
      primary:
        description: The site's primary server, for the record.
        type: str
  ttl:
    description:
      - TTL of the state record.
    type: int
    default: 60
seealso:
  - module: continuity.mail.site_lock
  - module: continuity.mail.mx_switch
"""

EXAMPLES = r"""
- name: Read the site from every authoritative server
  continuity.mail.site_state:
    server: "{{ continuity_dns.server }}"
    key_name: "{{ continuity_dns.key_name }}"
    key_secret: "{{ continuity_dns.key_secret }}"
    servers: "{{ continuity_dns.servers }}"
    name: _continuity-state.example.test
    lock_name: _continuity-lock.example.test
    domains: "{{ continuity_domains }}"
    client_names: "{{ continuity_client_names }}"
    primary: mx1
    secondary: mx2
  register: site

- name: Say where mail goes
  ansible.builtin.debug:
    msg: "{{ site.active }}; unreadable: {{ site.unreadable | map(attribute='server') | list }}"

- name: Record that the site is failed over
  continuity.mail.site_state:
    server: "{{ continuity_dns.server }}"
    key_name: "{{ continuity_dns.key_name }}"
    key_secret: "{{ continuity_dns.key_secret }}"
    name: _continuity-state.example.test
    write:
      state: failed_over
      active: mx2
      since: "{{ failover_started_at }}"
      run_id: "{{ continuity_run_id }}"
      reason: the primary is down by quorum
"""

RETURN = r"""
servers:
  description:
    - One entry per server read (C(server), C(readable), C(error)); a readable one has
      C(domains) (per domain C(mx), C(preferred) exchanges and C(side)) and C(clients) (per
      name C(cname), C(addresses) and C(side)). A side is V(primary), V(secondary), V(other)
      or V(none).
  returned: when O(domains) is given
  type: list
  elements: dict
  sample: [{server: 172.30.53.10, readable: true, error: null,
            domains: {example.test.: {mx: ["10 mx1.example.test.", "20 mx2.example.test."],
                      preferred: [mx1.example.test.], side: primary}},
            clients: {mail.example.test.: {cname: mx1.example.test., addresses: [],
                      side: primary}}}]
active:
  description:
    - V(primary) or V(secondary) when every readable server puts every domain and client
      name on that side; V(split) when they are not all on one side (a half-done switch,
      or servers that disagree); V(unknown) when no server could be read.
  returned: when O(domains) is given
  type: str
  sample: primary
consistent:
  description: Every server was read and all serve the same records.
  returned: when O(domains) is given
  type: bool
unreadable:
  description: The servers that could not be read, with the error.
  returned: when O(domains) is given
  type: list
  elements: dict
  sample: [{server: 172.30.53.11,
            error: "example.test. MX: 172.30.53.11: no TCP connection within 10s (TIMEOUT)"}]
disagreements:
  description: One sentence per domain or client name the readable servers serve differently.
  returned: when O(domains) is given
  type: list
  elements: str
preferred:
  description: Per domain, the most preferred exchange if all readable servers agree, else null.
  returned: when O(domains) is given
  type: dict
  sample: {example.test.: mx1.example.test.}
sides:
  description: The sides seen across readable servers, domains and client names.
  returned: when O(domains) is given
  type: list
  elements: str
  sample: [primary]
record:
  description: The state record's name, absolute.
  returned: when it could be read
  type: str
  sample: _continuity-state.example.test.
state:
  description:
    - The state record (after the write, with O(write)); null when there is none.
  returned: always
  type: dict
  sample: {state: failed_over, active: mx2, since: 1767268920, run_id: 20260101T120000Z-42,
           reason: the primary is down by quorum, updated: 1767268990}
previous:
  description: The state record as read before the write.
  returned: with O(write)
  type: dict
lock:
  description: The site lock as M(continuity.mail.site_lock) returns it; null when free.
  returned: with O(lock_name)
  type: dict
lock_message:
  description: The lock in one sentence (free, or held by whom until when).
  returned: with O(lock_name)
  type: str
  sample: "the site lock is held by run 20260101T120000Z-42 (owner alice on host ctl1)
    until 2026-01-01T12:02:00Z (in 85 s)"
diff:
  description: The state record as zone-file lines.
  returned: in diff mode, with O(write), when it changes
  type: dict
"""


from ansible_collections.continuity.mail.plugins.module_utils._dns.entrypoint import run_module
from ansible_collections.continuity.mail.plugins.module_utils._site.sitestate import (
    run,
    state_spec,
)


def main():
    run_module(state_spec(), run, wait=False)


if __name__ == "__main__":
    main()
