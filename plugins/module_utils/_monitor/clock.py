# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time as the monitor sees it: a monotonic clock for intervals, wall time for people and
metrics, and an awaitable sleep. Tests replace all three with a fake clock."""

import asyncio
import functools
import time


class SystemClock:
    def monotonic(self):
        return time.monotonic()

    def wall(self):
        return time.time()

    async def sleep(self, seconds):
        await asyncio.sleep(max(0.0, seconds))


async def in_thread(function, *args):
    """Run a blocking call (urllib, a UDP query, SMTP submission) off the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(function, *args))
