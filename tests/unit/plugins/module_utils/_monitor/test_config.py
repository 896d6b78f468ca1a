# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import json

import pytest

from ansible_collections.continuity.mail.plugins.module_utils._monitor import config


def minimal(**values):
    raw = {
        "name": "a",
        "targets": [
            {"name": "mx1 smtp", "host": "mx1.example.com", "role": "primary"},
            {"name": "mx2 smtp", "host": "mx2.example.com", "role": "secondary"},
        ],
    }
    raw.update(values)
    return raw


def problems(raw):
    with pytest.raises(config.ConfigError) as info:
        config.validate(raw)
    return info.value.problems


def test_defaults_and_roles_as_labels():
    conf = config.validate(minimal())
    assert conf["interval"] == 1.0 and conf["fall"] == 3 and conf["hold_down"] == 3
    assert (
        conf["auto_failover"] is False and conf["monitors"] == ["a"] and conf["deciders"] == ["a"]
    )
    assert [t["labels"]["role"] for t in conf["targets"]] == ["primary", "secondary"]
    assert conf["targets"][0]["port"] == 25 and conf["alerts"]["dedup_seconds"] == 600.0
    assert conf["thresholds"] == {"cert_days": 14, "queue_age_minutes": 30, "sync_lag_seconds": 900}


def test_every_problem_is_reported_at_once():
    found = problems(
        {
            "targets": [{"name": "x", "host": "mx2", "role": "secondary"}],
            "interval": 0,
            "fall": "3",
            "bogus": 1,
            "peers": [{"name": "b", "url": "https://b:9465/verdict"}],
            "auto_failover": True,
        }
    )
    assert found == [
        "unknown settings: bogus",
        "name (this monitor's name) is required",
        "interval must be a positive number, not 0",
        "fall must be a whole number of at least 1",
        "targets: none has role primary",
        "token or token_file is required to serve or pull verdicts",
        "auto_failover needs failover: {command: [...]} or {awx: {...}}",
    ]


def test_alerts_never_go_through_the_primary():
    raw = minimal(alerts={"relay": {"host": "mx1.example.com", "from": "m@example.com"}})
    assert problems(raw) == [
        "alerts.relay: mx1.example.com is the primary being watched; alerts must not depend on it"
    ]


def test_contacts_are_checked():
    raw = minimal(
        alerts={"contacts": [{"name": "x", "email": "x@example.com", "events": ["nope"]}, {}]}
    )
    found = problems(raw)
    assert "alerts.contacts[0]: email needs alerts.relay" in found
    assert any(p.startswith("alerts.contacts[0]: unknown event nope") for p in found)
    assert "alerts.contacts[1]: name is required" in found


def test_secrets_come_from_files(tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    conf = config.validate(
        minimal(
            token_file=str(token),
            peers=[{"name": "b", "url": "https://b/verdict"}],
            failover={"awx": {"url": "https://awx", "job_template": 3, "token_file": str(token)}},
        )
    )
    assert conf["token"] == "s3cret" and conf["failover"]["awx"]["token"] == "s3cret"
    assert conf["monitors"] == ["a", "b"]
    assert "token_file: cannot read /nonexistent" in problems(minimal(token_file="/nonexistent"))[0]


def test_load_reads_json(tmp_path):
    path = tmp_path / "monitor.json"
    path.write_text(json.dumps(minimal()))
    assert config.load(str(path))["name"] == "a"
    path.write_text("{")
    with pytest.raises(config.ConfigError, match="not valid JSON"):
        config.load(str(path))
