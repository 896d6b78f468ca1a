# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Probe targets: defaults per protocol and validation, before any connection is made.

Standard library only.
"""

DEFAULT_PORTS = {"smtp": 25, "submission": 587, "smtps": 465, "imap": 143, "imaps": 993}
PROTOCOLS = tuple(DEFAULT_PORTS)
IMPLICIT_TLS = frozenset(("smtps", "imaps"))
IMAP = frozenset(("imap", "imaps"))

# The argument spec of one target, shared by every module that probes.
TARGET_SPEC = dict(
    name=dict(type="str"),
    host=dict(type="str", required=True),
    port=dict(type="int"),
    protocol=dict(type="str", default="smtp", choices=list(PROTOCOLS)),
    starttls=dict(type="bool"),
    envelope=dict(type="bool"),
    user=dict(type="str"),
    password=dict(type="str", no_log=True),
    mailbox=dict(type="str", default="INBOX"),
    tls_verify=dict(type="bool"),
    ca_path=dict(type="path"),
    server_name=dict(type="str"),
    initial_state=dict(type="str", choices=["healthy", "unhealthy"]),
    labels=dict(type="dict", default={}),
)

# Options every probing module shares (targets inherit tls_verify and ca_path from here).
PROBE_OPTIONS_SPEC = dict(
    timeout=dict(type="float", default=5.0),
    cert_min_days=dict(type="int", default=14),
    tls_verify=dict(type="bool", default=True),
    ca_path=dict(type="path"),
    helo_name=dict(type="str"),
)


def normalize(targets, initial_state="healthy", tls_verify=True, ca_path=None):
    """Fill in defaults; raise ValueError naming the target and field for bad input."""
    out, seen = [], set()
    for index, raw in enumerate(targets):
        target = dict(raw)
        where = "targets[%d]" % index
        protocol = target.get("protocol") or "smtp"
        if protocol not in DEFAULT_PORTS:
            raise ValueError("%s: protocol must be one of %s" % (where, ", ".join(PROTOCOLS)))
        host = (target.get("host") or "").strip()
        if not host:
            raise ValueError("%s: host is required" % where)
        port = target.get("port") or DEFAULT_PORTS[protocol]
        if not 0 < port < 65536:
            raise ValueError("%s: port %s is out of range" % (where, port))
        implicit = protocol in IMPLICIT_TLS
        starttls = target.get("starttls")
        if implicit and starttls:
            raise ValueError(
                "%s: %s uses implicit TLS; starttls does not apply" % (where, protocol)
            )
        envelope = target.get("envelope")
        if envelope and protocol in IMAP:
            raise ValueError("%s: envelope applies to SMTP targets only" % where)
        if bool(target.get("user")) != bool(target.get("password")):
            raise ValueError("%s: user and password go together" % where)
        name = target.get("name") or "%s:%d/%s" % (host, port, protocol)
        if name in seen:
            raise ValueError("%s: duplicate target name %r" % (where, name))
        seen.add(name)
        target.update(
            name=name,
            host=host,
            port=port,
            protocol=protocol,
            implicit_tls=implicit,
            starttls=False if implicit else (True if starttls is None else bool(starttls)),
            # MAIL FROM:<> after EHLO: a server that greets but cannot take mail is down.
            envelope=(protocol in ("smtp", "smtps") and not target.get("user"))
            if envelope is None
            else bool(envelope),
            user=target.get("user") or None,
            password=target.get("password") or None,
            mailbox=target.get("mailbox") or "INBOX",
            tls_verify=tls_verify
            if target.get("tls_verify") is None
            else bool(target["tls_verify"]),
            ca_path=target.get("ca_path") or ca_path or None,
            server_name=target.get("server_name") or None,
            initial_state=target.get("initial_state") or initial_state,
            labels=target.get("labels") or {},
        )
        out.append(target)
    return out
