# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Postfix queue actions: postsuper, postqueue flushes, postkick (commands faked)."""

import pytest

from ansible_collections.continuity.mail.plugins.module_utils._queue.actions import (
    Postfix,
    QueueError,
)


class FakeRun:
    def __init__(self, replies):
        self.calls = []
        self.replies = replies

    def __call__(self, argv, data=None):
        self.calls.append((argv, data))
        if "-c" in argv:  # look replies up without the instance option
            at = argv.index("-c")
            argv = argv[:at] + argv[at + 2 :]
        return self.replies.get(
            argv[0] + " " + argv[-1]
            if argv[0] == "postqueue" and "-i" in argv
            else " ".join(argv[:2]),
            (0, "", ""),
        )


def test_postsuper_reads_ids_from_stdin_and_counts():
    run = FakeRun({"postsuper -h": (0, "", "postsuper: Placed on hold: 2 messages\n")})
    postfix = Postfix(run, config_dir="/etc/postfix-out")
    assert postfix.postsuper("hold", ["A1", "B2"], ("deferred",)) == 2
    argv, data = run.calls[0]
    assert argv == ["postsuper", "-c", "/etc/postfix-out", "-h", "-", "deferred"]
    assert data == "A1\nB2"


def test_postsuper_with_nothing_selected_runs_nothing():
    run = FakeRun({})
    assert Postfix(run).postsuper("requeue", [], ("deferred",)) == 0
    assert run.calls == []


def test_flush_ids_counts_successes_only():
    run = FakeRun({"postqueue X": (69, "", "gone")})
    assert Postfix(run).flush_ids(["A", "X", "B"]) == 2


def test_failures_become_queue_errors():
    run = FakeRun({"postqueue -j": (1, "", "postqueue: fatal: Queue report unavailable")})
    with pytest.raises(QueueError) as info:
        Postfix(run).messages()
    assert "Queue report unavailable" in str(info.value)
    run = FakeRun({"postconf -h": (0, "forever\n", "")})
    with pytest.raises(QueueError):
        Postfix(run).lifetime()


def test_requeue_wakes_pickup_so_mail_is_rerouted_now():
    run = FakeRun({"postsuper -r": (0, "", "postsuper: Requeued: 1 message\n")})
    assert Postfix(run).postsuper("requeue", ["A1"], ("deferred",)) == 1
    assert run.calls[-1][0] == ["postkick", "public", "pickup", "W"]
    run = FakeRun({"postsuper -h": (0, "", "postsuper: Placed on hold: 1 message\n")})
    Postfix(run).postsuper("hold", ["A1"], ("deferred",))
    assert all(call[0][0] != "postkick" for call in run.calls)
