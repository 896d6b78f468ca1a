"""Two Dovecot servers as doveadm sees them, for mailbox_sync unit tests."""
import collections
import threading


HEADER = "mailbox\tguid\n"


def render(messages):
    lines = [HEADER]
    for (mailbox, guid), count in sorted(messages.items()):
        lines.extend("%s\t%s\n" % (mailbox, guid) for _ in range(count))
    return "".join(lines)


class FakeDovecot:
    """Two Dovecots as doveadm sees them: message sets per user on each side."""

    def __init__(self, local=None, remote=None, users=("alice@example.test",)):
        self.local = collections.defaultdict(collections.Counter, local or {})
        self.remote = collections.defaultdict(collections.Counter, remote or {})
        self.users = list(users)
        self.sync_rcs = collections.defaultdict(list)   # user -> rcs to return, in order
        self.arrivals = collections.defaultdict(list)   # user -> messages arriving during a sync
        self.calls = []
        self.lock = threading.Lock()

    def __call__(self, command, timeout):
        with self.lock:
            self.calls.append(command)
        if command[-2:] == ["user", "*"]:
            return 0, "".join(u + "\n" for u in self.users), ""
        user = command[command.index("-u") + 1]
        if "fetch" in command:
            side = self.remote if "-S" in command else self.local
            return 0, render(side[user]), ""
        assert "sync" in command
        rc = self.sync_rcs[user].pop(0) if self.sync_rcs[user] else 0
        if rc not in (0, 2):
            return rc, "", "dsync-local(%s): Error: remote said no\nsome trailer\n" % user
        merged = self.local[user] | self.remote[user]
        self.local[user], self.remote[user] = collections.Counter(merged), collections.Counter(merged)
        if self.arrivals[user]:
            self.local[user][self.arrivals[user].pop(0)] += 1
        return rc, "STATE-%d\n" % len(self.calls), ""

    def syncs(self):
        return [c for c in self.calls if "sync" in c]
