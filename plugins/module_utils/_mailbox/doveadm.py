# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""doveadm for mailbox synchronisation: where the other Dovecot is, the command lines, running
them, and reading their output. The sync logic itself is in dsync.

A user's message set is the multiset of (mailbox name, message GUID): dsync keeps GUIDs, so
two servers hold the same messages exactly when their sets are equal. Sets are read with
`doveadm -f json fetch`: one process for all users on each side (-F locally, -A on the
destination), one per user only where a batch cannot answer. JSON, because the tab formatter
relayed from a remote doveadm server (-S) splits values with stray tabs at stream buffer
boundaries, and JSON also keeps tabs or newlines in mailbox names intact.

Standard library only: this runs on the mail hosts.
"""

import collections
import json
import os
import shlex
import shutil
import subprocess
import tempfile

FETCH_FIELDS = "mailbox guid"
# The same in Dovecot 2.3 and 2.4 (-f json, -S host:port, -u/-F/-A).
FORMAT = ["-f", "json"]


class DsyncError(Exception):
    """A doveadm step failed in a way that ends this user's synchronisation."""


class Destination:
    """Where the other Dovecot is and how doveadm reaches it."""

    def __init__(
        self,
        transport,
        host,
        port=None,
        ssh_user=None,
        ssh_options=None,
        remote_doveadm="doveadm",
        tls=False,
    ):
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
        # doveadm TCP inside TLS (tcps:, doveadm_ssl=ssl): the certificate is verified
        # against the CA (ssl_client_ca_file) and the name in host.
        self.tls = bool(tls) and transport == "tcp"

    def describe(self):
        """A printable name for results and messages (never carries a secret)."""
        if self.transport == "tcp":
            return "%s:%s:%d" % ("tcps" if self.tls else "tcp", self.host, self.port)
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

    def sync_target(self, user=None):
        """The destination arguments of `doveadm sync` (user: only needed over SSH)."""
        if self.transport == "tcp":
            return [self.describe()]
        # A full command line as destination: doveadm runs it and speaks dsync over its
        # stdin/stdout. No -U (replicator notification; gone in Dovecot 2.4).
        return self.ssh_command() + [self.remote_doveadm, "dsync-server", "-u", user]


class Doveadm:
    """Builds and runs doveadm command lines on the local host."""

    def __init__(
        self, doveadm="doveadm", config_path=None, timeout=600, runner=None, settings=None
    ):
        self.doveadm = doveadm
        self.config_path = config_path
        self.timeout = timeout
        self.runner = runner or run_command
        # Settings given to every doveadm run (-o name=value), e.g. the TLS client settings.
        self.settings = dict(settings or {})

    def base(self):
        command = [self.doveadm]
        if self.config_path:
            command.extend(["-c", self.config_path])
        for name in sorted(self.settings):
            command.extend(["-o", "%s=%s" % (name, self.settings[name])])
        return command

    def run(self, command):
        return self.runner(command, self.timeout)

    def list_users(self):
        """Every user the local userdb can iterate (doveadm user '*')."""
        rc, out, err = self.run(self.base() + ["user", "*"])
        if rc != 0:
            raise DsyncError("listing the local users failed (rc=%s): %s" % (rc, error_text(err)))
        return sorted(set(line.strip() for line in out.splitlines() if line.strip()))

    def read_command(self, words, who, args, destination=None):
        """A read-only doveadm mail command in JSON (fetch, mailbox list): locally, on the
        destination's doveadm server (-S), or over SSH. `who` is ["-u", user], ["-F", file]
        (a file on the host that runs doveadm) or ["-A"] (every user of that host's userdb).
        Every read command line is built here."""
        if destination is None:
            return self.base() + FORMAT + words + who + args
        if destination.transport == "tcp":
            server = ["-S", "%s:%d" % (destination.host, destination.port)]
            return self.base() + FORMAT + words + server + who + args
        remote = [destination.remote_doveadm] + FORMAT + words + who + args
        # ssh joins its arguments into one remote shell line: quote every word.
        return destination.ssh_command() + [" ".join(shlex.quote(word) for word in remote)]

    def fetch_command(self, who, destination=None):
        """`doveadm fetch` of every message's mailbox and GUID (see read_command for who)."""
        return self.read_command(["fetch"], who, [FETCH_FIELDS, "all"], destination)

    def _read(self, command, what):
        rc, out, err = self.run(command)
        if rc != 0:
            raise DsyncError("reading %s failed (rc=%s): %s" % (what, rc, error_text(err)))
        return out

    def message_set(self, user, destination=None):
        """Multiset (Counter) of (mailbox, guid) held by the user on one side."""
        side = "local" if destination is None else destination.describe()
        out = self._read(
            self.fetch_command(["-u", user], destination), "%s's messages on %s" % (user, side)
        )
        return parse_message_set(out)

    def local_message_sets(self, users):
        """{user: Counter} for many local users with one doveadm process (users with no mail
        are absent from doveadm's output and get an empty set). Raises DsyncError."""
        with UsersFile(users) as path:
            out = self._read(self.fetch_command(["-F", path]), "the local messages")
        sets = parse_message_sets(out)
        return dict((user, sets.get(user, collections.Counter())) for user in users)

    def remote_message_sets(self, users, destination):
        """{user: Counter} for the given users from one `fetch -A` on the destination (its
        userdb decides who "all" is; -F would name a file on the destination). Users with no
        messages there are confirmed by one `mailbox list -A`; users neither lists are left
        out, for a per-user read to tell why. Raises DsyncError."""
        side = destination.describe()
        out = self._read(self.fetch_command(["-A"], destination), "the messages on %s" % side)
        found = parse_message_sets(out)
        sets = dict((user, found[user]) for user in users if user in found)
        if len(sets) < len(users):
            listed = self._read(
                self.read_command(["mailbox", "list"], ["-A"], [], destination),
                "the mailboxes on %s" % side,
            )
            known = set(row["username"] for row in parse_rows(listed, ["username"]))
            for user in users:
                if user not in sets and user in known:
                    sets[user] = collections.Counter()
        return sets

    def sync_command(
        self,
        destination,
        lock_timeout,
        io_timeout,
        user=None,
        users_file=None,
        state=None,
        full=False,
    ):
        """`doveadm sync` of one user, or of every user in users_file (doveadm TCP only)."""
        who = ["-F", users_file] if users_file else ["-u", user]
        command = self.base() + ["sync"] + who + ["-l", str(lock_timeout), "-T", str(io_timeout)]
        if full:
            command.append("-f")
        if state is not None:
            command.extend(["-s", state])
        return command + destination.sync_target(user)


