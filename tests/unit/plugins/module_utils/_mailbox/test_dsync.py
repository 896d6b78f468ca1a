# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_mailbox.dsync: bulk and per-user syncs, retries, verification, saved state (doveadm faked)."""

import collections
import os
import stat
import threading

from ansible_collections.continuity.mail.plugins.module_utils._mailbox import doveadm, dsync
from dovecot_fake import FakeDovecot

USER, BOB = "alice@example.test", "bob@example.test"
M1, M2, M3 = ("INBOX", "g1"), ("INBOX", "g2"), ("Sent", "g3")
TCP = doveadm.Destination("tcp", "192.0.2.20")


def engine(fake, destination=TCP, **kwargs):
    return dsync.MailboxSync(
        doveadm.Doveadm("/usr/bin/doveadm", runner=fake), destination, **kwargs
    )


def sets(**sides):
    return dict((side, {USER: collections.Counter(messages)}) for side, messages in sides.items())


def test_state_store_is_per_destination_and_user(tmp_path):
    one = dsync.StateStore(str(tmp_path / "s"), doveadm.Destination("tcp", "a"))
    two = dsync.StateStore(str(tmp_path / "s"), doveadm.Destination("tcp", "b"))
    assert one.load(USER) == ""
    one.save(USER, "STATE")
    assert one.load(USER) == "STATE" and two.load(USER) == ""
    assert one.path(USER) != one.path(BOB)
    assert stat.S_IMODE(os.stat(str(tmp_path / "s")).st_mode) == 0o700
    one.forget(USER)
    assert one.load(USER) == ""


def test_bulk_sync_copies_both_ways_with_one_doveadm_per_group():
    fake = FakeDovecot(**sets(local={M1: 1}, remote={M2: 1}))
    fake.remote[BOB][M3] = 1
    result = engine(fake, parallel=1).sync([USER, BOB])
    alice, bob = result
    assert [c[1:3] for c in fake.syncs()] == [["sync", "-F"]], "one bulk run for one group"
    assert (
        alice["rc"] == 0
        and alice["attempts"] == 1
        and alice["changed"] is True
        and alice["in_sync"] is True
    )
    assert alice["messages"] == {
        "local": {"before": 1, "after": 2},
        "remote": {"before": 1, "after": 2},
    }
    assert bob["changed"] is True and bob["in_sync"] is True and bob["missing_on_local"] == 0
    assert dsync.summarise(result) == {
        "users": 2,
        "synced": 2,
        "failed": 0,
        "changed": 2,
        "in_sync": 2,
    }


def test_groups_follow_parallel_and_results_keep_the_users_order():
    users = ["u%d@x" % n for n in range(7)]
    fake = FakeDovecot(users=users)
    result = engine(fake, parallel=3).sync(users)
    assert [r["user"] for r in result] == users
    assert len(fake.syncs()) == 3


def test_named_users_local_reads_batched_remote_reads_per_user():
    users = ["u%d@x" % n for n in range(5)]
    fake = FakeDovecot(users=users)
    engine(fake, parallel=2).sync(users)
    fetches = [c for c in fake.calls if "fetch" in c]
    assert len([c for c in fetches if "-F" in c]) == 2  # before and after
    assert len([c for c in fetches if "-S" in c]) == 2 * len(users)


def test_for_all_users_each_side_is_read_in_one_request():
    users = ["u%d@x" % n for n in range(5)]
    fake = FakeDovecot(users=users)
    for n, user in enumerate(users):
        fake.remote[user][("INBOX", "r%d" % n)] = 1
        fake.local[user][("INBOX", "l%d" % n)] = 1
    result = engine(fake, parallel=2, remote_batch=True).sync(users)
    fetches = [c for c in fake.calls if "fetch" in c]
    assert len([c for c in fetches if "-F" in c]) == 2  # local: before and after
    assert len([c for c in fetches if "-A" in c]) == 2  # destination: before and after
    assert len(fetches) == 4, "no per-user reads"
    for entry in result:
        assert entry["in_sync"] is True and entry["changed"] is True
        assert entry["messages"] == {
            "local": {"before": 1, "after": 2},
            "remote": {"before": 1, "after": 2},
        }


