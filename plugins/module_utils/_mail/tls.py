# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TLS for the mail clients: client contexts and the verdict on the certificate a server presents.

Chain verification is OpenSSL's (the handshake fails when it does not verify); the host
name and the dates are checked here from the DER, so a mismatch or an expiry is reported
with the certificate's details. Standard library only.
"""

import datetime
import os
import ssl

from ansible_collections.continuity.mail.plugins.module_utils._mail.cert import (
    CertificateError,
    format_name,
    matches_hostname,
    parse_certificate,
)
from ansible_collections.continuity.mail.plugins.module_utils._probe.status import (
    CERT_EXPIRED,
    CERT_EXPIRING,
    OK,
    TLS_ERROR,
)

_CONTEXTS = {}


def client_context(verify, ca_path=None):
    """A shared client context per (verify, ca_path): loading a CA store costs milliseconds,
    so hundreds of targets must not each build their own."""
    key = (bool(verify), ca_path or None)
    if key not in _CONTEXTS:
        if verify:
            if ca_path and os.path.isdir(ca_path):
                context = ssl.create_default_context(capath=ca_path)
            elif ca_path:
                context = ssl.create_default_context(cafile=ca_path)
            else:
                context = ssl.create_default_context()
            # Names are matched by evaluate() so a mismatch is reported, not just refused.
            context.check_hostname = False
            context.verify_mode = ssl.CERT_REQUIRED
        else:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        _CONTEXTS[key] = context
    return _CONTEXTS[key]


def describe(der, name, chain_ok, now=None):
    """The cert dict returned to users, plus the parsed certificate (for TLSA, dates)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    parsed = parse_certificate(der)
    seconds = (parsed["not_after"] - now).total_seconds()
    return {
        "subject": format_name(parsed["subject"]),
        "issuer": format_name(parsed["issuer"]),
        "not_before": parsed["not_before"].strftime("%Y-%m-%dT%H:%M:%SZ"),
        "not_after": parsed["not_after"].strftime("%Y-%m-%dT%H:%M:%SZ"),
        "days_left": int(seconds // 86400),
        "hostname_ok": matches_hostname(parsed, name),
        "chain_ok": chain_ok,
        "names": parsed["dns_names"] + parsed["ip_addresses"],
    }, parsed


def evaluate(cert, parsed, verify, cert_min_days, now=None):
    """Return (status, message) for a presented certificate.

    Expiry is judged whether or not verification is on; a name mismatch only when it is.
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if parsed["not_after"] <= now:
        return CERT_EXPIRED, "certificate expired on %s" % cert["not_after"]
    if verify and parsed["not_before"] > now:
        return TLS_ERROR, "certificate is not valid before %s" % cert["not_before"]
    if verify and not cert["hostname_ok"]:
        return TLS_ERROR, "certificate (%s) does not cover the name checked" % (
            ", ".join(cert["names"]) or cert["subject"]
        )
    if cert["days_left"] < cert_min_days:
        return CERT_EXPIRING, "certificate expires in %d day(s) (on %s)" % (
            cert["days_left"],
            cert["not_after"],
        )
    return OK, None


def peer_certificate(ssl_object, name, verify):
    """(cert dict, parsed, tls info) of an established TLS session."""
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None, None, None
    try:
        cert, parsed = describe(der, name, True if verify else None)
    except (CertificateError, ValueError, IndexError) as exc:
        raise CertificateError("cannot read the server certificate: %s" % exc) from exc
    parsed["der"] = der
    info = {"version": ssl_object.version(), "cipher": (ssl_object.cipher() or [None])[0]}
    return cert, parsed, info
