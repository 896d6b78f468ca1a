# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""continuity-monitor: the command line.

continuity-monitor run   -c CONFIG      the service (systemd runs this)
continuity-monitor --check-config -c CONFIG   validate and exit 0, or print problems, exit 1
continuity-monitor check -c CONFIG [--target NAME]   Nagios/Icinga check (0/1/2/3 + perfdata)
continuity-monitor drill -c CONFIG      run the configured non-disruptive drill, record it
"""

import argparse
import asyncio
import logging
import os
import signal
import sys
import time

from ansible_collections.continuity.mail.plugins.module_utils._monitor import check as nagios
from ansible_collections.continuity.mail.plugins.module_utils._monitor import config as conf
from ansible_collections.continuity.mail.plugins.module_utils._monitor import drill as drills
from ansible_collections.continuity.mail.plugins.module_utils._monitor import service

DEFAULT_CONFIG = "/etc/continuity-monitor/monitor.json"


def say(text, out=None):
    """One line to stdout (or `out`): this is a command, not a module."""
    (out or sys.stdout).write(text + "\n")


def parser():
    p = argparse.ArgumentParser(
        prog="continuity-monitor", description=__doc__.split("\n", maxsplit=1)[0]
    )
    p.add_argument("command", nargs="?", default="run", choices=["run", "check", "drill"])
    p.add_argument("-c", "--config", default=DEFAULT_CONFIG)
    p.add_argument("--check-config", action="store_true", help="validate the configuration only")
    p.add_argument("--target", help="check: one target (service) instead of the site")
    p.add_argument("--max-age", type=float, help="check: status older than this is UNKNOWN")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def check_config(path, out=sys.stdout):
    try:
        config = conf.load(path)
    except conf.ConfigError as exc:
        for problem in exc.problems:
            say("%s: %s" % (path, problem), out)
        return 1
    say(
        "%s: OK (%s: %d targets, %d peers, automatic failover %s)"
        % (
            path,
            config["name"],
            len(config["targets"]),
            len(config["peers"]),
            "on" if config["auto_failover"] else "off",
        ),
        out,
    )
    return 0


def run_check(path, target, max_age, out=sys.stdout):
    try:
        config = conf.load(path)
    except conf.ConfigError as exc:
        say("UNKNOWN - configuration: %s" % exc, out)
        return nagios.UNKNOWN
    status = service.read_json(os.path.join(config["state_dir"], service.STATUS_FILE))
    code, line = nagios.evaluate(status, time.time(), target=target, max_age=max_age)
    say(line, out)
    return code


def run_drill(path):
    config = conf.load(path)
    if not config["drill"] or not config["drill"].get("command"):
        say("no drill.command in %s" % path, sys.stderr)
        return 2
    record = drills.run(config["drill"]["command"], config["drill"].get("timeout", 1800))
    service.write_json(os.path.join(config["state_dir"], service.DRILL_FILE), record)
    say(
        "drill %s in %.1f s%s"
        % (
            "passed" if record["ok"] else "FAILED",
            record["duration"],
            ": " + record["error"] if record["error"] else "",
        )
    )
    return 0 if record["ok"] else 1


def run_service(path):
    config = conf.load(path)
    if config["state_dir"]:
        os.makedirs(config["state_dir"], mode=0o750, exist_ok=True)
    monitor = service.Monitor(config)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    logging.getLogger("continuity-monitor").info(
        "monitoring %d targets every %g s as %s",
        len(config["targets"]),
        config["interval"],
        config["name"],
    )
    try:
        loop.run_until_complete(monitor.run(stop))
    finally:
        loop.close()
    return 0


def main(argv=None):
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(message)s",
        stream=sys.stderr,
    )
    if args.check_config:
        return check_config(args.config)
    if args.command == "check":
        return run_check(args.config, args.target, args.max_age)
    try:
        if args.command == "drill":
            return run_drill(args.config)
        return run_service(args.config)
    except conf.ConfigError as exc:
        for problem in exc.problems:
            say("%s: %s" % (args.config, problem), sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
