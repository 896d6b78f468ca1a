# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Flap detection: a key (a target, an alert) that changed state `changes` times within
`window` seconds is flapping. A flapping primary is never failed over automatically and its
further state changes are not alerted one by one; it stays flapping until it has held
still for a whole window."""

import collections


class FlapDetector:
    def __init__(self, changes=4, window=120.0):
        if changes < 2:
            raise ValueError("changes must be at least 2")
        self.changes = changes
        self.window = float(window)
        self._times = collections.defaultdict(collections.deque)
        self._flapping = set()

    def record(self, key, now):
        """Note one state change of `key`; returns whether it is flapping now."""
        self._times[key].append(now)
        return self.flapping(key, now)

    def flapping(self, key, now):
        times = self._times.get(key)
        if not times:
            self._flapping.discard(key)
            return False
        last = times[-1]
        while times and times[0] < now - self.window:
            times.popleft()
        if len(times) >= self.changes:
            self._flapping.add(key)
        elif key in self._flapping and now - last >= self.window:
            self._flapping.discard(key)
        return key in self._flapping