def test_a_user_the_destination_batch_misses_is_read_on_its_own():
    fake = FakeDovecot(**sets(local={M1: 1}), users=[USER, BOB])
    fake.unknown_remote.add(BOB)
    alice, bob = engine(fake, remote_batch=True).compare([USER, BOB])
    assert alice["in_sync"] is False and alice["missing_on_remote"] == 1
    assert bob["failed"] is True and "No such user" in bob["error"]
    own = [c for c in fake.calls if "fetch" in c and "-u" in c]
    assert [c[c.index("-u") + 1] for c in own] == [BOB]


def test_a_failing_destination_batch_falls_back_to_per_user_reads():
    fake = FakeDovecot(**sets(local={M1: 1}, remote={M2: 1}), users=[USER, BOB])
    fake.remote_all_fails = True
    alice, bob = engine(fake, remote_batch=True).compare([USER, BOB])
    assert alice["missing_on_local"] == 1 and alice["missing_on_remote"] == 1
    assert bob["in_sync"] is True and not bob["failed"]
    assert len([c for c in fake.calls if "-S" in c and "-u" in c]) == 2


def test_both_sides_are_read_at_the_same_time():
    barrier = threading.Barrier(2, timeout=5)
    fake = FakeDovecot()

    def runner(command, timeout):
        if "fetch" in command and ("-A" in command or "-F" in command):
            barrier.wait()  # only passes when the local and the remote batch run together
        return fake(command, timeout)

    tool = doveadm.Doveadm("doveadm", runner=runner)
    (result,) = dsync.MailboxSync(tool, TCP, parallel=2, remote_batch=True).compare([USER])
    assert result["in_sync"] is True


def test_a_sync_with_nothing_to_do_is_not_a_change():
    fake = FakeDovecot(**sets(local={M1: 1}, remote={M1: 1}))
    (result,) = engine(fake).sync([USER])
    assert result["changed"] is False and result["in_sync"] is True and len(fake.syncs()) == 1


def test_a_failed_group_sends_each_of_its_users_through_its_own_runs():
    fake = FakeDovecot(**sets(local={M1: 1}))
    fake.sync_rcs[USER] = [2, 0]  # the bulk run desyncs on alice, her own run succeeds
    alice, bob = engine(fake, parallel=1).sync([USER, BOB])
    own = [c for c in fake.syncs() if "-u" in c]
    assert sorted(c[c.index("-u") + 1] for c in own) == [USER, BOB]
    assert (
        alice["attempts"] == 2
        and alice["rc"] == 0
        and alice["in_sync"] is True
        and not alice["failed"]
    )
    assert bob["attempts"] == 2 and bob["rc"] == 0


def test_exit_code_2_is_retried_per_user():
    fake = FakeDovecot(**sets(local={M1: 1}))
    fake.sync_rcs[USER] = [2, 2, 2, 0]
    (result,) = engine(fake, retries=3).sync([USER])
    assert result["attempts"] == 4 and result["rc"] == 0 and result["failed"] is False


def test_exit_code_2_beyond_the_retries_fails():
    fake = FakeDovecot(**sets(local={M1: 1}))
    fake.sync_rcs[USER] = [2, 2, 2, 2]
    (result,) = engine(fake, retries=1).sync([USER])
    assert result["attempts"] == 2 and result["failed"] is True
    assert "rc 2" in result["error"] and "2 attempt(s)" in result["error"]


def test_sets_still_differing_after_rc_0_get_one_full_sync():
    fake = FakeDovecot(**sets(local={M1: 1}))
    fake.arrivals[USER] = [M3]  # new mail lands during the bulk sync
    (result,) = engine(fake).sync([USER])
    assert "-f" in fake.syncs()[-1] and "-u" in fake.syncs()[-1]
    assert result["full_sync"] is True and result["in_sync"] is True and result["attempts"] == 2


def test_a_doveadm_error_fails_the_user_with_its_message():
    fake = FakeDovecot(**sets(local={M1: 1}))
    fake.sync_rcs[USER] = [75, 75]
    alice, bob = engine(fake, parallel=1).sync([USER, BOB])
    assert alice["failed"] is True and alice["rc"] == 75 and alice["attempts"] == 2
    assert (
        alice["error"]
        == "doveadm sync failed (rc=75): dsync-local(%s): Error: remote said no" % USER
    )
    assert bob["failed"] is False and bob["in_sync"] is True


