# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Three monitors on one fake clock, probing a scripted world and reading each other's
verdicts in memory: the outage cases end to end, without a network or a real second."""

import asyncio
import json

from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.continuity.mail.plugins.module_utils._monitor import config, service
from monitor_fakes import FakeClock, World, targets

NAMES = ["a", "b", "c"]


class Site:
    def __init__(self, tmp_path, auto=True):
        self.tmp_path = tmp_path
        self.clock = FakeClock(start=0.0)
        self.worlds = {}
        self.monitors = {}
        self.deliveries = []
        self.flows = []
        self.cut = set()
        self.dns_failed_over = False
        self.maintenance = tmp_path / "maintenance"
        for name in NAMES:
            state_dir = tmp_path / name
            state_dir.mkdir()
            conf = config.validate(
                {
                    "name": name,
                    "site": "example",
                    "targets": targets(),
                    "timeout": 3.0,
                    "token": "t",
                    "peers": [{"name": n, "url": "mem://%s" % n} for n in NAMES if n != name],
                    "auto_failover": auto,
                    "failover": {"command": ["ansible-playbook", "continuity.mail.failover"]},
                    "failback_command": "ansible-playbook continuity.mail.failback",
                    "maintenance_file": str(self.maintenance),
                    "state_dir": str(state_dir),
                    "metrics_path": str(state_dir / "continuity.prom"),
                    "alerts": {"contacts": [{"name": "oncall", "webhook": "http://receiver"}]},
                }
            )
            self.worlds[name] = World(self.clock, timeout=3.0)
            self.monitors[name] = service.Monitor(
                conf,
                clock=self.clock,
                probe=self.worlds[name].probe,
                fetcher=self._fetcher(name),
                deliver=self._deliver(name),
                flow=self._flow(name),
                read_failed_over=self._read_failed_over,
            )

    def _fetcher(self, me):
        async def fetch(peer, token, timeout):
            assert token == "t"
            if me in self.cut or peer["name"] in self.cut:
                raise OSError("network unreachable")
            doc = self.monitors[peer["name"]].published
            if doc is None:
                raise ValueError("no verdict yet")
            return json.loads(json.dumps(doc))

        return fetch

    def _deliver(self, me):
        async def deliver(contact, item, rendered, site_name):
            self.deliveries.append((me, contact["name"], item["kind"], rendered))

        return deliver

    def _flow(self, me):
        async def flow(doc, wall):
            self.flows.append((me, doc))
            await self.clock.sleep(4.0)  # the failover flow's critical path
            self.dns_failed_over = True
            return {"ok": True, "rc": 0}

        return flow

    async def _read_failed_over(self):
        return self.dns_failed_over

    def everywhere(self, host, behaviour):
        for world in self.worlds.values():
            world.set(host, behaviour)

    def kinds(self):
        return [(me, kind) for me, dummy, kind, dummy in self.deliveries]

    def metrics(self, name):
        text = (self.tmp_path / name / "continuity.prom").read_text()
        samples = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    def play(self, script):
        """Run the monitors while script(site) advances the clock and changes the world."""

        async def main():
            stop = asyncio.Event()
            running = [asyncio.ensure_future(m.run(stop)) for m in self.monitors.values()]
            await script(self)
            stop.set()
            await self.clock.advance(5)
            await asyncio.gather(*running)

        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(main())
        finally:
            loop.close()


def test_blackholed_primary_fails_over_by_itself_with_one_alert_of_each(tmp_path):
    site = Site(tmp_path)

    async def script(site):
        await site.clock.advance(10)
        site.everywhere("mx1", "blackhole")
        await site.clock.advance(30)
        site.everywhere("mx1", "ok")
        await site.clock.advance(20)

    site.play(script)
    assert site.kinds() == [("a", "primary_down"), ("a", "failed_over"), ("a", "recovered")]
    ((decider, evidence),) = site.flows
    assert decider == "a"
    verdict = evidence["continuity_monitor_evidence"]["health_verdict"]
    assert verdict["down"] == ["mx1 smtp", "mx1 imaps"] and verdict["needed"] == 2
    assert verdict["targets"]["mx1 smtp"]["votes"]["down"] == 3
    recovered = site.deliveries[-1][3]
    assert recovered["status"] == "resolved"
    assert "ansible-playbook continuity.mail.failback" in recovered["annotations"]["description"]
    assert site.dns_failed_over  # nothing failed back by itself
    samples = site.metrics("a")
    assert samples[("continuity_monitor_site_failed_over", ())] == 1.0
    assert samples[("continuity_monitor_site_primary_down", ())] == 0.0
    assert samples[("continuity_monitor_leader", ())] == 1.0
    assert site.metrics("b")[("continuity_monitor_leader", ())] == 0.0


def test_one_vantage_point_losing_the_primary_changes_nothing(tmp_path):
    site = Site(tmp_path)

    async def script(site):
        await site.clock.advance(5)
        site.worlds["c"].set("mx1", "refused")
        await site.clock.advance(30)

    site.play(script)
    assert site.deliveries == [] and site.flows == []
    assert site.monitors["c"].observer.views["mx1 smtp"].counter.up is False


def test_maintenance_switch_alerts_and_does_not_act(tmp_path):
    site = Site(tmp_path)
    site.maintenance.write_text("planned work\n")

    async def script(site):
        await site.clock.advance(5)
        site.everywhere("mx1", "refused")
        await site.clock.advance(30)

    site.play(script)
    assert site.kinds() == [("a", "primary_down")] and site.flows == []
    annotation = site.deliveries[0][3]["annotations"]["automatic_failover"]
    assert annotation.startswith("PAUSED by the maintenance switch")


def test_alert_only_by_default(tmp_path):
    site = Site(tmp_path, auto=False)

    async def script(site):
        await site.clock.advance(5)
        site.everywhere("mx1", "tempfail")
        await site.clock.advance(30)

    site.play(script)
    assert site.kinds() == [("a", "primary_down")] and site.flows == []
    assert site.deliveries[0][3]["annotations"]["automatic_failover"] == "off (alert only)"


def test_a_flapping_primary_gives_one_alert_and_no_failover(tmp_path):
    site = Site(tmp_path)

    async def script(site):
        await site.clock.advance(5)
        for dummy in range(20):  # down and up every 1.5 s for a minute
            site.everywhere("mx1", "refused")
            await site.clock.advance(1.5)
            site.everywhere("mx1", "ok")
            await site.clock.advance(1.5)
        await site.clock.advance(10)

    site.play(script)
    assert site.kinds() == [("a", "degraded")] and site.flows == []
    assert (
        site.deliveries[0][3]["annotations"]["summary"] == "site degraded: mx1 fails intermittently"
    )


def test_a_monitor_cut_off_from_its_peers_does_not_act_alone(tmp_path):
    site = Site(tmp_path)

    async def script(site):
        await site.clock.advance(5)
        site.cut.add("a")  # a hears nobody and nobody hears a
        site.everywhere("mx1", "refused")
        await site.clock.advance(30)

    site.play(script)
    # b decides in a's place; a, alone, neither alerts nor acts.
    assert site.kinds() == [("b", "primary_down"), ("b", "failed_over")]
    assert [who for who, dummy in site.flows] == ["b"]
    status = json.loads((tmp_path / "a" / "status.json").read_text())
    assert status["summary"]["quorate"] is False
    assert status["decision"] == "this monitor does not hear a majority of monitors"


def test_an_unreadable_site_state_is_logged_once(tmp_path, caplog):
    site = Site(tmp_path)

    async def broken():
        raise OSError("timed out")

    for monitor in site.monitors.values():
        monitor.read_failed_over = broken

    async def script(site):
        await site.clock.advance(10)

    site.play(script)
    lines = [r.getMessage() for r in caplog.records if "site state" in r.getMessage()]
    assert lines == ["site state unreadable: timed out"] * 3  # once per monitor
