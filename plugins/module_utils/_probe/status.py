# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Probe outcomes: the fixed status vocabulary and the exception that carries one.

Standard library only: this runs on probe vantage points (bare Debian python3).
"""

import errno
import socket
import ssl

OK = "ok"
REFUSED = "refused"
TIMEOUT = "timeout"
TEMPFAIL = "tempfail"
REJECTED = "rejected"
TLS_ERROR = "tls_error"
CERT_EXPIRED = "cert_expired"
CERT_EXPIRING = "cert_expiring"
AUTH_FAILED = "auth_failed"
PROTOCOL_ERROR = "protocol_error"

STATUSES = (
    OK,
    REFUSED,
    TIMEOUT,
    TEMPFAIL,
    REJECTED,
    TLS_ERROR,
    CERT_EXPIRED,
    CERT_EXPIRING,
    AUTH_FAILED,
    PROTOCOL_ERROR,
)

# A certificate that expires soon still carries mail: it is a warning, not an outage, so a
# failover decision must not count it as "down".
HEALTHY_STATUSES = frozenset((OK, CERT_EXPIRING))

# OpenSSL's X509_V_ERR_CERT_HAS_EXPIRED.
_X509_EXPIRED = 10


class ProbeFailure(Exception):
    """A probe ended with a definite non-ok status in a known phase."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def reply_status(code):
    """Map an SMTP reply code (or IMAP-derived class) to tempfail/rejected/protocol_error."""
    if 400 <= code < 500:
        return TEMPFAIL
    if 500 <= code < 600:
        return REJECTED
    return PROTOCOL_ERROR


def classify_exception(exc):
    """Map a low-level exception raised during a probe to (status, message)."""
    if isinstance(exc, ProbeFailure):
        return exc.status, exc.message
    if isinstance(exc, ssl.SSLCertVerificationError):
        status = CERT_EXPIRED if getattr(exc, "verify_code", None) == _X509_EXPIRED else TLS_ERROR
        return status, "certificate verification failed: %s" % (
            getattr(exc, "verify_message", None) or exc
        )
    if isinstance(exc, ssl.SSLError):
        return TLS_ERROR, "TLS error: %s" % (exc.reason or exc)
    if isinstance(exc, ConnectionRefusedError):
        return REFUSED, "connection refused"
    if isinstance(exc, socket.gaierror):
        return REFUSED, "cannot resolve host: %s" % exc
    if isinstance(exc, OSError) and exc.errno in (
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.EHOSTDOWN,
        errno.EADDRNOTAVAIL,
    ):
        return REFUSED, "cannot connect: %s" % (exc.strerror or exc)
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, EOFError)):
        return PROTOCOL_ERROR, "connection closed by the server"
    return PROTOCOL_ERROR, "%s: %s" % (type(exc).__name__, exc)