class UsersFile:
    """A private temporary file listing users, one a line, for doveadm -F."""

    def __init__(self, users):
        self.users = users
        self.path = None

    def __enter__(self):
        handle, self.path = tempfile.mkstemp(prefix="continuity-users-", suffix=".txt")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write("".join(user + "\n" for user in self.users))
        return self.path

    def __exit__(self, *exc):
        os.unlink(self.path)


def run_command(command, timeout):
    """Run a command without a shell; return (rc, stdout, stderr). rc is None on timeout."""
    env = dict(os.environ, LC_ALL="C", LANG="C")
    try:
        proc = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
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


def error_text(text):
    """doveadm's error lines (Error:/Fatal:), else its last line; short enough for a message."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not lines:
        return "no error output"
    errors = [line for line in lines if "Error:" in line or "Fatal:" in line]
    chosen = list(dict.fromkeys(errors))[:3] if errors else lines[-1:]
    text = " / ".join(chosen)
    return text if len(text) <= 600 else text[:597] + "..."


def parse_rows(output, keys):
    """The rows of doveadm's JSON output (a list of objects), each checked for `keys`."""
    if not output.strip():
        return []
    try:
        rows = json.loads(output)
    except ValueError as exc:
        raise DsyncError(
            "unexpected doveadm output (not JSON): %s: %r" % (exc, output[:200])
        ) from exc
    if not isinstance(rows, list):
        raise DsyncError("unexpected doveadm output (not a list): %r" % output[:200])
    for row in rows:
        if not isinstance(row, dict) or any(not isinstance(row.get(key), str) for key in keys):
            raise DsyncError("unexpected doveadm output row: %r" % (row,))
    return rows


def parse_message_sets(output):
    """Parse multi-user (-F/-A) `doveadm -f json fetch 'mailbox guid'` output: {user: Counter}."""
    sets = collections.defaultdict(collections.Counter)
    for row in parse_rows(output, ["username", "mailbox", "guid"]):
        sets[row["username"]][(row["mailbox"], row["guid"])] += 1
    return dict(sets)


def parse_message_set(output):
    """Parse one user's `doveadm -f json fetch 'mailbox guid'` output into a Counter of
    (mailbox, guid); duplicates count."""
    messages = collections.Counter()
    for row in parse_rows(output, ["mailbox", "guid"]):
        messages[(row["mailbox"], row["guid"])] += 1
    return messages


def compare(local, remote):
    """What one side holds that the other does not (counts, multiset semantics)."""
    return {
        "missing_on_remote": sum((local - remote).values()),
        "missing_on_local": sum((remote - local).values()),
    }


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
