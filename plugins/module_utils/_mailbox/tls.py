# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One TLS handshake with the destination's doveadm listener before anything is synchronised.

doveadm reports a rejected certificate once per connection, in the middle of per-user
results; this check states the certificate problem once and stops the run before any
mailbox is touched. It verifies exactly what doveadm verifies: the chain against the CA
file doveadm uses (ssl_client_ca_file) and the destination name against the certificate.

Standard library only: this runs on the mail hosts.
"""

import ipaddress
import socket
import ssl


def is_address(host):
    """True for an IPv4/IPv6 literal (a certificate names the server, not its address)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def check_certificate(host, port, ca_file=None, timeout=10.0):
    """None when the server at host:port presents a certificate that chains to ca_file (the
    system trust store when empty) and names host; otherwise a sentence naming the problem.
    A server that cannot be reached at all is not this check's business: None, and doveadm
    reports the connection error as usual."""
    context = ssl.create_default_context(cafile=ca_file or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # Python 3.13 (Debian 13) verifies strictly by default (RFC 5280 extensions on the CA);
    # doveadm's OpenSSL does not, and this check must agree with doveadm.
    context.verify_flags &= ~getattr(ssl, "VERIFY_X509_STRICT", 0)
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except OSError:
        return None
    try:
        with context.wrap_socket(raw, server_hostname=host):
            return None
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message or exc.reason or str(exc)
        return "the certificate of %s:%d is not trusted: %s (CA file: %s)" % (
            host,
            port,
            reason,
            ca_file or "the system trust store",
        )
    except ssl.SSLError as exc:
        return "no TLS with %s:%d (%s): is its doveadm listener serving TLS (ssl = yes)?" % (
            host,
            port,
            exc.reason or exc,
        )
    except OSError as exc:
        return "the TLS handshake with %s:%d failed: %s" % (host, port, exc)
    finally:
        raw.close()
