# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The probe engine: every target on one asyncio loop, bounded concurrency, rise/fall.

Used by mail_health (on probe vantage points) and continuity_preflight (on the control
node), so both judge a server the same way. Standard library only.
"""

import asyncio
import ssl
import time

from ansible_collections.continuity.mail.plugins.module_utils._mail import imap, smtp
from ansible_collections.continuity.mail.plugins.module_utils._mail.session import (
    CertificateRead,
    Session,
)
from ansible_collections.continuity.mail.plugins.module_utils._probe.status import (
    CERT_EXPIRED,
    HEALTHY_STATUSES,
    OK,
    STATUSES,
    TIMEOUT,
    classify_exception,
)
from ansible_collections.continuity.mail.plugins.module_utils._probe.targets import IMAP

DEFAULTS = dict(
    timeout=5.0,
    attempts=1,
    rise=1,
    interval=1.0,
    concurrency=100,
    cert_min_days=14,
    helo_name="localhost",
)


def _dialog(target):
    return imap.run if target["protocol"] in IMAP else smtp.run


async def _read_certificate(target, settings):
    """Diagnostic: when verification refused the handshake, read the certificate over one
    more connection without verifying, so the report can say what the server presents."""
    session = Session(target, settings, verify=False)
    try:
        await _dialog(target)(session)
    except CertificateRead:
        return session.cert
    except Exception:  # the first attempt's failure stands; this was only a diagnosis
        return None
    finally:
        session.close()
    return None


async def attempt(target, settings):
    """One connection, one full dialog; returns the per-attempt result dict."""
    session = Session(target, settings)
    start = time.monotonic()
    status, error = OK, None
    try:
        await _dialog(target)(session)
        if session.warning:
            status, error = session.warning
    except asyncio.TimeoutError:
        status, error = (
            TIMEOUT,
            "no answer within %g s in phase %s" % (settings["timeout"], session.current),
        )
    except Exception as exc:  # every failure becomes a status; nothing escapes the loop
        status, error = classify_exception(exc)
        if isinstance(exc, ssl.SSLCertVerificationError) and session.cert is None:
            cert = await _read_certificate(target, settings)
            if cert is not None:
                cert["chain_ok"] = False
                session.cert = cert
                if cert["days_left"] < 0:  # expired and untrusted: expiry is the news
                    status = CERT_EXPIRED
    finally:
        session.close()
    return {
        "status": status,
        "error": error,
        "phases": session.phases,
        "elapsed_ms": round((time.monotonic() - start) * 1000.0, 1),
        "banner": session.banner,
        "capabilities": session.capabilities,
        "cert": session.cert,
        "tls": session.tls_info,
        "mailbox": session.mailbox,
        "_parsed": session.parsed,
    }


def decide(statuses, initial_state, attempts, rise):
    """Rise/fall on the statuses seen so far: True/False once decided, None to probe again.

    A target presumed healthy turns unhealthy only after `attempts` consecutive failures
    (one success ends probing); a target presumed unhealthy turns healthy only after `rise`
    consecutive successes (one failure ends probing).
    """
    if not statuses:
        return None
    last_ok = statuses[-1] in HEALTHY_STATUSES
    if initial_state == "healthy":
        if last_ok:
            return True
        return False if len(statuses) >= attempts else None
    if not last_ok:
        return False
    return True if len(statuses) >= rise else None


async def probe_target(target, settings, limit):
    statuses = []
    while True:
        async with limit:
            result = await attempt(target, settings)
        statuses.append(result["status"])
        verdict = decide(statuses, target["initial_state"], settings["attempts"], settings["rise"])
        if verdict is not None:
            break
        await asyncio.sleep(settings["interval"])
    result.update(
        name=target["name"],
        host=target["host"],
        port=target["port"],
        protocol=target["protocol"],
        server_name=target["server_name"],
        labels=target["labels"],
        healthy=verdict,
        attempts=statuses,
    )
    return result


async def probe_all(targets, settings):
    limit = asyncio.Semaphore(settings["concurrency"])
    # Logins take longest (password hashing on the server): start them first so they do not
    # trail behind the rest. The semaphore serves waiters in start order.
    order = sorted(range(len(targets)), key=lambda i: not targets[i]["user"])
    tasks = {}
    for index in order:
        tasks[index] = asyncio.ensure_future(probe_target(targets[index], settings, limit))
    await asyncio.gather(*tasks.values())
    return [tasks[index].result() for index in range(len(targets))]


def run(targets, **options):
    """Probe normalised targets; returns (results in input order, elapsed ms)."""
    settings = dict(DEFAULTS)
    settings.update((k, v) for k, v in options.items() if v is not None)
    start = time.monotonic()
    loop = asyncio.new_event_loop()
    try:
        results = loop.run_until_complete(probe_all(targets, settings))
    finally:
        loop.close()
    return results, round((time.monotonic() - start) * 1000.0, 1)


def public(result):
    """A result without the engine's private keys (parsed certificate, DER)."""
    return dict((k, v) for k, v in result.items() if not k.startswith("_"))


def summarize(results):
    healthy = sum(1 for r in results if r["healthy"])
    by_status = dict((s, 0) for s in STATUSES)
    for r in results:
        by_status[r["status"]] += 1
    return {
        "total": len(results),
        "healthy": healthy,
        "unhealthy": len(results) - healthy,
        "by_status": dict((k, v) for k, v in by_status.items() if v),
    }