def test_stateful_syncs_are_per_user_and_keep_state(tmp_path):
    fake = FakeDovecot(**sets(local={M1: 1}))
    states = dsync.StateStore(str(tmp_path), TCP)
    engine(fake, states=states).sync([USER])
    engine(fake, states=states).sync([USER])
    first, second = fake.syncs()
    assert "-F" not in first and first[first.index("-s") + 1] == ""
    assert second[second.index("-s") + 1].startswith("STATE-")


def test_a_stale_state_falls_back_to_a_full_sync(tmp_path):
    fake = FakeDovecot(**sets(local={M1: 1}))
    fake.sync_rcs[USER] = [75]
    states = dsync.StateStore(str(tmp_path), TCP)
    states.save(USER, "OLD")
    (result,) = engine(fake, states=states).sync([USER])
    first, second = fake.syncs()
    assert (
        first[first.index("-s") + 1] == "OLD"
        and "-f" in second
        and second[second.index("-s") + 1] == ""
    )
    assert result["failed"] is False and result["full_sync"] is True and result["attempts"] == 2
    assert result["in_sync"] is True and result["error"] is None


def test_a_failing_stateful_user_forgets_its_state(tmp_path):
    fake = FakeDovecot(**sets(local={M1: 1}))
    fake.sync_rcs[USER] = [75, 75]
    states = dsync.StateStore(str(tmp_path), TCP)
    states.save(USER, "OLD")
    (result,) = engine(fake, states=states).sync([USER])
    assert result["failed"] is True and result["attempts"] == 2 and states.load(USER) == ""


def test_over_ssh_every_user_has_its_own_runs():
    fake = FakeDovecot(**sets(local={M1: 1}))
    ssh = doveadm.Destination("ssh", "192.0.2.20")

    def runner(command, timeout):
        if command[0] == "ssh":  # the remote fetch: answered from the fake's remote side
            return fake(["doveadm", "-f", "json", "fetch", "-S", "x", "-u", USER], timeout)
        return fake(command, timeout)

    (result,) = dsync.MailboxSync(doveadm.Doveadm("doveadm", runner=runner), ssh).sync([USER])
    (sync,) = [c for c in fake.calls if "sync" in c]
    assert "-F" not in sync and sync[-4:] == ["doveadm", "dsync-server", "-u", USER]
    assert result["in_sync"] is True


def test_check_mode_and_compare_run_no_sync():
    fake = FakeDovecot(**sets(local={M1: 1}))
    (checked,) = engine(fake).compare([USER], check_mode=True)
    assert (
        checked["changed"] is True
        and checked["in_sync"] is False
        and checked["missing_on_remote"] == 1
    )
    (compared,) = engine(fake).compare([USER])
    assert compared["changed"] is False and compared["in_sync"] is False
    assert fake.syncs() == [] and fake.remote[USER] == collections.Counter()


def test_without_set_comparison_a_successful_sync_counts_as_changed():
    fake = FakeDovecot()
    (result,) = engine(fake, compare_sets=False).sync([USER])
    assert result["changed"] is True and result["in_sync"] is None
    assert [c for c in fake.calls if "fetch" in c] == []


def test_an_unreadable_side_fails_only_that_user():
    fake = FakeDovecot(**sets(local={M1: 1}))
    fake.broken_local.add(BOB)
    alice, bob = engine(fake).sync([USER, BOB])
    assert (
        bob["failed"] is True
        and "reading bob@example.test's messages on local failed" in bob["error"]
    )
    assert alice["failed"] is False and alice["in_sync"] is True
    assert all(BOB not in c for c in fake.syncs()), "an unreadable user must not be synced blind"


def test_remote_reads_run_in_parallel():
    barrier = threading.Barrier(3, timeout=5)
    fake = FakeDovecot()

    def runner(command, timeout):
        if "-S" in command:
            barrier.wait()  # only passes when three remote reads run at the same time
        return fake(command, timeout)

    users = ["a@x", "b@x", "c@x"]
    result = dsync.MailboxSync(doveadm.Doveadm("doveadm", runner=runner), TCP, parallel=3).compare(
        users
    )
    assert [r["user"] for r in result] == users and all(r["in_sync"] for r in result)
