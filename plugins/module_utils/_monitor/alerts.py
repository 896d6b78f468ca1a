# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Alerts: events rendered in Alertmanager's webhook shape (version 4) so existing receivers
work, and routed by the contact list (who is told what).

Every alert says whether automatic failover is on, off, or paused by the maintenance switch.
"""

import datetime
import hashlib

from ansible_collections.continuity.mail.plugins.module_utils._monitor.events import (
    KINDS,
    RECOVERED,
)

ZERO_TIME = "0001-01-01T00:00:00Z"
ALL = "all"


def iso(wall):
    when = datetime.datetime.fromtimestamp(wall, datetime.timezone.utc)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def automation_text(auto_failover, maintenance, maintenance_path=None):
    if maintenance:
        return "PAUSED by the maintenance switch%s: nothing is done automatically" % (
            " (%s)" % maintenance_path if maintenance_path else ""
        )
    if auto_failover:
        return "on: this monitor fails the site over by itself when the primary is down"
    return "off (alert only)"


def fingerprint(labels):
    text = ",".join("%s=%s" % kv for kv in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def alert(event, site, monitor, now, automation, generator_url=""):
    """One Alertmanager alert for an event."""
    labels = {
        "alertname": event["alertname"],
        "severity": event["severity"],
        "site": site,
        "event": event["kind"],
        "monitor": monitor,
    }
    labels.update(event["labels"])
    resolved = event["kind"] == RECOVERED
    if resolved:  # a recovery resolves the "primary down" alert: same labels, status resolved
        severity, alertname = KINDS[event["resolves"]]
        labels.update(alertname=alertname, event=event["resolves"], severity=severity)
    return {
        "status": "resolved" if resolved else "firing",
        "labels": labels,
        "annotations": {
            "summary": event["summary"],
            "description": event["description"],
            "event": event["kind"],
            "automatic_failover": automation,
        },
        "startsAt": iso(now),
        "endsAt": iso(now) if resolved else ZERO_TIME,
        "generatorURL": generator_url,
        "fingerprint": fingerprint(labels),
    }


def webhook_payload(alerts, receiver, external_url=""):
    """The JSON body Alertmanager posts to a webhook receiver."""
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    common = dict(alerts[0]["labels"]) if alerts else {}
    for item in alerts[1:]:
        common = dict((k, v) for k, v in common.items() if item["labels"].get(k) == v)
    annotations = dict(alerts[0]["annotations"]) if len(alerts) == 1 else {}
    group = {"alertname": common["alertname"]} if "alertname" in common else {}
    return {
        "version": "4",
        "groupKey": "{}:{%s}" % ",".join('%s="%s"' % kv for kv in sorted(group.items())),
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": group,
        "commonLabels": common,
        "commonAnnotations": annotations,
        "externalURL": external_url,
        "alerts": alerts,
    }


def recipients(contacts, event):
    """The contacts told about this event: those listing its kind (or "all"), at or above
    their minimum severity."""
    order = {"info": 0, "warning": 1, "critical": 2}
    out = []
    for contact in contacts:
        kinds = contact.get("events") or [ALL]
        if ALL not in kinds and event["kind"] not in kinds:
            continue
        if order[event["severity"]] < order[contact.get("min_severity") or "info"]:
            continue
        out.append(contact)
    return out


def email_text(event, item, site):
    """Subject and body of the email for one alert."""
    subject = "[continuity %s] %s: %s" % (site, event["severity"].upper(), event["summary"])
    lines = [
        event["summary"],
        "",
        event["description"] or "",
        "",
        "Automatic failover: %s" % item["annotations"]["automatic_failover"],
        "Site: %s   Monitor: %s   Time: %s" % (site, item["labels"]["monitor"], item["startsAt"]),
    ]
    return subject, "\n".join(lines).replace("\n\n\n", "\n\n") + "\n"
