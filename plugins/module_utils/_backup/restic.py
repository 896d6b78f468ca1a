# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""continuity-backup: restic backups of a mail host's mail data, and the restore check.

Subcommands (settings from a JSON file the backup role writes, mode 0600):

- ``init``: create the restic repository when it does not exist yet (prints {"changed": ...});
- ``run``: ``restic backup`` of the mail data, then ``restic forget --prune`` with the
  retention settings; writes a node_exporter textfile with the last success; exit 1 on failure;
- ``restore-check --user U [--backup-first]``: restores U's mailbox from the latest snapshot
  into a scratch directory, opens it with doveadm as a scratch mail location (the live mailbox
  is never touched), and compares its Message-IDs with the live mailbox's. Prints JSON.

Standard library only: the backup role installs this file on the mail host.
"""

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


def run_command(command, timeout=3600, env=None):
    """Run a command without a shell; (rc, stdout, stderr), rc 1 when it cannot run."""
    try:
        proc = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False, env=env
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 1, "", str(exc)
    return proc.returncode, proc.stdout, proc.stderr


def write_atomic(path, text, mode=0o644):
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path))
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temp, mode)
        os.rename(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


METRIC_PREFIX = "continuity_backup"
FETCH_FIELDS = "mailbox guid hdr.message-id"


class BackupError(Exception):
    """A restic or doveadm step failed."""


class Tool:
    """restic and doveadm with the settings of one host; runner(command, env) -> (rc, out, err)."""

    def __init__(self, config, runner=None):
        self.config = config
        self._runner = runner

    def env(self):
        env = dict(os.environ, LC_ALL="C", LANG="C")
        env["RESTIC_REPOSITORY"] = self.config["repository"]
        env["RESTIC_PASSWORD_FILE"] = self.config["password_file"]
        if self.config.get("cache_dir"):
            env["RESTIC_CACHE_DIR"] = self.config["cache_dir"]
        env.update(self.config.get("env") or {})
        return env

    def run(self, command):
        if self._runner is not None:
            return self._runner(command, self.env())
        return run_command(command, timeout=self.config.get("timeout", 3600), env=self.env())

    def restic(self, *args):
        return self.run([self.config.get("restic", "restic")] + list(args))

    def doveadm(self, *args):
        return self.run([self.config.get("doveadm", "doveadm")] + list(args))

    def checked(self, what, result):
        rc, out, err = result
        if rc != 0:
            raise BackupError("%s failed (rc=%s): %s" % (what, rc, last_lines(err or out)))
        return out


def last_lines(text, count=3):
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return " / ".join(lines[-count:]) or "no output"


# --- init ------------------------------------------------------------------------------------


def init(tool):
    """Create the repository unless it exists. Returns {"changed": bool}."""
    rc, _out, _err = tool.restic("cat", "config")
    if rc == 0:
        return {"changed": False}
    tool.checked("restic init", tool.restic("init"))
    return {"changed": True}


# --- run and its metric -------------------------------------------------------------------------


def forget_args(keep):
    args = []
    for name in ("last", "hourly", "daily", "weekly", "monthly", "yearly"):
        value = int((keep or {}).get(name) or 0)
        if value > 0:
            args.extend(["--keep-%s" % name, str(value)])
    return args


def load_state(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def metrics_text(state):
    rows = [
        (
            "success",
            "gauge",
            "1 when the last backup and retention run succeeded",
            state["success"],
        ),
        (
            "last_success_timestamp_seconds",
            "gauge",
            "When the last backup succeeded",
            state.get("last_success") or 0,
        ),
        (
            "last_attempt_timestamp_seconds",
            "gauge",
            "When the last backup ran",
            state["last_attempt"],
        ),
        ("duration_seconds", "gauge", "Duration of the last backup run", state["duration"]),
        ("failures_total", "counter", "Backup runs that failed", state.get("failures", 0)),
    ]
    lines = []
    for name, kind, text, value in rows:
        full = "%s_%s" % (METRIC_PREFIX, name)
        lines.append("# HELP %s %s" % (full, text))
        lines.append("# TYPE %s %s" % (full, kind))
        lines.append("%s %s" % (full, value))
    return "\n".join(lines) + "\n"


def run_backup(tool, clock=time.time):
    """Backup, then retention. Records the outcome; returns (status, result)."""
    config = tool.config
    started = clock()
    state_path = config.get("state") or "/var/lib/continuity-mail/backup-state.json"
    state = load_state(state_path)
    tag = config.get("tag", "continuity-mail")
    result = {"ok": False}
    try:
        paths = [path for path in config["paths"] if os.path.exists(path)]
        if not paths:
            raise BackupError(
                "none of the paths to back up exists: %s" % ", ".join(config["paths"])
            )
        out = tool.checked(
            "restic backup",
            tool.restic("backup", "--json", "--tag", tag, *paths),
        )
        summary = [line for line in out.splitlines() if '"message_type":"summary"' in line]
        if summary:
            result["snapshot"] = json.loads(summary[-1]).get("snapshot_id")
        keep = forget_args(config.get("keep"))
        if keep:
            tool.checked("restic forget", tool.restic("forget", "--tag", tag, "--prune", *keep))
        state.update(success=1, last_success=int(clock()))
        result["ok"] = True
        status = 0
    except (BackupError, OSError, ValueError) as exc:
        state.update(success=0, failures=state.get("failures", 0) + 1)
        result["error"] = str(exc)
        status = 1
    state["last_attempt"] = int(started)
    state["duration"] = round(clock() - started, 3)
    write_atomic(state_path, json.dumps(state, sort_keys=True) + "\n")
    if config.get("metrics"):
        write_atomic(config["metrics"], metrics_text(state))
    return status, result


# --- restore check ----------------------------------------------------------------------------


def parse_fetch(output):
    """Counter of Message-IDs from `doveadm -f tab fetch 'mailbox guid hdr.message-id'`."""
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines:
        return collections.Counter()
    header = [name.strip().lower() for name in lines[0].split("\t")]
    if header[-1:] != ["hdr.message-id"]:
        raise BackupError("unexpected doveadm fetch header: %r" % lines[0])
    ids = collections.Counter()
    for line in lines[1:]:
        ids[line.rsplit("\t", 1)[-1].strip()] += 1
    return ids


def location_override(tool, scratch_home):
    """The doveadm -o setting that points the user's mail at the restored copy (Dovecot 2.3:
    mail_location; 2.4: mail_path), with the home (~) replaced by the scratch home."""
    rc, out, _err = tool.run([tool.config.get("doveconf", "doveconf"), "-h", "mail_location"])
    if rc == 0 and out.strip():
        return "mail_location=%s" % out.strip().replace("~", scratch_home)
    out = tool.checked(
        "doveconf mail_path",
        tool.run([tool.config.get("doveconf", "doveconf"), "-h", "mail_path"]),
    )
    path = out.strip().replace("%{home}", "~").replace("~", scratch_home)
    return "mail_path=%s" % path


def fetch_ids(tool, user, override=None):
    args = ["-o", override] if override else []
    out = tool.checked(
        "doveadm fetch for %s" % user,
        tool.doveadm(*(args + ["-f", "tab", "fetch", "-u", user, FETCH_FIELDS, "all"])),
    )
    return parse_fetch(out)


def restore_check(tool, user, backup_first=False, clock=time.time):
    """Restore user's mailbox into scratch, compare its Message-IDs with the live ones."""
    home = tool.checked("doveadm user", tool.doveadm("user", "-f", "home", user)).strip()
    if not home.startswith("/"):
        raise BackupError("no home directory for %s (got %r)" % (user, home))
    live = fetch_ids(tool, user)
    result = {"user": user, "home": home}
    if backup_first:
        status, backup = run_backup(tool, clock=clock)
        if status:
            raise BackupError("the backup before the restore failed: %s" % backup.get("error"))
    snapshots = json.loads(
        tool.checked(
            "restic snapshots",
            tool.restic("snapshots", "--json", "--tag", tool.config.get("tag", "continuity-mail")),
        )
        or "[]"
    )
    if not snapshots:
        raise BackupError("the repository holds no snapshot to restore")
    snapshot = sorted(snapshots, key=lambda item: item.get("time", ""))[-1]
    result["snapshot"] = snapshot.get("short_id") or snapshot.get("id")
    result["snapshot_time"] = snapshot.get("time")
    root = tool.config.get("scratch_root", "/var/tmp")
    os.makedirs(root, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="continuity-restore-", dir=root)
    try:
        owner = os.stat(home)
        os.chown(scratch, owner.st_uid, owner.st_gid)
        tool.checked(
            "restic restore",
            tool.restic("restore", snapshot["id"], "--target", scratch, "--include", home),
        )
        scratch_home = os.path.join(scratch, home.lstrip("/"))
        if not os.path.isdir(scratch_home):
            raise BackupError("the snapshot has no %s" % home)
        restored = fetch_ids(tool, user, location_override(tool, scratch_home))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    missing = live - restored
    result.update(
        live=sum(live.values()),
        restored=sum(restored.values()),
        missing=sorted(missing.elements()),
        only_in_backup=sorted((restored - live).elements()),
        ok=not missing,
    )
    return result


