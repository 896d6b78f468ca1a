# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Delivery channels: an HTTP(S) webhook (Alertmanager's JSON, optional bearer token) and
email through a configured relay, submitted with the collection's own SMTP client. The
relay is never the primary being watched (the configuration refuses it)."""

import email.message
import email.utils
import json
import urllib.request

from ansible_collections.continuity.mail.plugins.module_utils._mail import canary
from ansible_collections.continuity.mail.plugins.module_utils._monitor import web


class DeliveryError(Exception):
    pass


def post_json(url, body, token=None, timeout=5.0, context=None):
    """POST a JSON document; returns the HTTP status. Raises DeliveryError."""
    data = json.dumps(body, sort_keys=True).encode()
    request = urllib.request.Request(url, data=data, method="POST")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer %s" % token)
    try:
        with web.request(request, timeout, context) as response:
            return response.status
    except Exception as exc:
        raise DeliveryError("webhook %s: %s" % (url, exc)) from exc


def build_email(sender, to, subject, body):
    message = email.message.EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate(usegmt=True)
    message["Message-ID"] = email.utils.make_msgid(domain=sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message


def send_email(relay, to, subject, body):
    """Submit one message to the relay (host, port, starttls, tls_verify, ca_path, from)."""
    message = build_email(relay["from"], to, subject, body)
    try:
        return canary.send(
            message,
            relay["host"],
            relay.get("port", 25),
            starttls=relay.get("starttls", "auto"),
            tls_verify=relay.get("tls_verify", True),
            ca_path=relay.get("ca_path"),
            timeout=relay.get("timeout", 10),
        )
    except canary.CanaryError as exc:
        raise DeliveryError("email to %s via %s: %s" % (to, relay["host"], exc)) from exc
