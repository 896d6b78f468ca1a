"""_dsync: doveadm command lines, output parsing, retries, state, parallelism (doveadm faked)."""
import collections
import os
import stat
import threading

import pytest

from ansible_collections.continuity.mail.plugins.module_utils import _dsync

from dovecot_fake import HEADER, FakeDovecot

def worker(fake, **kwargs):
    doveadm = _dsync.Doveadm("/usr/bin/doveadm", runner=fake)
    destination = _dsync.Destination("tcp", "192.0.2.20")
    return _dsync.UserSync(doveadm, destination, **kwargs)


USER = "alice@example.test"
M1, M2, M3 = ("INBOX", "g1"), ("INBOX", "g2"), ("Sent", "g3")


def test_parse_message_set_counts_duplicates_and_keeps_tabs_in_names():
    out = HEADER + "INBOX\tg1\nINBOX\tg1\nWeird\tname\tg2\n"
    assert _dsync.parse_message_set(out) == collections.Counter({("INBOX", "g1"): 2, ("Weird\tname", "g2"): 1})
    assert _dsync.parse_message_set("") == collections.Counter()
    assert _dsync.parse_message_set(HEADER) == collections.Counter()


def test_parse_message_set_drops_the_user_column_of_multi_user_output():
    out = "username\tmailbox\tguid\nalice@example.test\tINBOX\tg1\n"
    assert _dsync.parse_message_set(out) == collections.Counter({("INBOX", "g1"): 1})


@pytest.mark.parametrize("bad", ["uid\tflags\n1\t\\Seen\n", HEADER + "INBOX\n", HEADER + "INBOX\t\n"])
def test_parse_message_set_rejects_what_it_does_not_understand(bad):
    with pytest.raises(_dsync.DsyncError):
        _dsync.parse_message_set(bad)


def test_compare_is_a_multiset_difference():
    local = collections.Counter({M1: 2, M2: 1})
    remote = collections.Counter({M1: 1, M3: 1})
    assert _dsync.compare(local, remote) == {"missing_on_remote": 2, "missing_on_local": 1}


def test_destinations_and_command_lines():
    tcp = _dsync.Destination("tcp", "mx1.example.test")
    assert tcp.describe() == "tcp:mx1.example.test:12345"
    assert tcp.sync_target(USER) == ["tcp:mx1.example.test:12345"]
    ssh = _dsync.Destination("ssh", "mx1.example.test", ssh_user="root", ssh_options=["-i", "/k"],
                             remote_doveadm="/usr/bin/doveadm")
    assert ssh.port == 22 and ssh.describe() == "ssh:root@mx1.example.test:22"
    assert ssh.sync_target(USER) == ["ssh", "-o", "BatchMode=yes", "-p", "22", "-l", "root", "-i", "/k",
                                     "mx1.example.test", "/usr/bin/doveadm", "dsync-server", "-u", USER]
    assert "-U" not in ssh.sync_target(USER), "-U (replicator) does not exist in Dovecot 2.4"
    with pytest.raises(ValueError):
        _dsync.Destination("tcps", "x")
    with pytest.raises(ValueError):
        _dsync.Destination("tcp", "")

    doveadm = _dsync.Doveadm("doveadm", config_path="/tmp/c.conf")
    assert doveadm.fetch_command(USER) == ["doveadm", "-c", "/tmp/c.conf", "-f", "tab", "fetch",
                                           "-u", USER, "mailbox guid", "all"]
    assert doveadm.fetch_command(USER, tcp)[6:8] == ["-S", "mx1.example.test:12345"]
    remote = doveadm.fetch_command("o'brien@example.test", ssh)
    assert remote[-1] == "/usr/bin/doveadm -f tab fetch -u 'o'\"'\"'brien@example.test' 'mailbox guid' all"
    assert doveadm.sync_command(USER, tcp, 30, 90, state="S1", full=True) == [
        "doveadm", "-c", "/tmp/c.conf", "sync", "-u", USER, "-l", "30", "-T", "90", "-f", "-s", "S1",
        "tcp:mx1.example.test:12345"]


def test_password_config_is_private_and_quoted(tmp_path):
    directory, path = _dsync.password_config('pa"ss\\word', include="/etc/dovecot/dovecot.conf")
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with open(path, encoding="utf-8") as handle:
            assert handle.read() == '!include /etc/dovecot/dovecot.conf\ndoveadm_password = "pa\\"ss\\\\word"\n'
    finally:
        _dsync.remove_config(directory)
    assert not os.path.exists(directory)


def test_state_store_is_per_destination_and_user(tmp_path):
    one = _dsync.StateStore(str(tmp_path / "s"), _dsync.Destination("tcp", "a"))
    two = _dsync.StateStore(str(tmp_path / "s"), _dsync.Destination("tcp", "b"))
    assert one.load(USER) == ""
    one.save(USER, "STATE")
    assert one.load(USER) == "STATE" and two.load(USER) == ""
    assert one.path(USER) != one.path("bob@example.test")
    assert stat.S_IMODE(os.stat(str(tmp_path / "s")).st_mode) == 0o700
    one.forget(USER)
    assert one.load(USER) == ""


def test_sync_copies_both_ways_and_reports_counts():
    fake = FakeDovecot(local={USER: collections.Counter({M1: 1})}, remote={USER: collections.Counter({M2: 1})})
    result = worker(fake)(USER)
    assert result["failed"] is False and result["rc"] == 0 and result["attempts"] == 1
    assert result["changed"] is True and result["in_sync"] is True
    assert result["messages"] == {"local": {"before": 1, "after": 2}, "remote": {"before": 1, "after": 2}}
    assert result["missing_on_local"] == 0 and result["missing_on_remote"] == 0


