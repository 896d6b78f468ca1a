# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Two-way mailbox synchronisation with `doveadm sync` for many users: bulk runs, per-user
retries, verification, results.

The host running this is "local", the destination Dovecot "remote" (see doveadm). A sync
goes in up to two stages:

  bulk        over doveadm TCP without saved state, the users are split into `parallel`
              groups and each group is synced by one `doveadm sync -F` process (spawning one
              doveadm per user costs more than most syncs);
  per user    every user a bulk run did not finish cleanly (its group exited non-zero, or
              its message sets still differ afterwards), and every user when syncing over
              SSH or with saved state, gets its own `doveadm sync` runs: exit code 2 is
              retried, and sets that still differ after rc 0 get one full sync (-f).

With comparison on, each user's message set is read on both sides before and after, which
gives `changed`, the per-side counts and `in_sync`. Each read is one doveadm process per side
for all users (see doveadm), both sides at the same time.

Standard library only: this runs on the mail hosts.
"""

import concurrent.futures
import hashlib
import os
import tempfile

from ansible_collections.continuity.mail.plugins.module_utils._mailbox.doveadm import (
    DsyncError,
    UsersFile,
    compare,
    error_text,
)

# doveadm sync exit codes (sysexits-like): 2 = done, but the mailbox changed meanwhile and
# another run is needed; anything else non-zero is an error that a retry will not fix.
RC_OK = 0
RC_DESYNC = 2


class StateStore:
    """One dsync state per (destination, user), so stateful syncs only send changes."""

    def __init__(self, directory, destination):
        self.directory = directory
        self.key = destination.describe()

    def path(self, user):
        digest = hashlib.sha256(("%s\0%s" % (self.key, user)).encode("utf-8")).hexdigest()
        return os.path.join(self.directory, digest[:40] + ".state")

    def load(self, user):
        try:
            with open(self.path(user), encoding="ascii") as handle:
                return handle.read().strip()
        except (OSError, UnicodeDecodeError):
            # No state yet, or unreadable: dsync treats "" as "first sync" (full compare).
            return ""

    def save(self, user, state):
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=self.directory, prefix=".state-")
        try:
            with os.fdopen(handle, "w", encoding="ascii") as out:
                out.write(state + "\n")
            os.replace(tmp, self.path(user))
        except Exception:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def forget(self, user):
        try:
            os.unlink(self.path(user))
        except OSError:
            pass


def new_result(user):
    return {
        "user": user,
        "rc": None,
        "attempts": 0,
        "changed": False,
        "in_sync": None,
        "failed": False,
        "full_sync": False,
        "error": None,
        "messages": {
            "local": {"before": None, "after": None},
            "remote": {"before": None, "after": None},
        },
        "missing_on_local": None,
        "missing_on_remote": None,
    }


def _record(result, when, sets):
    local, remote = sets
    result["messages"]["local"][when] = sum(local.values())
    result["messages"]["remote"][when] = sum(remote.values())
    result.update(compare(local, remote))
    result["in_sync"] = local == remote


class MailboxSync:
    """Synchronise or compare a list of users with one destination."""

    def __init__(
        self,
        doveadm,
        destination,
        parallel=4,
        retries=3,
        lock_timeout=60,
        io_timeout=120,
        states=None,
        compare_sets=True,
        remote_batch=False,
    ):
        self.doveadm = doveadm
        self.destination = destination
        self.parallel = max(1, parallel)
        self.retries = retries
        self.lock_timeout = lock_timeout
        self.io_timeout = io_timeout
        self.states = states
        self.compare_sets = compare_sets
        # Read the destination's sets with one `fetch -A` (its whole userdb): for users=all.
        self.remote_batch = remote_batch
        # doveadm -F reads the user list locally, which the SSH command line (one user) cannot.
        self.bulk = states is None and destination.transport == "tcp"

    def _map(self, function, items):
        items = list(items)
        if not items:
            return []
        workers = min(self.parallel, len(items))
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(function, items))

    # --- reading both sides ------------------------------------------------------------------

    def read_sets(self, users, results, when):
        """{user: (local set, remote set)} for the users both sides could be read for; the
        others are marked failed in results. Each side is read in one batch (both at the same
        time); a user a batch could not answer for is read on its own."""

        def local_batch():
            return self.doveadm.local_message_sets(users)

        def remote_batch():
            if not self.remote_batch:
                return {}
            return self.doveadm.remote_message_sets(users, self.destination)

        def batch(read):
            try:
                return read()
            except DsyncError:
                return {}  # one bad user spoils a batch: read one by one to find out who

        local, remote = self._map(batch, [local_batch, remote_batch])

        def read(user):
            try:
                mine = local[user] if user in local else self.doveadm.message_set(user)
                theirs = (
                    remote[user]
                    if user in remote
                    else self.doveadm.message_set(user, self.destination)
                )
                return user, (mine, theirs), None
            except DsyncError as exc:
                return user, None, str(exc)

        sets = {}
        for user, pair, error in self._map(read, users):
            if error:
                results[user]["failed"], results[user]["error"] = True, error
            else:
                sets[user] = pair
                _record(results[user], when, pair)
        return sets

    # --- what the module calls ----------------------------------------------------------------

    def compare(self, users, check_mode=False):
        """Read only. In check mode `changed` says whether a sync would change anything."""
        results = dict((user, new_result(user)) for user in users)
        for user in self.read_sets(users, results, "before"):
            result = results[user]
            result["messages"]["local"]["after"] = result["messages"]["local"]["before"]
            result["messages"]["remote"]["after"] = result["messages"]["remote"]["before"]
            result["changed"] = bool(check_mode and not result["in_sync"])
        return [results[user] for user in users]

    def sync(self, users):
        results = dict((user, new_result(user)) for user in users)
        before = self.read_sets(users, results, "before") if self.compare_sets else {}
        todo = [user for user in users if not results[user]["failed"]]
        individual = list(todo)
        if self.bulk and todo:
            individual = self._bulk(todo, results)
            finished = [user for user in todo if user not in individual]
            if self.compare_sets:
                after = self.read_sets(finished, results, "after")
                for user, pair in after.items():
                    results[user]["changed"] = pair != before[user]
                    if not results[user]["in_sync"]:
                        results[user]["full_sync"] = True  # the next run ignores nothing
                        individual.append(user)
            else:
                for user in finished:
                    results[user]["changed"] = True
        self._map(lambda user: self._one(user, results[user], before.get(user)), individual)
        return [results[user] for user in users]

    # --- the two stages -----------------------------------------------------------------------

    def _bulk(self, users, results):
        """One `doveadm sync -F` per group; returns the users that need their own runs."""
        groups = [users[index :: self.parallel] for index in range(min(self.parallel, len(users)))]

        def run(group):
            with UsersFile(group) as path:
                command = self.doveadm.sync_command(
                    self.destination, self.lock_timeout, self.io_timeout, users_file=path
                )
                return group, self.doveadm.run(command)[0]

        again = []
        for group, rc in self._map(run, groups):
            for user in group:
                results[user]["attempts"] = 1
                results[user]["rc"] = rc
            if rc != RC_OK:
                # Which user desynced or failed is not told by the exit code: ask each.
                again.extend(group)
        return again

    def _one(self, user, result, before):
        """Own doveadm runs for one user until in sync, failed, or out of attempts."""
        full = result["full_sync"]
        result["failed"], result["error"] = False, None
        while result["attempts"] <= self.retries:
            result["attempts"] += 1
            rc, state = self._sync_once(user, result, full)
            if rc == RC_DESYNC:
                continue
            if rc != RC_OK and not full and self.states is not None:
                # An incremental sync fails (rc 75, "Modseq ... no longer in transaction
                # log") once the saved state is older than the mailbox logs: go full.
                full = result["full_sync"] = True
                continue
            if rc != RC_OK:
                result["failed"] = True
                return
            if self.states is not None and state:
                self.states.save(user, state)
            if before is None:
                result["changed"] = True  # without message sets a no-op looks like any sync
                return
            try:
                after = (
                    self.doveadm.message_set(user),
                    self.doveadm.message_set(user, self.destination),
                )
            except DsyncError as exc:
                result["failed"], result["error"] = True, str(exc)
                return
            _record(result, "after", after)
            result["changed"] = after != before
            if result["in_sync"]:
                return
            # rc 0 but the sets differ: mail arrived meanwhile, or the saved state missed a
            # change. Once more, with a full sync that ignores the state.
            full = result["full_sync"] = True
        if result["rc"] == RC_DESYNC:
            result["failed"] = True
            result["error"] = (
                "doveadm sync still reported changes during the sync (rc 2) "
                "after %d attempt(s)" % result["attempts"]
            )

    def _sync_once(self, user, result, full):
        result["error"] = None
        state = None
        if self.states is not None:
            state = "" if full else self.states.load(user)
        command = self.doveadm.sync_command(
            self.destination, self.lock_timeout, self.io_timeout, user=user, state=state, full=full
        )
        rc, out, err = self.doveadm.run(command)
        result["rc"] = rc
        if rc not in (RC_OK, RC_DESYNC):
            result["error"] = "doveadm sync failed (rc=%s): %s" % (rc, error_text(err))
            if self.states is not None:
                # A failed run may leave the saved state behind the mailboxes: start afresh.
                self.states.forget(user)
        new_state = out.strip().splitlines()[-1].strip() if out.strip() else None
        return rc, new_state


def summarise(results):
    return {
        "users": len(results),
        "synced": sum(1 for r in results if not r["failed"] and r["rc"] == RC_OK),
        "failed": sum(1 for r in results if r["failed"]),
        "changed": sum(1 for r in results if r["changed"]),
        "in_sync": sum(1 for r in results if r["in_sync"]),
    }
