# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The site lock as a lease: what a TXT record says, and what each action does with it.

Pure logic, no I/O: decide() gets the record's values as read and the clock, and says what
to write (or delete) and whether the action may go ahead. The DNS side (_site/lock.py) sends
that as one UPDATE with a prerequisite on exactly the values read, so of two runs that read
the same record only one can win.

The record is one TXT string of space-separated key=value words:
``v=1 owner=alice run=20260101T120000Z-42 host=ctl1 expires=1767268920``.
A lease is held until ``expires`` (seconds since the epoch); a holder that is alive renews
it between its steps, a holder that died lets it expire, and the next run takes it over.
"""

import time

VERSION = "1"
# A record written before leases existed ("run=... by=... at=...") expires this long after
# its "at" (the old fixed lock timeout).
LEGACY_TIMEOUT = 900
ACTIONS = ("read", "take", "renew", "release", "break")


class LeaseError(ValueError):
    """Bad input (a run id with spaces...): nothing is read or written."""


def _word(value, what):
    text = str(value if value is not None else "").strip()
    if not text:
        raise LeaseError("%s must not be empty" % what)
    if any(char.isspace() or char in '="\\' for char in text) or len(text) > 100:
        raise LeaseError(
            "%s %r may not contain spaces, '=', quotes or backslashes (at most 100 characters)"
            % (what, text)
        )
    return text


def clean(value, what):
    """A run id, owner or host checked for use as one word of the record."""
    return _word(value, what)


def iso(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)) if epoch is not None else None


class Lease:
    """One lease as written in the record. expires is None for a record of unknown format
    (it never expires by itself: only `break` removes it)."""

    def __init__(self, owner, run_id, host, expires, raw=None):
        self.owner = owner
        self.run_id = run_id
        self.host = host
        self.expires = expires
        self.raw = raw if raw is not None else self.encode()

    def encode(self):
        return "v=%s owner=%s run=%s host=%s expires=%d" % (
            VERSION,
            self.owner,
            self.run_id,
            self.host,
            self.expires,
        )

    def expired(self, now):
        return self.expires is not None and now >= self.expires

    def describe(self, now):
        """'run R (owner O on host H) until 2026-...Z (in 85 s)' for messages."""
        who = "run %s (owner %s on host %s)" % (
            self.run_id or "?",
            self.owner or "?",
            self.host or "?",
        )
        if self.expires is None:
            return "%s, no expiry in the record %r" % (who, self.raw)
        left = int(self.expires - now)
        when = "in %d s" % left if left >= 0 else "expired %d s ago" % -left
        return "%s until %s (%s)" % (who, iso(self.expires), when)

    def as_dict(self, now):
        return {
            "owner": self.owner,
            "run_id": self.run_id,
            "host": self.host,
            "expires": self.expires,
            "expires_at": iso(self.expires),
            "expired": self.expired(now),
            "seconds_left": None if self.expires is None else int(self.expires - now),
            "record": self.raw,
        }


def parse(text):
    """The Lease a TXT string describes (any string parses; unknown ones never expire)."""
    fields = {}
    for word in text.split():
        key, sep, value = word.partition("=")
        if sep:
            fields[key] = value
    expires = None
    if fields.get("expires", "").isdigit():
        expires = int(fields["expires"])
    elif fields.get("at", "").isdigit():
        expires = int(fields["at"]) + LEGACY_TIMEOUT
    return Lease(
        owner=fields.get("owner"),
        run_id=fields.get("run"),
        host=fields.get("host") or fields.get("by"),
        expires=expires,
        raw=text,
    )


def holder_of(texts):
    """The Lease of the record's values (the latest to expire when there are several), or None
    when the record does not exist."""
    leases = [parse(text) for text in texts]
    if not leases:
        return None
    never = [lease for lease in leases if lease.expires is None]
    if never:
        return never[0]
    return max(leases, key=lambda lease: lease.expires)


class Decision:
    """What an action does: ok (may proceed), write (the new TXT string), delete, message."""

    def __init__(self, ok, message, write=None, delete=False, lease=None):
        self.ok = ok
        self.message = message
        self.write = write
        self.delete = delete
        # The lease the record holds after the action (None: no lock).
        self.lease = lease

    @property
    def changes(self):
        return self.write is not None or self.delete


def decide(action, texts, run_id, now, seconds, owner=None, host=None):
    """What `action` does with a record whose TXT values are `texts`.

    take:    the record is absent, expired or already ours -> write our lease;
             held by another run and not expired -> not ok, naming holder and expiry.
    renew:   ours (even if expired, as long as nobody took it) -> write a new expiry;
             absent or another run's -> not ok (the lock was lost).
    release: ours -> delete; absent or another run's -> ok, nothing touched.
    break:   the operator names the run id that holds it -> delete; another holder -> not ok.
    read:    nothing changes.
    """
    if action not in ACTIONS:
        raise LeaseError("action must be one of %s, got %r" % (", ".join(ACTIONS), action))
    if seconds is None or int(seconds) < 1:
        raise LeaseError("the lease must be at least 1 second, got %r" % (seconds,))
    current = holder_of(texts)
    if action == "read":
        return Decision(True, _read_message(current, now), lease=current)
    run_id = clean(run_id, "run_id")
    ours = current is not None and current.run_id == run_id and len(texts) == 1
    if action in ("take", "renew"):
        mine = Lease(clean(owner, "owner"), run_id, clean(host, "host"), int(now + int(seconds)))
    if action == "take":
        if current is None:
            return Decision(
                True, "lock taken until %s" % iso(mine.expires), mine.encode(), lease=mine
            )
        if ours:
            return Decision(
                True,
                "lock already ours; renewed until %s" % iso(mine.expires),
                mine.encode(),
                lease=mine,
            )
        if current.expired(now):
            return Decision(
                True,
                "lock taken over from %s; ours until %s"
                % (current.describe(now), iso(mine.expires)),
                mine.encode(),
                lease=mine,
            )
        return Decision(
            False,
            "the site lock is held by %s: another continuity run is in progress; nothing was "
            "changed (it is taken over once it expires, or break it with its run id)"
            % current.describe(now),
            lease=current,
        )
    if action == "renew":
        if ours:
            return Decision(
                True, "lock renewed until %s" % iso(mine.expires), mine.encode(), lease=mine
            )
        if current is None:
            return Decision(False, "the site lock is gone: it is no longer ours (run %s)" % run_id)
        return Decision(
            False,
            "the site lock is no longer ours (run %s): it is held by %s"
            % (run_id, current.describe(now)),
            lease=current,
        )
    if action == "release":
        if ours:
            return Decision(True, "lock released", delete=True)
        if current is None:
            return Decision(True, "no lock to release")
        return Decision(
            True,
            "the site lock is not ours (run %s), left as it is: held by %s"
            % (run_id, current.describe(now)),
            lease=current,
        )
    # break
    if current is None:
        return Decision(True, "no lock to break")
    if current.run_id == run_id:
        return Decision(True, "lock of %s broken" % current.describe(now), delete=True)
    return Decision(
        False,
        "the site lock is held by %s, not by run %s; nothing was changed"
        % (current.describe(now), run_id),
        lease=current,
    )


def describe_lock(current, now):
    """A sentence on the lock as read: free, free (expired), or held by whom until when."""
    return _read_message(current, now)


def _read_message(current, now):
    if current is None:
        return "the site lock is free"
    if current.expired(now):
        return "the site lock is free (expired): %s" % current.describe(now)
    return "the site lock is held by %s" % current.describe(now)
