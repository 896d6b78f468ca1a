# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_mailbox.doveadm: destinations, command lines, output parsing, the private password file."""

import collections
import json
import os
import stat

import pytest

from ansible_collections.continuity.mail.plugins.module_utils._mailbox import doveadm
from dovecot_fake import FakeDovecot

USER = "alice@example.test"
M1, M2, M3 = ("INBOX", "g1"), ("INBOX", "g2"), ("Sent", "g3")


def test_parse_message_set_counts_duplicates_and_keeps_tabs_in_names():
    out = json.dumps(
        [
            {"mailbox": "INBOX", "guid": "g1"},
            {"mailbox": "INBOX", "guid": "g1"},
            {"mailbox": "Weird\tname\n2", "guid": "g2"},
        ]
    )
    assert doveadm.parse_message_set(out) == collections.Counter(
        {("INBOX", "g1"): 2, ("Weird\tname\n2", "g2"): 1}
    )
    assert doveadm.parse_message_set("") == collections.Counter()
    assert doveadm.parse_message_set("[]") == collections.Counter()


def test_parse_message_set_ignores_the_user_key_of_multi_user_output():
    out = '[{"username": "alice@example.test", "mailbox": "INBOX", "guid": "g1"}]'
    assert doveadm.parse_message_set(out) == collections.Counter({("INBOX", "g1"): 1})


@pytest.mark.parametrize(
    "bad",
    [
        "mailbox\tguid\nINBOX\tg1\n",  # the tab formatter, not JSON
        '[{"mailbox": "INBOX"}]',
        '[{"mailbox": "INBOX", "guid": null}]',
        '{"mailbox": "INBOX", "guid": "g1"}',
        '[["INBOX", "g1"]]',
        '[{"mailbox": "INBOX", "guid": "g1"}',  # cut short
    ],
)
def test_parse_message_set_rejects_what_it_does_not_understand(bad):
    with pytest.raises(doveadm.DsyncError):
        doveadm.parse_message_set(bad)


def test_parse_message_sets_groups_by_user_and_counts_duplicates():
    out = json.dumps(
        [
            {"username": "a@x", "mailbox": "INBOX", "guid": "59c5121b15cf096b9f2600006f0f2a94"},
            {"username": "a@x", "mailbox": "INBOX", "guid": "59c5121b15cf096b9f2600006f0f2a94"},
            {"username": "b@x", "mailbox": "Sent Items", "guid": "g9"},
            {"username": "a@x", "mailbox": "Sent Items", "guid": "g9"},
        ]
    )
    assert doveadm.parse_message_sets(out) == {
        "a@x": collections.Counter(
            {("INBOX", "59c5121b15cf096b9f2600006f0f2a94"): 2, ("Sent Items", "g9"): 1}
        ),
        "b@x": collections.Counter({("Sent Items", "g9"): 1}),
    }
    assert doveadm.parse_message_sets("") == {}
    assert doveadm.parse_message_sets("[]") == {}
    with pytest.raises(doveadm.DsyncError):
        doveadm.parse_message_sets('[{"mailbox": "INBOX", "guid": "g1"}]')  # no username


def test_compare_is_a_multiset_difference():
    local = collections.Counter({M1: 2, M2: 1})
    remote = collections.Counter({M1: 1, M3: 1})
    assert doveadm.compare(local, remote) == {"missing_on_remote": 2, "missing_on_local": 1}


def test_destinations_and_command_lines():
    tcp = doveadm.Destination("tcp", "mx1.example.test")
    assert tcp.describe() == "tcp:mx1.example.test:12345"
    assert tcp.sync_target(USER) == ["tcp:mx1.example.test:12345"]
    ssh = doveadm.Destination(
        "ssh",
        "mx1.example.test",
        ssh_user="root",
        ssh_options=["-i", "/k"],
        remote_doveadm="/usr/bin/doveadm",
    )
    assert ssh.port == 22 and ssh.describe() == "ssh:root@mx1.example.test:22"
    assert ssh.sync_target(USER) == [
        "ssh",
        "-o",
        "BatchMode=yes",
        "-p",
        "22",
        "-l",
        "root",
        "-i",
        "/k",
        "mx1.example.test",
        "/usr/bin/doveadm",
        "dsync-server",
        "-u",
        USER,
    ]
    assert "-U" not in ssh.sync_target(USER), "-U (replicator) does not exist in Dovecot 2.4"
    with pytest.raises(ValueError):
        doveadm.Destination("tcps", "x")
    with pytest.raises(ValueError):
        doveadm.Destination("tcp", "")

    tool = doveadm.Doveadm("doveadm", config_path="/tmp/c.conf")
    assert tool.fetch_command(["-u", USER]) == [
        "doveadm",
        "-c",
        "/tmp/c.conf",
        "-f",
        "json",
        "fetch",
        "-u",
        USER,
        "mailbox guid",
        "all",
    ]
    assert tool.fetch_command(["-A"], tcp)[5:9] == ["fetch", "-S", "mx1.example.test:12345", "-A"]
    assert tool.fetch_command(["-F", "/tmp/u"])[5:8] == ["fetch", "-F", "/tmp/u"]
    assert tool.read_command(["mailbox", "list"], ["-A"], [], tcp) == [
        "doveadm",
        "-c",
        "/tmp/c.conf",
        "-f",
        "json",
        "mailbox",
        "list",
        "-S",
        "mx1.example.test:12345",
        "-A",
    ]
    remote = tool.fetch_command(["-u", "o'brien@example.test"], ssh)
    assert (
        remote[-1]
        == "/usr/bin/doveadm -f json fetch -u 'o'\"'\"'brien@example.test' 'mailbox guid' all"
    )
    everyone = "/usr/bin/doveadm -f json fetch -A 'mailbox guid' all"
    assert tool.fetch_command(["-A"], ssh)[-1] == everyone
    assert tool.sync_command(tcp, 30, 90, user=USER, state="S1", full=True) == [
        "doveadm",
        "-c",
        "/tmp/c.conf",
        "sync",
        "-u",
        USER,
        "-l",
        "30",
        "-T",
        "90",
        "-f",
        "-s",
        "S1",
        "tcp:mx1.example.test:12345",
    ]
    assert tool.sync_command(tcp, 30, 90, users_file="/tmp/u")[3:6] == ["sync", "-F", "/tmp/u"]


