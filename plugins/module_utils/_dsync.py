# -*- coding: utf-8 -*-
# Copyright: continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Two-way mailbox synchronisation with `doveadm sync`, one user at a time, many users at once.

The host running this code is "local"; the destination Dovecot (reached over the doveadm TCP
protocol or through SSH) is "remote". Each user's message set - the multiset of
(mailbox name, message GUID) - is read on both sides before and after the sync, which tells
what the sync changed and whether both sides now hold exactly the same messages.

Standard library only: this runs on the mail hosts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import concurrent.futures
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import tempfile

# doveadm sync exit codes (sysexits-like): 2 = done, but the mailbox changed meanwhile and
# another run is needed; anything else non-zero is an error that a retry will not fix.
RC_OK = 0
RC_DESYNC = 2

# dsync matches messages by GUID; the fetch query lists them without opening bodies.
FETCH_FIELDS = "mailbox guid"
# Dovecot message GUIDs are 32 hex digits.
GUID_LENGTH = 32
_HEX = re.compile(r"^[0-9a-f]+$")


class DsyncError(Exception):
    """A doveadm step failed in a way that ends this user's synchronisation."""


class Destination:
    """Where the other Dovecot is and how doveadm reaches it."""

    def __init__(self, transport, host, port=None, ssh_user=None, ssh_options=None,
                 remote_doveadm="doveadm"):
        if transport not in ("tcp", "ssh"):
            raise ValueError("transport must be tcp or ssh, not %r" % (transport,))
        if not host:
            raise ValueError("host must not be empty")
        self.transport = transport
        self.host = host
        self.port = port if port else (12345 if transport == "tcp" else 22)
        self.ssh_user = ssh_user
        self.ssh_options = list(ssh_options or [])
        self.remote_doveadm = remote_doveadm

    def describe(self):
        """A printable name for results and messages (never carries a secret)."""
        if self.transport == "tcp":
            return "tcp:%s:%d" % (self.host, self.port)
        login = "%s@" % self.ssh_user if self.ssh_user else ""
        return "ssh:%s%s:%d" % (login, self.host, self.port)

    def ssh_command(self):
        """The ssh client invocation up to (and including) the host name."""
        command = ["ssh", "-o", "BatchMode=yes", "-p", str(self.port)]
        if self.ssh_user:
            command.extend(["-l", self.ssh_user])
        command.extend(self.ssh_options)
        command.append(self.host)
        return command

    def sync_target(self, user):
        """The destination arguments of `doveadm sync` for one user."""
        if self.transport == "tcp":
            return ["tcp:%s:%d" % (self.host, self.port)]
        # A full command line as destination: doveadm runs it and speaks dsync over its
        # stdin/stdout. No -U (replicator notification; gone in Dovecot 2.4).
        return self.ssh_command() + [self.remote_doveadm, "dsync-server", "-u", user]


class Doveadm:
    """Builds and runs doveadm command lines on the local host."""

    def __init__(self, doveadm="doveadm", config_path=None, timeout=600, runner=None):
        self.doveadm = doveadm
        self.config_path = config_path
        self.timeout = timeout
        self.runner = runner or run_command

    def base(self):
        command = [self.doveadm]
        if self.config_path:
            command.extend(["-c", self.config_path])
        return command

    def run(self, command):
        return self.runner(command, self.timeout)

    def list_users(self):
        """Every user the local userdb can iterate (doveadm user '*')."""
        rc, out, err = self.run(self.base() + ["user", "*"])
        if rc != 0:
            raise DsyncError("listing the local users failed (rc=%s): %s" % (rc, _last_line(err)))
        return sorted(set(line.strip() for line in out.splitlines() if line.strip()))

    def fetch_command(self, user, destination=None):
        """`doveadm fetch` of every message's mailbox and GUID, locally or on the destination."""
        fetch = ["-f", "tab", "fetch"]
        query = ["-u", user, FETCH_FIELDS, "all"]
        if destination is None:
            return self.base() + fetch + query
        if destination.transport == "tcp":
            server = ["-S", "%s:%d" % (destination.host, destination.port)]
            return self.base() + fetch + server + query
        remote = [destination.remote_doveadm] + fetch + query
        # ssh joins its arguments into one remote shell line: quote every word.
        return destination.ssh_command() + [" ".join(shlex.quote(word) for word in remote)]

    def message_set(self, user, destination=None):
        """Multiset (Counter) of (mailbox, guid) held by the user on one side."""
        side = "local" if destination is None else destination.describe()
        rc, out, err = self.run(self.fetch_command(user, destination))
        if rc != 0:
            raise DsyncError("reading %s's messages on %s failed (rc=%s): %s"
                             % (user, side, rc, _last_line(err)))
        return parse_message_set(out)

    def sync_command(self, user, destination, lock_timeout, io_timeout, state=None, full=False):
        command = self.base() + ["sync", "-u", user, "-l", str(lock_timeout), "-T", str(io_timeout)]
        if full:
            command.append("-f")
        if state is not None:
            command.extend(["-s", state])
        return command + destination.sync_target(user)


