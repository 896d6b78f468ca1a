# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The monitor's configuration: one JSON file (the monitor role renders it from role
variables), defaults filled in, every problem reported at once.

`continuity-monitor --check-config` runs load() and nothing else; the role's handlers
restart the service only after it passes.
"""

import json
import os

from ansible_collections.continuity.mail.plugins.module_utils._monitor.events import KINDS
from ansible_collections.continuity.mail.plugins.module_utils._probe.targets import normalize

DEFAULTS = {
    "site": "site",
    "interval": 1.0,
    "timeout": 3.0,
    "rise": 2,
    "fall": 3,
    "hold_down": 3,
    "window": 60.0,
    "flap_changes": 4,
    "flap_window": 120.0,
    "blip_failures": 3,
    "cert_min_days": 14,
    "tls_verify": True,
    "ca_path": None,
    "helo_name": None,
    "listen": None,  # {"address", "port", "cert", "key"}
    "token": None,
    "token_file": None,
    "peers": [],  # [{"name", "url", "ca_path", "tls_verify"}]
    "peer_timeout": 0.8,
    "max_age": 5.0,
    "deciders": None,  # monitors allowed to alert and act, in order; default: all, by name
    "auto_failover": False,
    "cooldown": 3600.0,
    "maintenance_file": "/etc/continuity-monitor/maintenance",
    "failover": None,  # {"command": [...]} or {"awx": {"url", "job_template", "token_file"}}
    "failback_command": "ansible-playbook continuity.mail.failback",
    "alerts": {},
    "thresholds": {},
    "metrics_path": None,
    "state_dir": "/var/lib/continuity-monitor",
    "site_state": None,  # {"domain", "server", "port", "primary_mx"}: MX read each interval
    "queue": None,  # {"command": ["postqueue", "-j"], "host": name}: this host's queue
    "sync_stamp": None,  # a file touched after each successful mailbox sync
    "drill": None,  # {"command": [...], "timeout": s}
}

ALERT_DEFAULTS = {
    "contacts": [],
    "relay": None,
    "dedup_seconds": 600.0,
    "per_hour": 20,
    "burst": 5,
    "timeout": 5.0,
    "external_url": "",
}

THRESHOLD_DEFAULTS = {"cert_days": 14, "queue_age_minutes": 30, "sync_lag_seconds": 900}


class ConfigError(ValueError):
    def __init__(self, problems):
        super().__init__("; ".join(problems))
        self.problems = problems


def _read_secret(path, what, problems):
    try:
        with open(path) as handle:
            value = handle.read().strip()
    except OSError as exc:
        problems.append("%s: cannot read %s: %s" % (what, path, exc.strerror))
        return None
    if not value:
        problems.append("%s: %s is empty" % (what, path))
    return value or None


def _positive(config, key, problems):
    value = config[key]
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        problems.append("%s must be a positive number, not %r" % (key, value))


def validate(raw, base_dir=None):
    """The configuration with defaults; raises ConfigError listing every problem."""
    if not isinstance(raw, dict):
        raise ConfigError(["the configuration must be a JSON object"])
    problems = []
    unknown = sorted(set(raw) - set(DEFAULTS) - {"name", "targets"})
    if unknown:
        problems.append("unknown settings: %s" % ", ".join(unknown))
    config = dict(DEFAULTS)
    config.update(raw)
    config["alerts"] = dict(ALERT_DEFAULTS, **(raw.get("alerts") or {}))
    config["thresholds"] = dict(THRESHOLD_DEFAULTS, **(raw.get("thresholds") or {}))
    if not config.get("name"):
        problems.append("name (this monitor's name) is required")
    for key in ("interval", "timeout", "max_age", "peer_timeout", "cooldown", "window"):
        _positive(config, key, problems)
    for key in ("rise", "fall", "hold_down", "flap_changes", "blip_failures"):
        if not isinstance(config[key], int) or config[key] < 1:
            problems.append("%s must be a whole number of at least 1" % key)

    targets = raw.get("targets") or []
    if not targets:
        problems.append("targets: at least one target (the primary's SMTP) is required")
    try:
        config["targets"] = normalize(
            [_target(t) for t in targets],
            tls_verify=config["tls_verify"],
            ca_path=config["ca_path"],
        )
    except (ValueError, TypeError, AttributeError) as exc:
        problems.append(str(exc))
        config["targets"] = []
    roles = [t["labels"].get("role", "primary") for t in config["targets"]]
    if config["targets"] and "primary" not in roles:
        problems.append("targets: none has role primary")
    for target in config["targets"]:
        if target["labels"].get("role", "primary") not in ("primary", "secondary"):
            problems.append("targets: %s: role must be primary or secondary" % target["name"])

    names = [config.get("name")] + [p.get("name") for p in config["peers"]]
    for peer in config["peers"]:
        if not peer.get("name") or not peer.get("url"):
            problems.append("peers: every peer needs a name and a url")
    if len(set(names)) != len(names):
        problems.append("peers: monitor names must be unique (this one included)")
    config["monitors"] = names
    # The same order on every monitor: the first decider alive leads.
    config["deciders"] = config["deciders"] or sorted(n for n in names if n)
    for name in config["deciders"]:
        if name not in names:
            problems.append("deciders: %s is neither this monitor nor a peer" % name)
    if config["token_file"] and not config["token"]:
        config["token"] = _read_secret(config["token_file"], "token_file", problems)
    if (config["peers"] or config["listen"]) and not config["token"]:
        problems.append("token or token_file is required to serve or pull verdicts")
    listen = config["listen"]
    if listen:
        if not isinstance(listen, dict) or not listen.get("port"):
            problems.append("listen: needs at least a port")
        elif bool(listen.get("cert")) != bool(listen.get("key")):
            problems.append("listen: cert and key go together")
        else:
            for key in ("cert", "key"):
                if listen.get(key) and not os.path.isfile(listen[key]):
                    problems.append("listen.%s: %s does not exist" % (key, listen[key]))

    _check_failover(config, problems)
    _check_alerts(config, problems)
    if problems:
        raise ConfigError(problems)
    return config


def _target(raw):
    """A monitor target: a probe target whose role and decisive flags travel as labels."""
    if not isinstance(raw, dict):
        raise ValueError("targets: every target must be a mapping")
    target = dict(raw)
    labels = dict(target.get("labels") or {})
    for key in ("role", "decisive"):
        if key in target:
            labels[key] = target.pop(key)
    labels.setdefault("role", "primary")
    target["labels"] = labels
    return target


def _check_failover(config, problems):
    failover = config["failover"]
    if config["auto_failover"] and not failover:
        problems.append("auto_failover needs failover: {command: [...]} or {awx: {...}}")
    if not failover:
        return
    if not isinstance(failover, dict) or bool(failover.get("command")) == bool(failover.get("awx")):
        problems.append("failover: give exactly one of command (a list) or awx")
        return
    if failover.get("command") and not isinstance(failover["command"], list):
        problems.append("failover.command must be a list of arguments")
    awx = failover.get("awx")
    if awx:
        for key in ("url", "job_template", "token_file"):
            if not awx.get(key):
                problems.append("failover.awx.%s is required" % key)
        if awx.get("token_file"):
            awx["token"] = _read_secret(awx["token_file"], "failover.awx.token_file", problems)


def _check_alerts(config, problems):
    alerts = config["alerts"]
    primaries = set(
        t["host"] for t in config["targets"] if t["labels"].get("role", "primary") == "primary"
    )
    relay = alerts["relay"]
    if relay:
        if not relay.get("host") or not relay.get("from"):
            problems.append("alerts.relay: host and from are required")
        elif relay["host"] in primaries:
            problems.append(
                "alerts.relay: %s is the primary being watched; alerts must not depend on it"
                % relay["host"]
            )
    for index, contact in enumerate(alerts["contacts"]):
        where = "alerts.contacts[%d]" % index
        if not contact.get("name"):
            problems.append("%s: name is required" % where)
        if not contact.get("email") and not contact.get("webhook"):
            problems.append("%s: give an email address, a webhook url, or both" % where)
        if contact.get("email") and not relay:
            problems.append("%s: email needs alerts.relay" % where)
        for kind in contact.get("events") or []:
            if kind != "all" and kind not in KINDS:
                problems.append(
                    "%s: unknown event %s (one of all, %s)"
                    % (where, kind, ", ".join(sorted(KINDS)))
                )
        if contact.get("min_severity", "info") not in ("info", "warning", "critical"):
            problems.append("%s: min_severity must be info, warning or critical" % where)
        if contact.get("webhook_token_file"):
            contact["webhook_token"] = _read_secret(
                contact["webhook_token_file"], "%s.webhook_token_file" % where, problems
            )


def load(path):
    try:
        with open(path) as handle:
            raw = json.load(handle)
    except OSError as exc:
        raise ConfigError(["%s: %s" % (path, exc.strerror)]) from exc
    except ValueError as exc:
        raise ConfigError(["%s: not valid JSON: %s" % (path, exc)]) from exc
    return validate(raw, os.path.dirname(os.path.abspath(path)))
