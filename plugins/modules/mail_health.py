#!/usr/bin/python
# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r"""
module: mail_health
short_description: Probe SMTP, submission and IMAP endpoints concurrently, phase by phase
version_added: 0.1.0
description:
  - Probes many mail endpoints at once on one asyncio event loop with bounded concurrency,
    one connection per target and attempt, and times every phase - connect, banner,
    capabilities (EHLO/CAPABILITY), TLS, auth (SMTP AUTH or IMAP login) and select.
  - Checks what a sender or a mail user would meet - the banner, the capabilities, STARTTLS
    or implicit TLS with the certificate's chain, name and days left, SMTP AUTH on
    submission, and an IMAP login with a read-only SELECT of a canary mailbox.
  - Every target ends with one RV(targets[].status). Retries follow rise/fall hysteresis
    (O(attempts), O(rise)).
  - Read-only. Uses only the Python standard library, so it runs on any probe vantage point
    with a bare python3; run it from several vantage points with C(delegate_to) and combine
    the results with the P(continuity.mail.quorum#filter) filter.
  - When certificate verification refuses a handshake, one more connection without
    verification reads the certificate so the result can say what the server presents.
author:
  - continuity.mail developers (@continuity-mail)
extends_documentation_fragment:
  - continuity.mail._probe_targets
  - continuity.mail._probe_targets.tls
attributes:
  check_mode:
    support: full
    description: The module only reads; it behaves the same in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
options:
  attempts:
    description:
      - Fall - consecutive failed attempts before a target presumed healthy is reported
        unhealthy. One successful attempt ends probing.
    type: int
    default: 1
  rise:
    description:
      - Rise - consecutive successful attempts before a target presumed unhealthy (see
        O(initial_state)) is reported healthy. One failed attempt ends probing.
    type: int
    default: 1
  interval:
    description:
      - Seconds between attempts at the same target.
    type: float
    default: 1
  concurrency:
    description:
      - Most connections open at the same time.
    type: int
    default: 100
  initial_state:
    description:
      - What targets are presumed to be before this run. Pass V(unhealthy) when asking
        whether a failed server has recovered (for example before a failback) so that it
        must pass O(rise) consecutive attempts.
    type: str
    choices: [healthy, unhealthy]
    default: healthy
  fail_on_unhealthy:
    description:
      - Fail the task when any target is unhealthy (the results are still returned).
    type: bool
    default: false
  vantage_point:
    description:
      - Name of the place this probe runs from, copied into RV(vantage_point) for the
        quorum filter. Defaults to the host name of the machine that runs the module.
    type: str
notes:
  - RV(targets[].status=cert_expiring) is a warning; such a target still counts as healthy.
  - Connection failures other than a timeout (connection refused, no route to host, a name
    that does not resolve) are reported as RV(targets[].status=refused) with the reason in
    RV(targets[].error).
seealso:
  - plugin: continuity.mail.quorum
    plugin_type: filter
  - module: continuity.mail.continuity_preflight
"""

EXAMPLES = r"""
- name: Probe the primary's SMTP, submission and IMAP (as the canary user)
  continuity.mail.mail_health:
    targets:
      - name: mx1 smtp
        host: 172.30.53.20
        server_name: mx1.example.test
      - name: mx1 submission
        host: 172.30.53.20
        protocol: submission
        server_name: mx1.example.test
      - name: mx1 imap
        host: 172.30.53.20
        protocol: imap
        server_name: mx1.example.test
        user: canary@example.test
        password: "{{ canary_password }}"
    attempts: 3
    interval: 2
  register: health

- name: Probe from every vantage point and decide by quorum
  continuity.mail.mail_health:
    targets: "{{ health_targets }}"
  delegate_to: "{{ item }}"
  loop: "{{ groups['probes'] }}"
  register: health_by_probe

- name: Fail over only when most vantage points see the primary down
  ansible.builtin.debug:
    msg: "mx1 is down by quorum"
  when: (health_by_probe.results | continuity.mail.quorum).targets['mx1 smtp'].down
"""

RETURN = r"""
healthy:
  description: Whether every target is healthy.
  returned: always
  type: bool
vantage_point:
  description: Where the probes ran from (O(vantage_point)).
  returned: always
  type: str
  sample: sender
elapsed_ms:
  description: Wall-clock time of the whole run, in milliseconds.
  returned: always
  type: float
summary:
  description: Counts over all targets.
  returned: always
  type: dict
  contains:
    total:
      description: Number of targets.
      type: int
    healthy:
      description: Healthy targets.
      type: int
    unhealthy:
      description: Unhealthy targets.
      type: int
    by_status:
      description: Number of targets per status (statuses with none are left out).
      type: dict
      sample: {ok: 5, timeout: 1}
targets:
  description: One result per target, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: O(targets[].name).
      type: str
    host:
      description: O(targets[].host).
      type: str
    port:
      description: The port probed.
      type: int
    protocol:
      description: O(targets[].protocol).
      type: str
    server_name:
      description: O(targets[].server_name).
      type: str
    labels:
      description: O(targets[].labels).
      type: dict
    healthy:
      description: The verdict after rise/fall over all attempts.
      type: bool
    status:
      description:
        - Outcome of the last attempt. V(ok); V(refused) (connection refused or otherwise
          impossible); V(timeout) (a phase took longer than O(timeout)); V(tempfail) (a 4xx
          reply or transient IMAP NO/BYE); V(rejected) (5xx or IMAP NO); V(tls_error)
          (handshake, chain or - with verification on - name failure, or STARTTLS not
          offered); V(cert_expired); V(cert_expiring) (fewer than O(cert_min_days) left,
          still healthy); V(auth_failed); V(protocol_error) (the server does not speak the
          protocol as expected).
      type: str
      choices: [ok, refused, timeout, tempfail, rejected, tls_error, cert_expired, cert_expiring,
                auth_failed, protocol_error]
    attempts:
      description: Status of every attempt, in order.
      type: list
      elements: str
      sample: [timeout, ok]
    phases:
      description:
        - Milliseconds spent in each phase of the last attempt; only phases that ran are
          present. C(capabilities) adds up EHLO/CAPABILITY before and after TLS;
          C(envelope) is the MAIL FROM/RSET check of O(targets[].envelope).
      type: dict
      sample: {connect: 0.9, banner: 4.2, capabilities: 1.1, tls: 6.3, auth: 12.0, select: 1.4}
    elapsed_ms:
      description: Duration of the last attempt in milliseconds.
      type: float
    banner:
      description: Text of the SMTP greeting (after the code) or of the IMAP greeting.
      type: str
      sample: mx1.example.test ESMTP
    capabilities:
      description: EHLO keywords with parameters, or IMAP capabilities, as offered after TLS.
      type: list
      elements: str
      sample: [PIPELINING, SIZE 52428800, AUTH PLAIN LOGIN]
    cert:
      description: The server certificate; V(null) when no TLS handshake took place.
      type: dict
      contains:
        subject:
          description: Subject DN, most specific first.
          type: str
          sample: CN=mx1.example.test
        issuer:
          description: Issuer DN.
          type: str
        not_before:
          description: Start of validity (UTC, ISO 8601).
          type: str
        not_after:
          description: End of validity (UTC, ISO 8601).
          type: str
          sample: "2029-03-01T18:32:02Z"
        days_left:
          description: Whole days until RV(targets[].cert.not_after); negative once expired.
          type: int
        hostname_ok:
          description: Whether the certificate covers O(targets[].server_name) or O(targets[].host).
          type: bool
        chain_ok:
          description: Whether the chain verified; V(null) when verification was off.
          type: bool
        names:
          description: DNS names and IP addresses in the certificate.
          type: list
          elements: str
    tls:
      description: Negotiated TLS version and cipher; V(null) without TLS.
      type: dict
      sample: {version: TLSv1.3, cipher: TLS_AES_256_GCM_SHA384}
    mailbox:
      description: After an IMAP login, the mailbox opened and its message count.
      type: dict
      sample: {name: INBOX, exists: 3}
    error:
      description: What went wrong (or the warning for V(cert_expiring)); V(null) when ok.
      type: str
      sample: "no answer within 5 s in phase banner"
"""

import socket

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.continuity.mail.plugins.module_utils._probe import engine
from ansible_collections.continuity.mail.plugins.module_utils._probe.targets import (
    PROBE_OPTIONS_SPEC,
    TARGET_SPEC,
    normalize,
)


def main():
    argument_spec = dict(
        targets=dict(type="list", elements="dict", required=True, options=TARGET_SPEC),
        attempts=dict(type="int", default=1),
        rise=dict(type="int", default=1),
        interval=dict(type="float", default=1.0),
        concurrency=dict(type="int", default=100),
        initial_state=dict(type="str", default="healthy", choices=["healthy", "unhealthy"]),
        fail_on_unhealthy=dict(type="bool", default=False),
        vantage_point=dict(type="str"),
    )
    argument_spec.update(PROBE_OPTIONS_SPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    for option in ("attempts", "rise", "concurrency"):
        if params[option] < 1:
            module.fail_json(msg="%s must be at least 1, got %d" % (option, params[option]))
    for option in ("timeout", "interval"):
        if params[option] <= 0:
            module.fail_json(msg="%s must be a positive number of seconds" % option)
    try:
        targets = normalize(
            params["targets"], params["initial_state"], params["tls_verify"], params["ca_path"]
        )
    except ValueError as exc:
        module.fail_json(msg="invalid targets: %s" % exc)

    results, elapsed = engine.run(
        targets,
        timeout=params["timeout"],
        attempts=params["attempts"],
        rise=params["rise"],
        interval=params["interval"],
        concurrency=params["concurrency"],
        cert_min_days=params["cert_min_days"],
        helo_name=params["helo_name"] or socket.gethostname() or "localhost",
    )
    results = [engine.public(r) for r in results]
    summary = engine.summarize(results)
    output = dict(
        changed=False,
        healthy=summary["unhealthy"] == 0,
        summary=summary,
        targets=results,
        elapsed_ms=elapsed,
        vantage_point=params["vantage_point"] or socket.gethostname(),
    )
    if params["fail_on_unhealthy"] and summary["unhealthy"]:
        down = ["%s (%s)" % (r["name"], r["status"]) for r in results if not r["healthy"]]
        module.fail_json(
            msg="%d of %d target(s) unhealthy: %s"
            % (summary["unhealthy"], summary["total"], ", ".join(down)),
            **output,
        )
    module.exit_json(**output)


if __name__ == "__main__":
    main()
