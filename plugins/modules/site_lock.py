#!/usr/bin/python
# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: site_lock
short_description: Take, renew, release or break a site's lock, a lease held in a DNS TXT record
version_added: 0.1.0
description:
  - "The site lock makes sure that only one continuity run (failover, failback, drill) acts on
    a site at a time, whichever control node it runs on. It is a B(lease): a TXT record at
    O(name) saying who holds it (owner, run id, host) and until when
    (C(v=1 owner=alice run=20260101T120000Z-42 host=ctl1 expires=1767268920))."
  - V(take) writes our lease when the record is absent, expired, or already ours; when
    another run holds an unexpired lease the task fails naming the holder and its expiry,
    and nothing is changed.
  - V(renew) moves the expiry of our own lease O(lease) seconds ahead; it fails when the lease
    is no longer ours (it expired and another run took it over, or it was broken).
  - V(release) deletes the record only when it holds our lease; a lease that is not ours is
    left as it is (the task succeeds and says so).
  - V(break) deletes the lease of the run named in O(run_id), for an operator who knows that
    run is dead and does not want to wait for its expiry; a lease of any other run is left
    alone and the task fails.
  - V(read) only reports the lock.
  - Every write is one RFC 2136 UPDATE whose prerequisite is the record exactly as read (or
    its absence), so of two runs that read the same record only one can write it; the other
    fails and names the winner.
  - Expiry times come from the control node's clock; control nodes of one site need clocks
    within a few seconds of each other (TSIG already needs them within five minutes).
author:
  - continuity.mail developers (@continuity-mail)
extends_documentation_fragment:
  - continuity.mail._dns_connection
attributes:
  check_mode:
    support: full
    description: Reads the record with a query and reports what would be written; sends no UPDATE.
  diff_mode:
    support: full
    description: Shows the TXT record as zone-file lines before and after.
options:
  name:
    description:
      - Owner name of the lock's TXT record, for example V(_continuity-lock.example.test). Its
        zone is found by an SOA query to O(server).
    type: str
    required: true
  action:
    description:
      - What to do with the lock (see the description).
    type: str
    choices:
      - take
      - renew
      - release
      - break
      - read
    default: take
  run_id:
    description:
      - The run that takes, renews or releases the lease; for V(break), the run whose lease is
        broken. One word (no spaces, C(=), quotes or backslashes).
      - Required unless O(action=read).
    type: str
  owner:
    description:
      - Who runs the flow, written into the lease (one word). Default is the user running
        the module.
    type: str
  host:
    description:
      - The control node, written into the lease (one word). Default is this host's short name.
    type: str
  lease:
    description:
      - Seconds the lease lasts from now, for V(take) and V(renew). A run that dies is taken
        over this long after its last renewal; a live run renews before each step.
    type: int
    default: 120
  ttl:
    description:
      - TTL of the TXT record. Flows read the lock from O(server) directly, so caches matter
        little.
    type: int
    default: 30
seealso:
  - module: continuity.mail.site_state
  - module: continuity.mail.dns_rrsets
"""

EXAMPLES = r"""
- name: Take the site lock (fails, naming the holder, while another run holds it)
  continuity.mail.site_lock:
    server: "{{ continuity_dns.server }}"
    key_name: "{{ continuity_dns.key_name }}"
    key_secret: "{{ continuity_dns.key_secret }}"
    name: _continuity-lock.example.test
    run_id: "{{ continuity_run_id }}"
    lease: 120
  register: lock

- name: Renew it between steps
  continuity.mail.site_lock:
    server: "{{ continuity_dns.server }}"
    key_name: "{{ continuity_dns.key_name }}"
    key_secret: "{{ continuity_dns.key_secret }}"
    name: _continuity-lock.example.test
    action: renew
    run_id: "{{ continuity_run_id }}"

- name: Release it (only if it is still ours)
  continuity.mail.site_lock:
    server: "{{ continuity_dns.server }}"
    key_name: "{{ continuity_dns.key_name }}"
    key_secret: "{{ continuity_dns.key_secret }}"
    name: _continuity-lock.example.test
    action: release
    run_id: "{{ continuity_run_id }}"

- name: An operator breaks the lease of a run known to be dead
  continuity.mail.site_lock:
    server: 172.30.53.10
    key_name: continuity-lab
    key_secret: "{{ continuity_dns.key_secret }}"
    name: _continuity-lock.example.test
    action: break
    run_id: 20260101T120000Z-42
"""

RETURN = r"""
action:
  description: The action done.
  returned: always
  type: str
  sample: take
name:
  description: The lock's record name, absolute.
  returned: when the record could be read
  type: str
  sample: _continuity-lock.example.test.
held:
  description: Whether an unexpired lease is in the record after the task (ours or not).
  returned: when the record could be read
  type: bool
lock:
  description:
    - The lease in the record after the task (planned, in check mode); null when there is none.
    - When the task failed because another run holds the lock, that run's lease.
  returned: when the record could be read
  type: dict
  contains:
    owner:
      description: Who runs the holding flow.
      type: str
      sample: alice
    run_id:
      description: The holding run.
      type: str
      sample: 20260101T120000Z-42
    host:
      description: The control node of the holding run.
      type: str
      sample: ctl1
    expires:
      description: Expiry, seconds since the epoch (null for a record of unknown format,
        which never expires by itself).
      type: int
      sample: 1767268920
    expires_at:
      description: Expiry as ISO 8601 UTC.
      type: str
      sample: "2026-01-01T12:02:00Z"
    expired:
      description: Whether the lease has expired.
      type: bool
    seconds_left:
      description: Seconds until it expires (negative once expired).
      type: int
      sample: 118
    record:
      description: The TXT string as stored.
      type: str
      sample: v=1 owner=alice run=20260101T120000Z-42 host=ctl1 expires=1767268920
previous:
  description: The lease as read before the task, same keys as RV(lock); null when there was none.
  returned: when the record could be read
  type: dict
msg:
  description: What happened, naming the holder and expiry when another run holds the lock.
  returned: always
  type: str
  sample: "lock taken until 2026-01-01T12:02:00Z"
diff:
  description: The TXT record as zone-file lines before and after.
  returned: in diff mode, when the record changes
  type: dict
"""


from ansible_collections.continuity.mail.plugins.module_utils._dns.entrypoint import run_module
from ansible_collections.continuity.mail.plugins.module_utils._site.lock import lock_spec, run


def main():
    run_module(lock_spec(), run, wait=False)


if __name__ == "__main__":
    main()
