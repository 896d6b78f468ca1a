# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rise/fall counters: a target presumed up turns down after `fall` consecutive failed
probes, and back up after `rise` consecutive good ones. Failures that never reach `fall`
(a server that blips: a run of failures ended by a good probe while up) are counted over
a sliding window so they can be reported as "degraded" without ever counting as down;
the failures of a real outage are not blips."""

import collections


class RiseFall:
    def __init__(self, rise=2, fall=3, window=60.0, up=True):
        if rise < 1 or fall < 1:
            raise ValueError("rise and fall must be at least 1")
        self.rise = rise
        self.fall = fall
        self.window = float(window)
        self.up = up
        self.fails = 0  # consecutive failed probes
        self.oks = 0  # consecutive good probes
        self.since = None  # when the current state began (monotonic), None: since start
        self.changes = 0
        self._recent = collections.deque()  # when blips (failed probes) ended, in the window

    def observe(self, healthy, now):
        """Count one probe; returns "down" or "up" when the state changes, else None."""
        if healthy:
            if self.up and 0 < self.fails < self.fall:
                self._recent.extend([now] * self.fails)
            self.oks += 1
            self.fails = 0
        else:
            self.fails += 1
            self.oks = 0
        self._expire(now)
        if self.up and self.fails >= self.fall:
            return self._change(False, now)
        if not self.up and self.oks >= self.rise:
            return self._change(True, now)
        return None

    def _change(self, up, now):
        self.up = up
        self.since = now
        self.changes += 1
        return "up" if up else "down"

    def _expire(self, now):
        while self._recent and self._recent[0] < now - self.window:
            self._recent.popleft()

    def recent_failures(self, now):
        """Failed probes of blips that ended within the window ending now."""
        self._expire(now)
        return len(self._recent)
