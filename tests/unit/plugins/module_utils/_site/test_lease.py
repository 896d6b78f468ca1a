# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lease's decisions, one row per situation (no DNS at all)."""

import pytest

from ansible_collections.continuity.mail.plugins.module_utils._site import lease

NOW = 1_800_000_000
MINE = "run-a"


def record(run_id, expires, owner="alice", host="ctl1"):
    return "v=1 owner=%s run=%s host=%s expires=%d" % (owner, run_id, host, expires)


FRESH_OTHER = record("run-b", NOW + 60, owner="bob", host="ctl2")
STALE_OTHER = record("run-b", NOW - 1, owner="bob", host="ctl2")
FRESH_MINE = record(MINE, NOW + 30)
STALE_MINE = record(MINE, NOW - 30)

# (case, action, record values, ok, writes ours, deletes, words in the message)
CASES = [
    ("take free lock", "take", [], True, True, False, ["taken"]),
    (
        "take held fresh lock",
        "take",
        [FRESH_OTHER],
        False,
        False,
        False,
        ["run-b", "bob", "ctl2", "in 60 s", lease.iso(NOW + 60)],
    ),
    ("take over expired lock", "take", [STALE_OTHER], True, True, False, ["taken over", "run-b"]),
    (
        "take expiring this second",
        "take",
        [record("run-b", NOW)],
        True,
        True,
        False,
        ["taken over"],
    ),
    ("take own lock again", "take", [FRESH_MINE], True, True, False, ["already ours"]),
    (
        "take legacy lock, fresh",
        "take",
        ["run=old by=ctl9 at=%d" % (NOW - 10)],
        False,
        False,
        False,
        ["run old", "ctl9"],
    ),
    (
        "take legacy lock, stale",
        "take",
        ["run=old by=ctl9 at=%d" % (NOW - 901)],
        True,
        True,
        False,
        ["taken over"],
    ),
    ("take unknown record", "take", ["something else"], False, False, False, ["no expiry"]),
    ("renew own lock", "renew", [FRESH_MINE], True, True, False, ["renewed"]),
    ("renew own expired lock nobody took", "renew", [STALE_MINE], True, True, False, ["renewed"]),
    (
        "renew after take over",
        "renew",
        [FRESH_OTHER],
        False,
        False,
        False,
        ["no longer ours", "run-b"],
    ),
    ("renew a vanished lock", "renew", [], False, False, False, ["gone"]),
    ("release own lock", "release", [FRESH_MINE], True, False, True, ["released"]),
    ("release own expired lock", "release", [STALE_MINE], True, False, True, ["released"]),
    (
        "release leaves another run's lock",
        "release",
        [FRESH_OTHER],
        True,
        False,
        False,
        ["not ours", "run-b"],
    ),
    (
        "release leaves another's expired lock",
        "release",
        [STALE_OTHER],
        True,
        False,
        False,
        ["not ours"],
    ),
    ("release without lock", "release", [], True, False, False, ["no lock"]),
    ("break the named run", "break", [FRESH_OTHER], True, False, True, ["broken", "run-b"]),
    (
        "break names another run",
        "break",
        [record("run-c", NOW + 60)],
        False,
        False,
        False,
        ["run-c", "not by run run-b"],
    ),
    ("break without lock", "break", [], True, False, False, ["no lock"]),
    ("read held lock", "read", [FRESH_OTHER], True, False, False, ["held by run run-b"]),
    ("read expired lock", "read", [STALE_OTHER], True, False, False, ["free (expired)"]),
    ("read no lock", "read", [], True, False, False, ["free"]),
]


@pytest.mark.parametrize(
    "action, texts, ok, writes, deletes, words",
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_decide(action, texts, ok, writes, deletes, words):
    run_id = "run-b" if action == "break" else MINE
    decision = lease.decide(action, texts, run_id, NOW, 120, owner="alice", host="ctl1")
    assert decision.ok is ok, decision.message
    assert decision.delete is deletes
    if writes:
        written = lease.parse(decision.write)
        assert (written.run_id, written.owner, written.host) == (MINE, "alice", "ctl1")
        assert written.expires == NOW + 120
        assert decision.lease.expires == NOW + 120
    else:
        assert decision.write is None
    for word in words:
        assert word in decision.message


def test_two_takers_of_a_free_lock_write_different_values():
    """Both read "absent" and both may try; the UPDATE prerequisite picks one (see
    test_site_lock.py); their values must differ so the loser cannot mistake the lock as its own."""
    first = lease.decide("take", [], "run-1", NOW, 120, "alice", "ctl1")
    second = lease.decide("take", [], "run-2", NOW, 120, "alice", "ctl1")
    assert first.write != second.write


def test_a_lease_expires_after_its_seconds():
    taken = lease.decide("take", [], MINE, NOW, 120, "alice", "ctl1")
    other = lease.decide("take", [taken.write], "run-b", NOW + 119, 120, "bob", "ctl2")
    assert not other.ok and "in 1 s" in other.message
    other = lease.decide("take", [taken.write], "run-b", NOW + 120, 120, "bob", "ctl2")
    assert other.ok and lease.parse(other.write).run_id == "run-b"


def test_renewal_keeps_a_live_run_ahead_of_takers():
    text = lease.decide("take", [], MINE, NOW, 120, "alice", "ctl1").write
    for step in range(1, 6):
        text = lease.decide("renew", [text], MINE, NOW + 100 * step, 120, "alice", "ctl1").write
        blocked = lease.decide("take", [text], "run-b", NOW + 100 * step + 110, 120, "bob", "h")
        assert not blocked.ok


def test_parse_round_trip_and_describe():
    parsed = lease.parse(FRESH_OTHER)
    assert (parsed.owner, parsed.run_id, parsed.host, parsed.expires) == (
        "bob",
        "run-b",
        "ctl2",
        NOW + 60,
    )
    assert parsed.encode() == FRESH_OTHER
    info = parsed.as_dict(NOW)
    assert info["seconds_left"] == 60 and info["expired"] is False
    assert info["expires_at"] == lease.iso(NOW + 60)


def test_several_values_hold_the_latest_expiry():
    holder = lease.holder_of([STALE_OTHER, record("run-c", NOW + 90)])
    assert holder.run_id == "run-c"
    # Two values are never "ours", even if one is: a take must not overwrite the other run.
    decision = lease.decide("take", [FRESH_MINE, FRESH_OTHER], MINE, NOW, 120, "alice", "ctl1")
    assert not decision.ok


@pytest.mark.parametrize(
    "run_id, seconds, action",
    [
        ("has space", 120, "take"),
        ("a=b", 120, "take"),
        ("", 120, "release"),
        ("ok", 0, "take"),
        ("ok", 120, "steal"),
    ],
)
def test_bad_input(run_id, seconds, action):
    with pytest.raises(lease.LeaseError):
        lease.decide(action, [], run_id, NOW, seconds, "alice", "ctl1")
