# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scheduled non-disruptive drill (run by a systemd timer): run the drill command, and
record when it ended, whether it passed, how long it took and the RTO it reported, in a
file the monitor reads into its metrics and turns into a "drill failed" alert."""

import re
import subprocess
import time

RTO = re.compile(r"\bRTO\b\D{0,20}?(\d+(?:\.\d+)?)\s*s\b")


def run(command, timeout=1800, clock=time.time, runner=subprocess.run):
    """The drill record: at, ok, rc, duration, rto (when the output names one), error."""
    started = clock()
    try:
        done = runner(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, check=False
        )
        output = done.stdout.decode(errors="replace") if done.stdout else ""
        rc, error = done.returncode, None
    except subprocess.TimeoutExpired:
        output, rc, error = "", None, "the drill ran longer than %d s" % timeout
    except OSError as exc:
        output, rc, error = "", None, "cannot run %s: %s" % (command[0], exc.strerror)
    ended = clock()
    found = RTO.findall(output)
    if rc not in (0, None) and error is None:
        tail = [line for line in output.splitlines() if line.strip()][-3:]
        error = "exit status %d: %s" % (rc, " / ".join(tail)[-400:])
    return {
        "at": ended,
        "ok": rc == 0,
        "rc": rc,
        "duration": round(ended - started, 1),
        "rto": float(found[-1]) if found else None,
        "error": error,
    }
