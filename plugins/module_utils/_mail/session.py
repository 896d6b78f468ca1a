# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One conversation with a mail server: the connection, per-phase timings and what was learnt.

The protocol dialogs (smtp, imap) drive a Session; it times each phase, applies the
per-phase timeout and turns the TLS handshake into a certificate verdict. A health probe
attempt is one Session; so is the canary's submission, and each of its IMAP logins.
Standard library only.
"""

import asyncio
import ipaddress
import time

from ansible_collections.continuity.mail.plugins.module_utils._mail.cert import CertificateError
from ansible_collections.continuity.mail.plugins.module_utils._mail.conn import Connection
from ansible_collections.continuity.mail.plugins.module_utils._mail.tls import (
    client_context,
    evaluate,
    peer_certificate,
)
from ansible_collections.continuity.mail.plugins.module_utils._probe.status import (
    CERT_EXPIRING,
    OK,
    TLS_ERROR,
    ProbeFailure,
)


def _is_address(host):
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


class CertificateRead(Exception):
    """Raised by a certificate-only session once it holds the server's certificate."""


class Session:
    def __init__(self, target, settings, verify=None):
        self.target = target
        self.settings = settings
        # verify=False is the diagnostic re-run that only reads an unverifiable certificate.
        self.verify = target["tls_verify"] if verify is None else verify
        self.certificate_only = verify is False
        self.helo_name = settings["helo_name"]
        self.conn = None
        self.current = None
        self.phases = {}
        self.banner = None
        self.capabilities = []
        self.cert = None
        self.parsed = None
        self.tls_info = None
        self.mailbox = None
        self.warning = None
        self.check_name = target["server_name"] or target["host"]
        self.sni = target["server_name"] or (
            None if _is_address(target["host"]) else target["host"]
        )

    async def phase(self, name, awaitable):
        """Run one phase under the per-phase timeout, adding its duration to phases[name]."""
        self.current = name
        start = time.monotonic()
        try:
            return await asyncio.wait_for(awaitable, self.settings["timeout"])
        finally:
            spent = (time.monotonic() - start) * 1000.0
            self.phases[name] = round(self.phases.get(name, 0.0) + spent, 1)

    async def connect(self):
        host = self.target["host"].strip("[]")
        self.conn = await self.phase("connect", Connection.open(host, self.target["port"]))
        return self.conn

    async def tls(self, before=None):
        """TLS handshake (after the protocol's STARTTLS command when given)."""
        await self.phase("tls", self._handshake(before))

    async def _handshake(self, before):
        if before is not None:
            await before
        context = client_context(self.verify, self.target["ca_path"])
        # The handshake's own limit stays above the phase timeout so the phase decides.
        await self.conn.start_tls(context, self.sni, self.settings["timeout"] + 1)
        try:
            self.cert, self.parsed, self.tls_info = peer_certificate(
                self.conn.ssl_object, self.check_name, self.verify
            )
        except CertificateError as exc:
            raise ProbeFailure(TLS_ERROR, str(exc)) from exc
        if self.cert is None:
            raise ProbeFailure(TLS_ERROR, "the server presented no certificate")
        if self.certificate_only:
            raise CertificateRead()
        status, message = evaluate(
            self.cert, self.parsed, self.verify, self.settings["cert_min_days"]
        )
        if status == CERT_EXPIRING:
            self.warning = (status, message)
        elif status != OK:
            # Never send credentials over a session whose certificate failed.
            raise ProbeFailure(status, message)

    def close(self):
        if self.conn is not None:
            self.conn.close()
