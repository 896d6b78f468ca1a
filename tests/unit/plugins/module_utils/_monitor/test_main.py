# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import io
import json
import time

from ansible_collections.continuity.mail.plugins.module_utils._monitor import main


def write(tmp_path, **values):
    raw = {
        "name": "a",
        "state_dir": str(tmp_path),
        "targets": [{"name": "mx1 smtp", "host": "mx1", "role": "primary"}],
    }
    raw.update(values)
    path = tmp_path / "monitor.json"
    path.write_text(json.dumps(raw))
    return str(path)


def test_check_config_passes_or_lists_problems(tmp_path):
    out = io.StringIO()
    assert main.check_config(write(tmp_path), out) == 0
    assert out.getvalue().endswith("OK (a: 1 targets, 0 peers, automatic failover off)\n")
    out = io.StringIO()
    assert main.check_config(write(tmp_path, interval=-1), out) == 1
    assert "interval must be a positive number, not -1" in out.getvalue()
    assert main.main(["--check-config", "-c", write(tmp_path)]) == 0


def test_check_command_reads_the_status_file(tmp_path):
    path = write(tmp_path)
    out = io.StringIO()
    assert main.run_check(path, None, None, out) == 3  # no status yet
    status = {
        "at": time.time(),
        "interval": 1,
        "summary": {"quorate": True, "degraded": []},
        "verdict": {"vantage_points": ["a"], "abstained": {}, "down": [], "targets": {}},
    }
    (tmp_path / "status.json").write_text(json.dumps(status))
    out = io.StringIO()
    assert main.run_check(path, None, None, out) == 0
    assert out.getvalue().startswith("OK - ")


def test_drill_records_its_result(tmp_path):
    path = write(tmp_path, drill={"command": ["false"]})
    assert main.main(["drill", "-c", path]) == 1
    record = json.loads((tmp_path / "drill.json").read_text())
    assert record["ok"] is False and record["rc"] == 1
