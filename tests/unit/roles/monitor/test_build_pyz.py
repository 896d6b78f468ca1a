# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The monitor role ships the program as one zip application: it must run with a bare
python3 (no Ansible, no collection installed) and be the same bytes on every build."""

import json
import pathlib
import runpy
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[4]
BUILD = ROOT / "roles" / "monitor" / "files" / "build_pyz.py"
PACKAGES = "_monitor,_probe,_mail,_queue"


def build(target):
    runpy.run_path(str(BUILD), run_name="build")["build"](
        str(ROOT / "plugins" / "module_utils"), str(target), PACKAGES.split(",")
    )


def test_the_zip_application_runs_alone_and_builds_reproducibly(tmp_path):
    first, second = tmp_path / "a.pyz", tmp_path / "b.pyz"
    build(first)
    build(second)
    assert first.read_bytes() == second.read_bytes()
    config = tmp_path / "monitor.json"
    config.write_text(json.dumps({"name": "m", "targets": [{"host": "mx1"}], "state_dir": "/x"}))
    done = subprocess.run(
        [sys.executable, "-I", str(first), "--check-config", "-c", str(config)],
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "%s: OK (m: 1 targets, 0 peers, automatic failover off)\n" % config
