# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # The probe targets of mail_health (and of anything else that probes mail servers).
    DOCUMENTATION = r"""
options:
  targets:
    description:
      - The mail service endpoints to probe. Each target gets one connection per attempt.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - Unique name of the target in the results (and in the quorum verdict).
          - Defaults to V(host:port/protocol).
        type: str
      host:
        description:
          - Host name or IP address to connect to.
        type: str
        required: true
      port:
        description:
          - TCP port. Defaults by protocol - V(smtp) 25, V(submission) 587, V(smtps) 465,
            V(imap) 143, V(imaps) 993.
        type: int
      protocol:
        description:
          - V(smtp) and V(submission) speak SMTP (banner, EHLO, STARTTLS, and AUTH on
            submission); V(smtps) is SMTP with implicit TLS.
          - V(imap) speaks IMAP (greeting, CAPABILITY, STARTTLS, login, read-only SELECT);
            V(imaps) is IMAP with implicit TLS.
        type: str
        choices: [smtp, submission, smtps, imap, imaps]
        default: smtp
      starttls:
        description:
          - Upgrade the connection with STARTTLS. A server that does not offer it gets
            RV(targets[].status=tls_error).
          - Defaults to V(true) for V(smtp), V(submission) and V(imap); must not be set for
            the implicit-TLS protocols V(smtps) and V(imaps).
        type: bool
      envelope:
        description:
          - After EHLO (and TLS), send C(MAIL FROM:<>) then C(RSET); this proves the server would
            accept a message now, not only greet. A server short of disk space (C(452)) or
            refusing mail (C(4xx)/C(5xx)) becomes RV(targets[].status=tempfail) or
            RV(targets[].status=rejected). No recipient is given, so nothing is queued.
          - Defaults to V(true) for V(smtp) and V(smtps) targets without O(targets[].user);
            submission needs AUTH before MAIL, so it is off there.
        type: bool
      user:
        description:
          - Log in as this user (SMTP AUTH on V(submission)/V(smtp)/V(smtps), IMAP login and
            a read-only SELECT of O(targets[].mailbox) on V(imap)/V(imaps)).
          - Credentials are only sent after a successful TLS handshake with an acceptable
            certificate.
        type: str
      password:
        description:
          - Password of O(targets[].user).
        type: str
      mailbox:
        description:
          - Mailbox opened read-only (IMAP EXAMINE) after an IMAP login.
        type: str
        default: INBOX
      tls_verify:
        description:
          - Verify the certificate chain and that the certificate covers
            O(targets[].server_name) (or O(targets[].host)). Defaults to O(tls_verify).
          - An expired certificate gives RV(targets[].status=cert_expired) either way.
        type: bool
      ca_path:
        description:
          - CA bundle file or hashed CA directory on the host that runs the probe.
            Defaults to O(ca_path), else the system trust store.
        type: path
      server_name:
        description:
          - Name sent as SNI and checked against the certificate, so a server can be
            reached by IP address and still verified under its mail name.
        type: str
      initial_state:
        description:
          - What the target is presumed to be before this run; decides whether O(attempts)
            (presumed V(healthy)) or O(rise) (presumed V(unhealthy)) applies. Defaults to
            O(initial_state).
        type: str
        choices: [healthy, unhealthy]
      labels:
        description:
          - Free-form labels (for example V(site), V(server), V(role)) copied into the
            result and the quorum verdict, for grouping and decisions.
        type: dict
        default: {}
"""

    # Connection and TLS options shared by every module that probes mail servers.
    TLS = r"""
options:
  timeout:
    description:
      - Seconds allowed for each phase of a probe (connect, banner, capabilities, TLS,
        auth, select); a phase that takes longer ends the attempt with status V(timeout).
    type: float
    default: 5
  cert_min_days:
    description:
      - A certificate that expires in fewer days gives status V(cert_expiring), a warning
        that still counts as healthy.
    type: int
    default: 14
  tls_verify:
    description:
      - Verify certificate chains and that each certificate covers the name checked
        (the server name, else the host). Probes that target lists can override it per
        target.
      - An expired certificate gives status V(cert_expired) whether or not this is on.
    type: bool
    default: true
  ca_path:
    description:
      - CA bundle file or hashed CA directory on the host that runs the probe; the
        system trust store when not set.
    type: path
  helo_name:
    description:
      - Name sent with EHLO. Defaults to the probing host's name.
    type: str
"""
