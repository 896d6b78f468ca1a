# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import asyncio

from ansible_collections.continuity.mail.plugins.module_utils._monitor.counters import RiseFall
from ansible_collections.continuity.mail.plugins.module_utils._monitor.rounds import Rounds
from monitor_fakes import FakeClock, World

TARGET = {"name": "mx1 smtp", "host": "mx1"}


def drive(scenario):
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(scenario())
    finally:
        loop.close()


def test_blackhole_costs_the_timeout_once_not_once_per_round():
    async def scenario():
        clock = FakeClock(start=0.0)
        world = World(clock, timeout=3.0)
        world.set("mx1", "blackhole")
        counter = RiseFall(rise=2, fall=3)
        went_down = []

        def on_result(target, seq, started, result):
            if counter.observe(result["status"] == "ok", clock.monotonic()) == "down":
                went_down.append(clock.monotonic())

        rounds = Rounds([TARGET], world.probe, 1.0, on_result, clock, timeout=3.0)
        stop = asyncio.Event()
        runner = asyncio.ensure_future(rounds.run(stop=stop))
        await clock.advance(10.5)
        stop.set()
        await clock.advance(5)
        await runner
        return went_down, rounds

    went_down, rounds = drive(scenario)
    # Probes start at 0, 1, 2 and time out at 3, 4, 5: down after timeout + 2 intervals.
    assert went_down == [5.0]
    assert rounds.skipped["mx1 smtp"] == 0


def test_a_target_never_has_more_probes_in_flight_than_allowed():
    async def scenario():
        clock = FakeClock(start=0.0)
        world = World(clock, timeout=10.0)
        world.set("mx1", "blackhole")
        rounds = Rounds([TARGET], world.probe, 1.0, lambda *a: None, clock, max_in_flight=2)
        await asyncio.gather(rounds.run(rounds=5), clock.advance(6))
        peak = rounds.in_flight["mx1 smtp"]
        rounds.cancel()
        await rounds.drain()
        return rounds, world, peak

    rounds, world, peak = drive(scenario)
    assert world.calls == 2 and peak == 2
    assert rounds.skipped["mx1 smtp"] == 3


def test_older_results_arriving_late_are_dropped():
    async def scenario():
        clock = FakeClock(start=0.0)
        seen = []
        delays = iter([5.0, 0.1])

        async def probe(target):
            await clock.sleep(next(delays))
            return {"status": "ok"}

        rounds = Rounds([TARGET], probe, 1.0, lambda t, seq, s, r: seen.append(seq), clock)
        rounds.start_round()
        await clock.advance(1)
        rounds.start_round()
        await clock.advance(10)
        return seen, rounds

    seen, rounds = drive(scenario)
    assert seen == [2]
    assert rounds.stale["mx1 smtp"] == 1


def test_a_probe_that_raises_counts_as_a_failed_probe():
    async def scenario():
        clock = FakeClock()
        seen = []

        async def probe(target):
            raise RuntimeError("bug")

        rounds = Rounds([TARGET], probe, 1.0, lambda t, q, s, r: seen.append(r), clock)
        rounds.start_round()
        await clock.advance(0)
        return seen

    (result,) = drive(scenario)
    assert result["status"] == "protocol_error" and "RuntimeError: bug" in result["error"]
