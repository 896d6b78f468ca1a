# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rounds scheduler: every `interval` seconds a probe of every target starts, whether
or not the previous round has finished.

Rounds overlap, so a blackholed server costs its probe timeout once: probes started at
t, t+1, t+2 time out at t+T, t+T+1, t+T+2 and the third failure lands T + 2 intervals after
the outage, not 3 T. At most `max_in_flight` probes of one target run at once (enough to
cover one timeout); a round that would exceed it skips that target and counts the skip.
A result older than one already applied for the same target is dropped: newer news wins.
"""

import asyncio
import math

from ansible_collections.continuity.mail.plugins.module_utils._probe.status import (
    PROTOCOL_ERROR,
)


class Rounds:
    def __init__(self, targets, probe, interval, on_result, clock, timeout=5.0, max_in_flight=None):
        """probe(target) is a coroutine returning a result dict with at least "status";
        on_result(target, seq, started, result) receives each applied result."""
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.targets = list(targets)
        self.probe = probe
        self.interval = float(interval)
        self.on_result = on_result
        self.clock = clock
        self.max_in_flight = max_in_flight or math.ceil(timeout / self.interval) + 1
        self.seq = 0
        names = [t["name"] for t in self.targets]
        self.in_flight = dict.fromkeys(names, 0)
        self.latest = dict.fromkeys(names, 0)
        self.skipped = dict.fromkeys(names, 0)
        self.stale = dict.fromkeys(names, 0)
        self.tasks = set()

    def start_round(self):
        """Start one probe of every target that has room; returns the round's number."""
        self.seq += 1
        started = self.clock.monotonic()
        for target in self.targets:
            name = target["name"]
            if self.in_flight[name] >= self.max_in_flight:
                self.skipped[name] += 1
                continue
            self.in_flight[name] += 1
            task = asyncio.ensure_future(self._one(target, self.seq, started))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return self.seq

    async def _one(self, target, seq, started):
        name = target["name"]
        try:
            result = await self.probe(target)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a probe bug is a failed probe, never a dead monitor
            result = {
                "status": PROTOCOL_ERROR,
                "error": "monitor: %s: %s" % (type(exc).__name__, exc),
            }
        finally:
            self.in_flight[name] -= 1
        if seq <= self.latest[name]:
            self.stale[name] += 1
            return
        self.latest[name] = seq
        self.on_result(target, seq, started, result)

    async def run(self, rounds=None, stop=None, after_round=None):
        """Start rounds on the interval's grid until `rounds` have started or `stop` is set.
        A monitor that fell behind (a stalled host) resumes on a fresh grid, no burst."""
        count = 0
        next_at = self.clock.monotonic()
        while (rounds is None or count < rounds) and not (stop is not None and stop.is_set()):
            self.start_round()
            count += 1
            if after_round is not None:
                after_round()
            next_at += self.interval
            delay = next_at - self.clock.monotonic()
            if delay < 0:
                next_at = self.clock.monotonic()
                delay = 0.0
            await self.clock.sleep(delay)

    async def drain(self):
        """Wait for every probe still running (shutdown, tests)."""
        if self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    def cancel(self):
        for task in list(self.tasks):
            task.cancel()
