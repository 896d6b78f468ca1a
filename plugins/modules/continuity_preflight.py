#!/usr/bin/python
# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r"""
module: continuity_preflight
short_description: Check that each mail domain is ready to fail over to its secondary
version_added: 0.1.0
description:
  - A readiness lint of the customer's own DNS and mail servers, per domain, returning
    findings with a severity (V(error), V(warning), V(info)) and a fix hint.
  - The secondary is in the MX set (and not preferred over the primary); every MX name
    resolves (and is not a CNAME) and answers SMTP with STARTTLS and a certificate that
    covers its name and is not near expiry; when an MTA-STS policy exists (given as text or
    URL, or announced by a C(_mta-sts) TXT record) every MX matches an C(mx:) line; SPF
    lets the secondary's outbound addresses pass; mail the secondary sends as the domain
    passes the domain's DMARC policy (through SPF, or DKIM with the selectors in
    O(dkim_selectors), whose keys must be published); TLSA records (when present) match the
    served certificate; the secondary's recipient list equals the primary's users; the MX
    TTL and the client names' TTLs fit the RTO target; the MX hosts preferred over the
    secondary stay within the 5 addresses senders try.
  - SMTP and TLS are checked by the same probe engine as M(continuity.mail.mail_health).
  - Runs on the control node (DNS through dnspython); read-only.
author:
  - continuity.mail developers (@continuity-mail)
extends_documentation_fragment:
  - continuity.mail._probe_targets.tls
requirements:
  - dnspython >= 2.0
attributes:
  check_mode:
    support: full
    description: Only reads (DNS queries, SMTP probes, HTTPS fetch of MTA-STS policies).
  diff_mode:
    support: none
    description: Nothing changes.