def test_users_file_lists_users_and_disappears():
    with doveadm.UsersFile(["a@x", "b@x"]) as path:
        with open(path, encoding="utf-8") as handle:
            assert handle.read() == "a@x\nb@x\n"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not os.path.exists(path)


def test_local_message_sets_in_one_run_and_users_without_mail():
    fake = FakeDovecot(local={USER: collections.Counter({M1: 1})}, users=[USER, "bob@example.test"])
    sets = doveadm.Doveadm("doveadm", runner=fake).local_message_sets([USER, "bob@example.test"])
    assert sets == {USER: collections.Counter({M1: 1}), "bob@example.test": collections.Counter()}
    assert len(fake.calls) == 1
    fake.broken_local.add("bob@example.test")
    with pytest.raises(doveadm.DsyncError, match="reading the local messages failed"):
        doveadm.Doveadm("doveadm", runner=fake).local_message_sets([USER, "bob@example.test"])


def test_list_users():
    fake = FakeDovecot(users=["b@x", "a@x", "a@x"])
    assert doveadm.Doveadm("doveadm", runner=fake).list_users() == ["a@x", "b@x"]


def test_error_text_prefers_error_lines():
    assert (
        doveadm.error_text("info\ndoveadm(a): Error: x\ndoveadm(a): Error: x\nFatal: y\n")
        == "doveadm(a): Error: x / Fatal: y"
    )
    assert doveadm.error_text("only a line\nlast line\n") == "last line"
    assert doveadm.error_text("") == "no error output"


def test_password_config_is_private_and_quoted():
    directory, path = doveadm.password_config('pa"ss\\word', include="/etc/dovecot/dovecot.conf")
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with open(path, encoding="utf-8") as handle:
            assert (
                handle.read()
                == '!include /etc/dovecot/dovecot.conf\ndoveadm_password = "pa\\"ss\\\\word"\n'
            )
    finally:
        doveadm.remove_config(directory)
    assert not os.path.exists(directory)


def test_run_command_reports_timeouts_and_missing_binaries():
    rc, dummy, err = doveadm.run_command(["sleep", "5"], timeout=0.2)
    assert rc is None and "timed out" in err
    rc, _out, err = doveadm.run_command(["/nonexistent/doveadm"], timeout=5)
    assert rc is None and "cannot run" in err


def test_remote_message_sets_in_one_request_and_users_without_mail():
    fake = FakeDovecot(
        remote={USER: collections.Counter({M1: 2})}, users=[USER, "bob@example.test"]
    )
    tcp = doveadm.Destination("tcp", "mx1.example.test")
    tool = doveadm.Doveadm("doveadm", runner=fake)
    sets = tool.remote_message_sets([USER, "bob@example.test"], tcp)
    assert sets == {USER: collections.Counter({M1: 2}), "bob@example.test": collections.Counter()}
    # bob has no mail there: one more request (mailbox list) confirms he exists
    assert [c[3] for c in fake.calls] == ["fetch", "mailbox"]
    fake.calls.clear()
    assert tool.remote_message_sets([USER], tcp) == {USER: collections.Counter({M1: 2})}
    assert len(fake.calls) == 1
    fake.unknown_remote.add("bob@example.test")
    sets = tool.remote_message_sets([USER, "bob@example.test"], tcp)
    assert sets == {USER: collections.Counter({M1: 2})}, "unknown there: left to a per-user read"
    fake.remote_all_fails = True
    with pytest.raises(doveadm.DsyncError, match=r"reading the messages on tcp:mx1\.example\.test"):
        tool.remote_message_sets([USER], tcp)