def test_a_sync_with_nothing_to_do_is_not_a_change():
    fake = FakeDovecot(local={USER: collections.Counter({M1: 1})}, remote={USER: collections.Counter({M1: 1})})
    result = worker(fake)(USER)
    assert result["changed"] is False and result["in_sync"] is True and len(fake.syncs()) == 1


def test_exit_code_2_is_retried():
    fake = FakeDovecot(local={USER: collections.Counter({M1: 1})})
    fake.sync_rcs[USER] = [2, 2, 0]
    result = worker(fake, retries=3)(USER)
    assert result["attempts"] == 3 and result["rc"] == 0 and result["failed"] is False


def test_exit_code_2_beyond_the_retries_fails():
    fake = FakeDovecot(local={USER: collections.Counter({M1: 1})})
    fake.sync_rcs[USER] = [2, 2, 2, 2]
    result = worker(fake, retries=1)(USER)
    assert result["attempts"] == 2 and result["failed"] is True
    assert "rc 2" in result["error"] and "2 attempt(s)" in result["error"]


def test_sets_still_differing_after_rc_0_get_one_full_sync_without_state(tmp_path):
    fake = FakeDovecot(local={USER: collections.Counter({M1: 1})})
    fake.arrivals[USER] = [M3]   # new mail lands during the first sync
    states = _dsync.StateStore(str(tmp_path), _dsync.Destination("tcp", "192.0.2.20"))
    states.save(USER, "OLD")
    result = worker(fake, states=states)(USER)
    first, second = fake.syncs()
    assert first[first.index("-s") + 1] == "OLD" and "-f" not in first
    assert "-f" in second and second[second.index("-s") + 1] == ""
    assert result["full_sync"] is True and result["in_sync"] is True and result["attempts"] == 2
    assert states.load(USER).startswith("STATE-")


def test_a_doveadm_error_fails_the_user_and_forgets_the_state(tmp_path):
    fake = FakeDovecot(local={USER: collections.Counter({M1: 1})})
    fake.sync_rcs[USER] = [75, 75]
    states = _dsync.StateStore(str(tmp_path), _dsync.Destination("tcp", "192.0.2.20"))
    states.save(USER, "OLD")
    result = worker(fake, states=states, retries=3)(USER)
    # The stateful attempt fails, the full one (state ignored) fails too: the user fails.
    assert result["failed"] is True and result["rc"] == 75 and result["attempts"] == 2
    assert result["full_sync"] is True
    assert result["error"] == "doveadm sync failed (rc=75): dsync-local(%s): Error: remote said no" % USER
    assert states.load(USER) == ""


def test_a_stale_state_falls_back_to_a_full_sync(tmp_path):
    fake = FakeDovecot(local={USER: collections.Counter({M1: 1})})
    fake.sync_rcs[USER] = [75]
    states = _dsync.StateStore(str(tmp_path), _dsync.Destination("tcp", "192.0.2.20"))
    states.save(USER, "OLD")
    result = worker(fake, states=states, retries=3)(USER)
    assert result["failed"] is False and result["full_sync"] is True and result["attempts"] == 2
    assert result["in_sync"] is True and result["error"] is None


def test_check_mode_and_compare_run_no_sync():
    fake = FakeDovecot(local={USER: collections.Counter({M1: 1})})
    checked = worker(fake, check_mode=True)(USER)
    assert checked["changed"] is True and checked["in_sync"] is False and checked["missing_on_remote"] == 1
    compared = worker(fake, compare_only=True)(USER)
    assert compared["changed"] is False and compared["in_sync"] is False
    assert fake.syncs() == [] and fake.remote[USER] == collections.Counter()


def test_without_set_comparison_a_successful_sync_counts_as_changed():
    fake = FakeDovecot()
    result = worker(fake, compare_sets=False)(USER)
    assert result["changed"] is True and result["in_sync"] is None
    assert [c for c in fake.calls if "fetch" in c] == []


def test_an_unreadable_side_fails_the_user():
    def runner(command, timeout):
        if "-S" in command:
            return 75, "", "doveadm(x): Fatal: connect(192.0.2.20:12345) failed: No route to host\n"
        return 0, HEADER, ""
    doveadm = _dsync.Doveadm("doveadm", runner=runner)
    result = _dsync.UserSync(doveadm, _dsync.Destination("tcp", "192.0.2.20"))(USER)
    assert result["failed"] is True and "No route to host" in result["error"] and "tcp:192.0.2.20" in result["error"]


def test_users_run_in_parallel_and_results_keep_their_order():
    barrier = threading.Barrier(3, timeout=5)

    def work(user):
        barrier.wait()   # only returns when three users run at the same time
        return {"user": user}

    users = ["c@x", "a@x", "b@x"]
    assert [r["user"] for r in _dsync.sync_users(users, work, parallel=3)] == users
    assert _dsync.sync_users([], work, parallel=3) == []


def test_list_users_and_summary():
    fake = FakeDovecot(users=["b@x", "a@x", "a@x"])
    assert _dsync.Doveadm("doveadm", runner=fake).list_users() == ["a@x", "b@x"]
    results = [{"failed": False, "rc": 0, "changed": True, "in_sync": True},
               {"failed": True, "rc": 75, "changed": False, "in_sync": None}]
    assert _dsync.summarise(results) == {"users": 2, "synced": 1, "failed": 1, "changed": 1, "in_sync": 1}


def test_run_command_reports_timeouts_and_missing_binaries():
    rc, out, err = _dsync.run_command(["sleep", "5"], timeout=0.2)
    assert rc is None and "timed out" in err
    rc, out, err = _dsync.run_command(["/nonexistent/doveadm"], timeout=5)
    assert rc is None and "cannot run" in err