options:
  domains:
    description: The mail domains to check.
    type: list
    elements: str
    required: true
  primary:
    description: Host names or addresses of the primary mail server (to recognise its MX records).
    type: list
    elements: str
    required: true
  secondary:
    description: Host names or addresses of the secondary mail server(s).
    type: list
    elements: str
    required: true
  secondary_outbound:
    description:
      - Addresses the secondary sends mail from, checked against SPF. Defaults to the
        addresses of O(secondary).
    type: list
    elements: str
  dkim_selectors:
    description:
      - Per domain, the DKIM selectors the secondary signs its mail with (a list, or one
        selector as a string). Each must publish a key at C(<selector>._domainkey.<domain>);
        with a usable key, DMARC passes through DKIM even where SPF does not cover the
        secondary.
    type: dict
    default: {}
  nameservers:
    description:
      - Resolvers (IP addresses) to ask. Defaults to the control node's resolvers. They
        must answer for every name involved (MX hosts, C(_mta-sts), SPF includes).
    type: list
    elements: str
  dns_port:
    description: Port of O(nameservers).
    type: int
    default: 53
  rto_target:
    description:
      - Recovery time objective in seconds. MX and client-name TTLs above it are errors.
        Not checked when unset.
    type: int
  client_names:
    description: Names users' clients use (for example V(mail.example.test)); their TTL must fit
      O(rto_target).
    type: list
    elements: str
  mta_sts:
    description:
      - MTA-STS policy per domain, as the policy text or an C(https://) URL to fetch.
      - For domains not listed, a policy announced by a C(_mta-sts.<domain>) TXT record is
        fetched from C(https://mta-sts.<domain>/.well-known/mta-sts.txt) (see O(mta_sts_fetch)).
    type: dict
    default: {}
  mta_sts_fetch:
    description: Fetch announced MTA-STS policies over HTTPS.
    type: bool
    default: true
  primary_users:
    description:
      - The primary's mail users (addresses). With O(secondary_recipients), each domain's
        lists are compared.
    type: list
    elements: str
  secondary_recipients:
    description: The addresses the secondary accepts mail for (its recipient map).
    type: list
    elements: str
  probe_smtp:
    description: Connect to every MX address (SMTP, STARTTLS, certificate checks, TLSA comparison).
    type: bool
    default: true
  smtp_port:
    description: SMTP port of the MX hosts.
    type: int
    default: 25
  mx_address_limit:
    description:
      - How many MX addresses senders try (Postfix C(smtp_mx_address_limit), 5 by default).
        More addresses ahead of the secondary is an error; exactly this many a warning.
    type: int
    default: 5
  fail_on:
    description:
      - Fail the task when a finding of this severity (or worse) exists; V(never) only reports.
    type: str
    choices: [error, warning, never]
    default: error
notes:
  - Python's ssl module exposes only the server's own certificate, so TLSA trust-anchor
    records (usage 0 and 2) are reported as not verifiable rather than checked.
  - SPF evaluation covers ip4, ip6, a, mx, include, redirect and all; records that need
    macros, C(exists) or C(ptr) are reported as not evaluated.
  - The DMARC policy is the domain's own C(_dmarc) record or, failing that, the nearest
    parent's (its C(sp=)); parents are walked down to two labels, without a public-suffix
    list. Users' mail keeps its envelope sender in the From domain, so SPF counts as aligned
    whenever it passes.
seealso:
  - module: continuity.mail.mail_health
"""

EXAMPLES = r"""
- name: Check the lab site before a drill
  continuity.mail.continuity_preflight:
    domains: "{{ continuity_domains }}"
    primary: "{{ groups['primary'] | map('extract', hostvars, 'mailserver_hostname') }}"
    secondary: "{{ groups['secondary'] | map('extract', hostvars, 'mailserver_hostname') }}"
    nameservers: "{{ continuity_dns.servers }}"
    rto_target: "{{ continuity_rto_target }}"
    client_names: "{{ continuity_client_names }}"
    primary_users: "{{ continuity_mail_users | map(attribute='name') }}"
    secondary_recipients: "{{ secondary_recipient_list }}"
    ca_path: "{{ lab_ca_cert }}"
  register: preflight

- name: Check a policy text before publishing it, reporting only
  continuity.mail.continuity_preflight:
    domains: [example.com]
    primary: [mx1.example.com]
    secondary: [mx2.example.com]
    mta_sts:
      example.com: |
        version: STSv1
        mode: enforce
        mx: mx1.example.com
        mx: mx2.example.com
        max_age: 604800
    fail_on: never
"""

RETURN = r"""
passed:
  description: True when there is no finding of severity V(error).
  returned: always
  type: bool
summary:
  description: Number of findings per severity.
  returned: always
  type: dict
  sample: {error: 1, warning: 0, info: 2}
findings:
  description: What is wrong or worth knowing, with how to fix it.
  returned: always
  type: list
  elements: dict
  contains:
    domain:
      description: The domain (V(*) for a client name outside every domain).
      type: str
    check:
      description:
        - Which check - V(dns), V(mx_present), V(mx_resolves), V(secondary_in_mx),
          V(secondary_preference), V(mx_address_limit), V(mx_ttl), V(mx_smtp), V(tlsa),
          V(mta_sts), V(spf), V(dmarc), V(dkim), V(recipients), V(client_name),
          V(client_name_ttl).
      type: str
    severity:
      description: V(error), V(warning) or V(info).
      type: str
    subject:
      description: The name, address or URL the finding is about.
      type: str
    message:
      description: What was found.
      type: str
      sample: "MX mx2.example.test matches no mx: line of the MTA-STS policy (mx1.example.test)"
    fix:
      description: How to fix it (V(null) for informational findings).
      type: str
checked:
  description: Every check made, with V(pass), V(fail), V(warn) or V(info), so passes are visible
    too.
  returned: always
  type: list
  elements: dict
  sample: [{domain: example.test, check: spf, subject: 172.30.53.21, result: pass}]
mx:
  description: Per domain, the MX records with their addresses and the role recognised (primary,
    secondary, other).
  returned: always
  type: dict
probes:
  description: The SMTP probe results per MX address, as returned by M(continuity.mail.mail_health).
  returned: when O(probe_smtp=true)
  type: list
  elements: dict
"""

import socket

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.continuity.mail.plugins.module_utils._preflight import checks
from ansible_collections.continuity.mail.plugins.module_utils._preflight.dns import (
    HAS_DNSPYTHON,
    Lookup,
)
from ansible_collections.continuity.mail.plugins.module_utils._probe.targets import (
    PROBE_OPTIONS_SPEC,
)

_RANK = {"error": 0, "warning": 1, "info": 2}


def _selectors(given, domains):
    """dkim_selectors as {domain: [selector, ...]}, or an error message."""
    selectors = {}
    for domain, value in given.items():
        name = domain.lower().rstrip(".")
        if name not in domains:
            return None, "dkim_selectors names a domain that is not in domains: %s" % domain
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(
            isinstance(s, str) and s.strip(".") and not any(c.isspace() for c in s) for s in value
        ):
            return (
                None,
                "dkim_selectors[%s] must be a selector or a list of them (names "
                "such as s2026), got %r" % (domain, value),
            )
        selectors[name] = [s.strip(".") for s in value]
    return selectors, None


def main():
    argument_spec = dict(
        domains=dict(type="list", elements="str", required=True),
        primary=dict(type="list", elements="str", required=True),
        secondary=dict(type="list", elements="str", required=True),
        secondary_outbound=dict(type="list", elements="str"),
        nameservers=dict(type="list", elements="str"),
        dns_port=dict(type="int", default=53),
        rto_target=dict(type="int"),
        client_names=dict(type="list", elements="str"),
        mta_sts=dict(type="dict", default={}),
        mta_sts_fetch=dict(type="bool", default=True),
        dkim_selectors=dict(type="dict", default={}),
        primary_users=dict(type="list", elements="str"),
        secondary_recipients=dict(type="list", elements="str"),
        probe_smtp=dict(type="bool", default=True),
        smtp_port=dict(type="int", default=25),
        mx_address_limit=dict(type="int", default=5),
        fail_on=dict(type="str", default="error", choices=["error", "warning", "never"]),
    )
    argument_spec.update(PROBE_OPTIONS_SPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not HAS_DNSPYTHON:
        module.fail_json(msg=missing_required_lib("dnspython"))
    params = dict(module.params)
    params["domains"] = [d.lower().rstrip(".") for d in params["domains"]]
    if not params["domains"]:
        module.fail_json(msg="domains must name at least one domain")
    unknown = sorted(set(params["mta_sts"]) - set(params["domains"]))
    if unknown:
        module.fail_json(
            msg="mta_sts names domains that are not in domains: %s" % ", ".join(unknown)
        )
    params["dkim_selectors"], problem = _selectors(params["dkim_selectors"], params["domains"])
    if problem:
        module.fail_json(msg=problem)
    if params["rto_target"] is not None and params["rto_target"] < 1:
        module.fail_json(msg="rto_target must be a positive number of seconds")
    if params["timeout"] <= 0:
        module.fail_json(msg="timeout must be a positive number of seconds")
    params["helo_name"] = params["helo_name"] or socket.gethostname() or "localhost"

    report, tables, probes = checks.run(
        params, Lookup(params["nameservers"], params["dns_port"], params["timeout"])
    )
    summary = report.summary()
    result = dict(
        changed=False,
        passed=summary["error"] == 0,
        summary=summary,
        findings=report.findings,
        checked=report.checked,
        mx=tables,
    )
    if params["probe_smtp"]:
        result["probes"] = probes
    if params["fail_on"] != "never":
        worst = [f for f in report.findings if _RANK[f["severity"]] <= _RANK[params["fail_on"]]]
        if worst:
            module.fail_json(
                msg="%d finding(s) at %s level or worse: %s"
                % (
                    len(worst),
                    params["fail_on"],
                    "; ".join(
                        "%s %s: %s" % (f["domain"], f["check"], f["message"]) for f in worst[:10]
                    ),
                ),
                **result,
            )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
