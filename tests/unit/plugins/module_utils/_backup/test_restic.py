# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_backup.restic: repository init, backup + retention + metric, the restore check."""

import json
import os

import pytest

from ansible_collections.continuity.mail.plugins.module_utils._backup import restic

USER = "alice@example.test"
HEADER = "mailbox\tguid\thdr.message-id\n"


class FakeHost:
    """restic, doveadm and doveconf as far as the tool uses them; records every command."""

    def __init__(self, home, live, restored=None, fail=None, repo_exists=True):
        self.home, self.live = home, live
        self.restored = live if restored is None else restored
        self.fail = fail or set()
        self.repo_exists = repo_exists
        self.commands = []
        self.envs = []

    def __call__(self, command, env):
        self.commands.append(command)
        self.envs.append(env)
        name, args = os.path.basename(command[0]), command[1:]
        step = "%s %s" % (name, args[0] if name != "doveadm" else " ".join(args[:4]))
        if any(step.startswith(failing) for failing in self.fail):
            return 1, "", "Fatal: %s went wrong" % step
        if name == "restic":
            return self.restic(args)
        if name == "doveconf":
            return 0, "sdbox:~/mail\n", ""
        return self.doveadm(args)

    def restic(self, args):
        if args[0] == "cat":
            return (0, "{}", "") if self.repo_exists else (1, "", "Is there a repository?")
        if args[0] == "backup":
            return 0, '{"message_type":"summary","snapshot_id":"abc123"}\n', ""
        if args[0] == "snapshots":
            return 0, json.dumps([{"id": "abc123full", "short_id": "abc123", "time": "t"}]), ""
        if args[0] == "restore":
            target = args[args.index("--target") + 1]
            os.makedirs(os.path.join(target, self.home.lstrip("/"), "mail"))
            return 0, "", ""
        return 0, "", ""

    def doveadm(self, args):
        if args[:3] == ["user", "-f", "home"]:
            return 0, self.home + "\n", ""
        ids = self.restored if args[0] == "-o" else self.live
        return 0, HEADER + "".join("INBOX\tg%d\t%s\n" % (n, i) for n, i in enumerate(ids)), ""


@pytest.fixture
def config(tmp_path):
    return {
        "repository": str(tmp_path / "repo"),
        "password_file": str(tmp_path / "pw"),
        "paths": [str(tmp_path)],
        "keep": {"daily": "7", "weekly": 4, "monthly": "0"},
        "metrics": str(tmp_path / "prom" / "continuity_backup.prom"),
        "state": str(tmp_path / "state.json"),
        "scratch_root": str(tmp_path / "scratch"),
    }


def metrics(config):
    with open(config["metrics"], encoding="utf-8") as handle:
        rows = [line.rsplit(" ", 1) for line in handle if not line.startswith("#")]
    return {name: float(value) for name, value in rows}


def test_init_creates_only_a_missing_repository(config, tmp_path):
    host = FakeHost(str(tmp_path), [], repo_exists=False)
    assert restic.init(restic.Tool(config, host)) == {"changed": True}
    assert host.commands[-1] == ["restic", "init"]
    assert host.envs[-1]["RESTIC_PASSWORD_FILE"] == config["password_file"]
    host = FakeHost(str(tmp_path), [])
    assert restic.init(restic.Tool(config, host)) == {"changed": False}
    assert ["restic", "init"] not in host.commands


def test_run_backs_up_applies_retention_and_records_the_success(config, tmp_path):
    host = FakeHost(str(tmp_path), [])
    clock = iter([100.0, 130.0, 131.0]).__next__
    status, result = restic.run_backup(restic.Tool(config, host), clock=clock)
    assert status == 0 and result == {"ok": True, "snapshot": "abc123"}
    forget = next(command for command in host.commands if command[1] == "forget")
    assert forget[2:] == [
        "--tag",
        "continuity-mail",
        "--prune",
        "--keep-daily",
        "7",
        "--keep-weekly",
        "4",
    ]
    values = metrics(config)
    assert values["continuity_backup_success"] == 1
    assert values["continuity_backup_last_success_timestamp_seconds"] == 130
    assert values["continuity_backup_duration_seconds"] == 31


def test_a_failed_backup_keeps_the_last_success_time_and_counts(config, tmp_path):
    restic.run_backup(restic.Tool(config, FakeHost(str(tmp_path), [])), clock=lambda: 50.0)
    host = FakeHost(str(tmp_path), [], fail={"restic backup"})
    status, result = restic.run_backup(restic.Tool(config, host), clock=lambda: 80.0)
    assert status == 1 and "restic backup failed" in result["error"]
    values = metrics(config)
    assert values["continuity_backup_success"] == 0
    assert values["continuity_backup_last_success_timestamp_seconds"] == 50
    assert values["continuity_backup_last_attempt_timestamp_seconds"] == 80
    assert values["continuity_backup_failures_total"] == 1


def test_restore_check_finds_every_message_id_in_a_scratch_location(config, tmp_path):
    home = str(tmp_path / "vmail" / "example.test" / "alice")
    os.makedirs(home)
    host = FakeHost(home, ["<a@x>", "<b@x>", "<b@x>"])
    result = restic.restore_check(restic.Tool(config, host), USER, backup_first=True)
    assert result["ok"] and result["live"] == 3 and result["restored"] == 3
    assert result["missing"] == [] and result["snapshot"] == "abc123"
    scratch_fetch = next(command for command in host.commands if command[1:2] == ["-o"])
    location = scratch_fetch[2]
    assert location.startswith("mail_location=sdbox:" + config["scratch_root"])
    assert location.endswith(home + "/mail")
    # The backup ran before the restore, and the scratch copy is gone afterwards.
    names = [command[1] for command in host.commands if command[0] == "restic"]
    assert names.index("backup") < names.index("restore")
    assert os.listdir(config["scratch_root"]) == []


def test_restore_check_names_message_ids_the_backup_lacks(config, tmp_path):
    home = str(tmp_path / "home")
    os.makedirs(home)
    host = FakeHost(home, ["<a@x>", "<b@x>"], restored=["<a@x>", "<c@x>"])
    result = restic.restore_check(restic.Tool(config, host), USER)
    assert not result["ok"]
    assert result["missing"] == ["<b@x>"] and result["only_in_backup"] == ["<c@x>"]


def test_restore_check_fails_clearly_when_restic_fails(config, tmp_path):
    home = str(tmp_path / "home")
    os.makedirs(home)
    host = FakeHost(home, ["<a@x>"], fail={"restic restore"})
    with pytest.raises(restic.BackupError, match="restic restore failed"):
        restic.restore_check(restic.Tool(config, host), USER)
    assert os.listdir(config["scratch_root"]) == []
