# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Two Dovecot servers as doveadm sees them, for mailbox_sync unit tests."""

import collections
import json
import threading


def rows(messages, user=None):
    """doveadm -f json fetch 'mailbox guid' rows (with the username key for -A/-F)."""
    out = []
    for (mailbox, guid), count in sorted(messages.items()):
        row = {"username": user} if user else {}
        row.update({"mailbox": mailbox, "guid": guid})
        out.extend(dict(row) for _ in range(count))
    return out


def render(messages, user=None):
    return json.dumps(rows(messages, user))


class FakeDovecot:
    """Message sets per user on each side; answers doveadm user/fetch/sync command lines."""

    def __init__(self, local=None, remote=None, users=("alice@example.test",)):
        self.local = collections.defaultdict(collections.Counter, local or {})
        self.remote = collections.defaultdict(collections.Counter, remote or {})
        self.users = list(users)
        self.sync_rcs = collections.defaultdict(list)  # user -> rcs to return, in order
        self.arrivals = collections.defaultdict(list)  # user -> messages arriving during a sync
        self.broken_local = set()  # users whose local fetch fails
        self.unknown_remote = set()  # users the destination's userdb does not know
        self.remote_all_fails = False  # the destination cannot iterate its users (-A)
        self.calls = []
        self.lock = threading.Lock()

    def __call__(self, command, timeout):
        with self.lock:
            self.calls.append(command)
            return self._answer(command)

    def _who(self, command):
        if "-A" in command:
            known = set(self.users) | set(u for u, m in self.remote.items() if m)
            return sorted(known - self.unknown_remote)
        if "-F" in command:
            with open(command[command.index("-F") + 1], encoding="utf-8") as handle:
                return [line.strip() for line in handle if line.strip()]
        return [command[command.index("-u") + 1]]

    def _answer(self, command):
        if command[-2:] == ["user", "*"]:
            return 0, "".join(u + "\n" for u in self.users), ""
        users = self._who(command)
        if "list" in command:
            assert "-A" in command and "-S" in command
            return 0, json.dumps([{"username": u, "mailbox": "INBOX"} for u in users]), ""
        if "fetch" in command:
            assert command[command.index("fetch") - 2 : command.index("fetch")] == ["-f", "json"]
            if "-A" in command:
                assert "-S" in command, "only the destination is read with -A"
                if self.remote_all_fails:
                    return 75, "", "doveadm: Error: Failed to iterate through some users\n"
                return 0, json.dumps([r for u in users for r in rows(self.remote[u], u)]), ""
            if "-F" in command:
                if self.broken_local & set(users):
                    return 75, "", "doveadm(%s): Error: broken\n" % sorted(self.broken_local)[0]
                return 0, json.dumps([r for u in users for r in rows(self.local[u], u)]), ""
            side = self.remote if "-S" in command else self.local
            if side is self.local and users[0] in self.broken_local:
                return 75, "", "doveadm(%s): Error: broken\n" % users[0]
            if side is self.remote and users[0] in self.unknown_remote:
                return 67, "[]", "doveadm(%s): Error: No such user\n" % users[0]
            return 0, render(side[users[0]]), ""
        assert "sync" in command
        worst, errors = 0, []
        for user in users:
            rc = self.sync_rcs[user].pop(0) if self.sync_rcs[user] else 0
            if rc not in (0, 2):
                errors.append("dsync-local(%s): Error: remote said no\nsome trailer\n" % user)
                worst = rc
                break  # doveadm stops iterating after a failed user
            merged = self.local[user] | self.remote[user]
            self.local[user], self.remote[user] = (
                collections.Counter(merged),
                collections.Counter(merged),
            )
            if self.arrivals[user]:
                self.local[user][self.arrivals[user].pop(0)] += 1
            worst = worst or rc
        return worst, ("STATE-%d\n" % len(self.calls)) if "-s" in command else "", "".join(errors)

    def syncs(self):
        return [c for c in self.calls if "sync" in c]
