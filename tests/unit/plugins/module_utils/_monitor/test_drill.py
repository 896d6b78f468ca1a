# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import subprocess

from ansible_collections.continuity.mail.plugins.module_utils._monitor import drill


class Done:
    def __init__(self, rc, output):
        self.returncode = rc
        self.stdout = output.encode()


def clock():
    times = iter([100.0, 112.5])
    return lambda: next(times)


def test_a_passed_drill_records_its_rto():
    runner = lambda *a, **k: Done(0, "PLAY RECAP\nRTO: 8.4 s (outage to canary)\n")  # noqa: E731
    record = drill.run(["make", "smoke"], clock=clock(), runner=runner)
    assert record == {"at": 112.5, "ok": True, "rc": 0, "duration": 12.5, "rto": 8.4, "error": None}


def test_a_failed_drill_says_why():
    runner = lambda *a, **k: Done(2, "ok\ncanary not delivered\nfatal: [localhost]: FAILED!\n")  # noqa: E731
    record = drill.run(["make", "smoke"], clock=clock(), runner=runner)
    assert not record["ok"] and record["rto"] is None
    assert (
        record["error"] == "exit status 2: ok / canary not delivered / fatal: [localhost]: FAILED!"
    )


def test_a_drill_that_hangs_or_cannot_start_fails():
    def hangs(*args, **kwargs):
        raise subprocess.TimeoutExpired("make", 5)

    record = drill.run(["make"], timeout=5, clock=clock(), runner=hangs)
    assert not record["ok"] and record["error"] == "the drill ran longer than 5 s"
    record = drill.run(["/nonexistent/drill"], clock=clock())
    assert not record["ok"] and record["error"].startswith("cannot run /nonexistent/drill")