def _say(stream, text):
    """One line on stdout (results) or stderr (the journal's failure line)."""
    stream.write(text + "\n")
    stream.flush()


def main(argv=None):
    parser = argparse.ArgumentParser(description="restic backups of the mail data")
    parser.add_argument("--config", default="/etc/continuity/backup.json")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init")
    sub.add_parser("run")
    check = sub.add_parser("restore-check")
    check.add_argument("--user", required=True)
    check.add_argument("--backup-first", action="store_true")
    args = parser.parse_args(argv)
    try:
        with open(args.config, encoding="utf-8") as handle:
            tool = Tool(json.load(handle))
    except (OSError, ValueError) as exc:
        _say(sys.stderr, "continuity-backup: cannot read %s: %s" % (args.config, exc))
        return 2
    try:
        if args.command == "init":
            _say(sys.stdout, json.dumps(init(tool)))
            return 0
        if args.command == "run":
            status, result = run_backup(tool)
            _say(sys.stdout, json.dumps(result, sort_keys=True))
            if status:
                _say(sys.stderr, "continuity-backup: FAILED: %s" % result["error"])
            return status
        result = restore_check(tool, args.user, backup_first=args.backup_first)
        _say(sys.stdout, json.dumps(result, sort_keys=True))
        return 0 if result["ok"] else 1
    except BackupError as exc:
        _say(sys.stdout, json.dumps({"ok": False, "error": str(exc)}))
        _say(sys.stderr, "continuity-backup: FAILED: %s" % exc)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
