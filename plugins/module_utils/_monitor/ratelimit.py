# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deduplication and rate limiting, per contact: the same alert key is sent once per
`dedup_seconds`, and no contact gets more than `burst` alerts at once or more than
`per_hour` an hour (a token bucket). What is held back is counted, never queued: a storm
is summarised by the metrics, not delivered late."""


class Limiter:
    def __init__(self, dedup_seconds=600.0, per_hour=20, burst=5):
        self.dedup = float(dedup_seconds)
        self.rate = per_hour / 3600.0
        self.burst = float(burst)
        self._sent = {}  # (contact, key) -> time last sent
        self._buckets = {}  # contact -> (tokens, time)
        self.deduplicated = 0
        self.rate_limited = 0

    def allow(self, contact, key, now):
        last = self._sent.get((contact, key))
        if last is not None and now - last < self.dedup:
            self.deduplicated += 1
            return False
        tokens, then = self._buckets.get(contact, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        if tokens < 1.0:
            self._buckets[contact] = (tokens, now)
            self.rate_limited += 1
            return False
        self._buckets[contact] = (tokens - 1.0, now)
        self._sent[(contact, key)] = now
        return True
