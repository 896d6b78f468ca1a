# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from ansible_collections.continuity.mail.plugins.module_utils._monitor import alerts, events

NOW = 1_800_000_000.0


def test_alertmanager_webhook_shape():
    event = events.event(events.PRIMARY_DOWN, "primary mx1 is down", "mx1 smtp", host="mx1")
    item = alerts.alert(event, "example", "ns2", NOW, alerts.automation_text(True, False))
    body = alerts.webhook_payload([item], "oncall", "https://monitor.example")
    assert body["version"] == "4" and body["status"] == "firing" and body["receiver"] == "oncall"
    assert body["groupLabels"] == {"alertname": "ContinuityPrimaryDown"}
    assert body["groupKey"] == '{}:{alertname="ContinuityPrimaryDown"}'
    assert body["commonLabels"]["severity"] == "critical" and body["truncatedAlerts"] == 0
    (sent,) = body["alerts"]
    assert sent["status"] == "firing" and sent["endsAt"] == alerts.ZERO_TIME
    assert sent["startsAt"] == "2027-01-15T08:00:00.000Z"
    assert sent["labels"] == {
        "alertname": "ContinuityPrimaryDown",
        "severity": "critical",
        "site": "example",
        "event": "primary_down",
        "monitor": "ns2",
        "host": "mx1",
    }
    assert sent["annotations"]["summary"] == "primary mx1 is down"
    assert sent["annotations"]["automatic_failover"].startswith("on")
    assert len(sent["fingerprint"]) == 16


def test_recovered_resolves_the_primary_down_alert():
    down = alerts.alert(events.event(events.PRIMARY_DOWN, "down", host="mx1"), "s", "m", NOW, "off")
    back = events.event(
        events.RECOVERED, "up", "fail back with X", resolves=events.PRIMARY_DOWN, host="mx1"
    )
    item = alerts.alert(back, "s", "m", NOW + 60, "off")
    assert item["status"] == "resolved" and item["fingerprint"] == down["fingerprint"]
    assert item["annotations"]["event"] == "recovered" and item["endsAt"] != alerts.ZERO_TIME
    assert alerts.webhook_payload([item], "r")["status"] == "resolved"


def test_every_alert_says_when_maintenance_pauses_automation():
    text = alerts.automation_text(True, True, "/etc/continuity-monitor/maintenance")
    assert text.startswith("PAUSED by the maintenance switch (/etc/continuity-monitor/maintenance)")
    event = events.event(events.DEGRADED, "site degraded: x", "x")
    item = alerts.alert(event, "s", "m", NOW, text)
    subject, body = alerts.email_text(event, item, "s")
    assert subject == "[continuity s] WARNING: site degraded: x"
    assert "Automatic failover: PAUSED by the maintenance switch" in body
    assert alerts.automation_text(False, False) == "off (alert only)"


def test_contacts_say_who_is_told_what():
    contacts = [
        {"name": "oncall", "events": ["primary_down", "failed_over"]},
        {"name": "everyone"},
        {"name": "managers", "events": ["all"], "min_severity": "critical"},
    ]
    down = events.event(events.PRIMARY_DOWN, "down")
    cert = events.event(events.CERT_EXPIRING, "cert")
    assert [c["name"] for c in alerts.recipients(contacts, down)] == [
        "oncall",
        "everyone",
        "managers",
    ]
    assert [c["name"] for c in alerts.recipients(contacts, cert)] == ["everyone"]
