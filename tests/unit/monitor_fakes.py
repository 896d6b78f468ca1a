# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fakes for the continuity monitor's unit tests: a clock whose time moves only when the
test says so (asyncio sleeps wake in time order), probes that answer from a scripted
world, and peers reached in memory."""

import asyncio
import heapq
import itertools

WALL_OFFSET = 1_800_000_000.0


async def settle(turns=50):
    """Let every runnable task run until nothing is left to do at this instant."""
    for _ in range(turns):
        await asyncio.sleep(0)


class FakeClock:
    def __init__(self, start=100.0):
        self.now = float(start)
        self._sleepers = []
        self._order = itertools.count()

    def monotonic(self):
        return self.now

    def wall(self):
        return self.now + WALL_OFFSET

    async def sleep(self, seconds):
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._order), future))
        await future

    async def advance(self, seconds):
        """Move time forward by `seconds`, waking every sleeper due on the way in order."""
        end = self.now + seconds
        while True:
            await settle()
            if not self._sleepers or self._sleepers[0][0] > end:
                break
            when, _order, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, when)
            if not future.done():
                future.set_result(None)
        self.now = end
        await settle()


class World:
    """What each target does, as seen from one vantage point: "ok", "refused", "tempfail",
    or "blackhole" (no answer until the probe's timeout)."""

    def __init__(self, clock, timeout=3.0, default="ok"):
        self.clock = clock
        self.timeout = timeout
        self.default = default
        self.hosts = {}
        self.calls = 0

    def set(self, host, behaviour):
        self.hosts[host] = behaviour

    async def probe(self, target):
        self.calls += 1
        behaviour = self.hosts.get(target["host"], self.default)
        if behaviour == "blackhole":
            await self.clock.sleep(self.timeout)
            return {"status": "timeout", "error": "no answer", "elapsed_ms": self.timeout * 1000}
        if behaviour == "refused":
            return {"status": "refused", "error": "connection refused", "elapsed_ms": 0.4}
        if behaviour == "tempfail":
            return {"status": "tempfail", "error": "421 try later", "elapsed_ms": 1.2}
        return {
            "status": "ok",
            "error": None,
            "elapsed_ms": 2.5,
            "phases": {"connect": 0.5, "greeting": 1.0, "ehlo": 1.0},
        }


def targets():
    return [
        {"name": "mx1 smtp", "host": "mx1", "protocol": "smtp", "labels": {"role": "primary"}},
        {"name": "mx1 imaps", "host": "mx1", "protocol": "imaps", "labels": {"role": "primary"}},
        {"name": "mx2 smtp", "host": "mx2", "protocol": "smtp", "labels": {"role": "secondary"}},
    ]


def verdict(monitor, at, **targets_state):
    """A peer's verdict document: targets_state maps target name -> (up, fails)."""
    out = {}
    for name, (up, fails) in targets_state.items():
        host = name.split()[0]
        out[name] = {
            "host": host,
            "port": 25,
            "protocol": name.split()[1],
            "labels": {"role": "primary" if host == "mx1" else "secondary"},
            "up": up,
            "fails": fails,
            "oks": 0 if fails else 5,
            "recent_failures": fails,
            "flapping": False,
            "status": "ok" if up else "timeout",
            "error": None,
            "elapsed_ms": 3.0,
            "cert_not_after": None,
        }
    return {"version": 1, "monitor": monitor, "at": at, "targets": out}