def run_command(command, timeout):
    """Run a command without a shell; return (rc, stdout, stderr). rc is None on timeout."""
    env = dict(os.environ, LC_ALL="C", LANG="C")
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              env=env, check=False)
    except subprocess.TimeoutExpired as exc:
        return None, _text(exc.stdout), _text(exc.stderr) + "\ntimed out after %ss" % timeout
    except OSError as exc:
        return None, "", "cannot run %s: %s" % (command[0], exc)
    return proc.returncode, proc.stdout, proc.stderr


def _text(value):
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _last_line(text):
    """doveadm's error lines (Error:/Fatal:), else its last line; short enough for a message."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not lines:
        return "no error output"
    errors = [line for line in lines if "Error:" in line or "Fatal:" in line]
    chosen = list(dict.fromkeys(errors))[:3] if errors else lines[-1:]
    text = " / ".join(chosen)
    return text if len(text) <= 600 else text[:597] + "..."


def parse_message_set(output):
    """Parse `doveadm -f tab fetch 'mailbox guid'` output into a Counter of (mailbox, guid).

    The first line is the header. The GUID is the last column and never contains a tab,
    so a mailbox name is everything before it. Output relayed from a remote doveadm server
    (-S host:port) can carry a stray tab where a value crossed a stream buffer, splitting a
    GUID in two ("INBOX\t79c5080ad1\tda096b...\t"); such a row is put back together.
    """
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines:
        return collections.Counter()
    header = [name.strip().lower() for name in lines[0].split("\t")]
    if header[-2:] != ["mailbox", "guid"]:
        raise DsyncError("unexpected doveadm fetch header: %r" % lines[0])
    messages = collections.Counter()
    for line in lines[1:]:
        mailbox, sep, guid = line.rstrip("\t").rpartition("\t")
        if not sep or not guid:
            raise DsyncError("unexpected doveadm fetch line: %r" % line)
        if _HEX.match(guid) and len(guid) < GUID_LENGTH:
            head, split, piece = mailbox.rpartition("\t")
            if split and _HEX.match(piece) and len(piece) + len(guid) == GUID_LENGTH:
                mailbox, guid = head, piece + guid
        if len(header) > 2:
            # -A or -F output prepends the user name column.
            mailbox = mailbox.split("\t", len(header) - 2)[-1]
        messages[(mailbox, guid)] += 1
    return messages


def compare(local, remote):
    """What one side holds that the other does not (counts, multiset semantics)."""
    return {
        "missing_on_remote": sum((local - remote).values()),
        "missing_on_local": sum((remote - local).values()),
    }


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


def password_config(password, include="/etc/dovecot/dovecot.conf"):
    """A private Dovecot config that includes the system one and sets doveadm_password.

    Keeps the secret off every command line (visible to all local users in /proc).
    Returns (directory, config path); the caller removes the directory.
    """
    directory = tempfile.mkdtemp(prefix="continuity-dsync-")
    path = os.path.join(directory, "dovecot.conf")
    quoted = password.replace("\\", "\\\\").replace('"', '\\"')
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("!include %s\n" % include)
        handle.write('doveadm_password = "%s"\n' % quoted)
    return directory, path


def remove_config(directory):
    if directory:
        shutil.rmtree(directory, ignore_errors=True)


class UserSync:
    """Synchronise (or only compare) one user, retrying while doveadm reports a desync."""

    def __init__(self, doveadm, destination, retries=3, lock_timeout=60, io_timeout=120,
                 states=None, compare_sets=True, check_mode=False, compare_only=False):
        self.doveadm = doveadm
        self.destination = destination
        self.retries = retries
        self.lock_timeout = lock_timeout
        self.io_timeout = io_timeout
        self.states = states
        self.compare_sets = compare_sets
        self.check_mode = check_mode
        self.compare_only = compare_only

    def sets(self, user):
        return (self.doveadm.message_set(user),
                self.doveadm.message_set(user, self.destination))

    def __call__(self, user):
        result = {
            "user": user, "rc": None, "attempts": 0, "changed": False, "in_sync": None,
            "failed": False, "full_sync": False, "error": None,
            "messages": {"local": {"before": None, "after": None},
                         "remote": {"before": None, "after": None}},
            "missing_on_local": None, "missing_on_remote": None,
        }
        try:
            self._run(user, result)
        except DsyncError as exc:
            result["failed"] = True
            result["error"] = str(exc)
        return result

    def _record(self, result, when, local, remote):
        result["messages"]["local"][when] = sum(local.values())
        result["messages"]["remote"][when] = sum(remote.values())
        result.update(compare(local, remote))
        result["in_sync"] = local == remote

    def _run(self, user, result):
        before = None
        if self.compare_sets or self.check_mode or self.compare_only:
            before = self.sets(user)
            self._record(result, "before", *before)
        if self.check_mode or self.compare_only:
            # Nothing is written; "after" is what a sync would have to reach.
            result["messages"]["local"]["after"] = result["messages"]["local"]["before"]
            result["messages"]["remote"]["after"] = result["messages"]["remote"]["before"]
            result["changed"] = not result["in_sync"] if self.check_mode else False
            return

        full = False
        while result["attempts"] <= self.retries:
            result["attempts"] += 1
            rc, state = self._sync_once(user, result, full)
            if rc == RC_DESYNC:
                continue
            if rc != RC_OK and not full and self.states is not None:
                # An incremental sync fails (rc 75, "Modseq ... no longer in transaction
                # log") once the saved state is older than the mailbox logs: go full.
                full = True
                result["full_sync"] = True
                continue
            if rc != RC_OK:
                result["failed"] = True
                return
            if self.states is not None and state:
                self.states.save(user, state)
            if before is None:
                # Without message sets nothing tells a no-op sync from a real one.
                result["changed"] = True
                return
            after = self.sets(user)
            self._record(result, "after", *after)
            result["changed"] = after != before
            if result["in_sync"]:
                return
            # rc 0 but the sets differ: mail arrived meanwhile, or the saved state missed a
            # change. Retry once more with a full sync that ignores the state.
            full = True
            result["full_sync"] = True
        if result["rc"] == RC_DESYNC:
            result["failed"] = True
            result["error"] = ("doveadm sync still reported changes during the sync (rc 2) "
                               "after %d attempt(s)" % result["attempts"])

    def _sync_once(self, user, result, full):
        result["error"] = None
        state = None
        if self.states is not None and not full:
            state = self.states.load(user)
        elif self.states is not None:
            state = ""
        command = self.doveadm.sync_command(user, self.destination, self.lock_timeout,
                                            self.io_timeout, state=state, full=full)
        rc, out, err = self.doveadm.run(command)
        result["rc"] = rc
        if rc not in (RC_OK, RC_DESYNC):
            result["error"] = "doveadm sync failed (rc=%s): %s" % (rc, _last_line(err))
            if self.states is not None:
                # A failed run may leave the saved state behind the mailboxes: start afresh.
                self.states.forget(user)
        new_state = out.strip().splitlines()[-1].strip() if out.strip() else None
        return rc, new_state


def sync_users(users, worker, parallel):
    """Run worker(user) for every user, `parallel` at a time; results in the users' order."""
    if not users:
        return []
    workers = max(1, min(parallel, len(users)))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(worker, users))


def summarise(results):
    return {
        "users": len(results),
        "synced": sum(1 for r in results if not r["failed"] and r["rc"] == RC_OK),
        "failed": sum(1 for r in results if r["failed"]),
        "changed": sum(1 for r in results if r["changed"]),
        "in_sync": sum(1 for r in results if r["in_sync"]),
    }
