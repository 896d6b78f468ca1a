# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The monitor service: the parts wired together on one asyncio loop.

Every interval: a probe round starts (rounds.py, overlapping), then a tick publishes this
monitor's verdict, pulls the peers' verdicts, combines them by quorum (site.py), turns
changes into events (events.py), lets the deciding monitor send alerts (alerts.py,
ratelimit.py, notify.py) and start the failover flow when the guard rails allow it
(autofailover.py, launcher.py), and writes the metrics and the status file the check
command reads. Everything external (probes, peers, delivery, the flow, DNS) is injectable,
so the unit tests drive it on a fake clock.
"""

import asyncio
import json
import logging
import os
import time

from ansible_collections.continuity.mail.plugins.module_utils._monitor import (
    alerts,
    autofailover,
    events,
    launcher,
    metrics,
    notify,
    peers,
    site,
    sitestate,
)
from ansible_collections.continuity.mail.plugins.module_utils._monitor.clock import (
    SystemClock,
    in_thread,
)
from ansible_collections.continuity.mail.plugins.module_utils._monitor.flap import FlapDetector
from ansible_collections.continuity.mail.plugins.module_utils._monitor.observer import Observer
from ansible_collections.continuity.mail.plugins.module_utils._monitor.ratelimit import Limiter
from ansible_collections.continuity.mail.plugins.module_utils._monitor.rounds import Rounds
from ansible_collections.continuity.mail.plugins.module_utils._monitor.textfile import (
    collect,
)
from ansible_collections.continuity.mail.plugins.module_utils._probe import engine
from ansible_collections.continuity.mail.plugins.module_utils._queue import status as queue_status

log = logging.getLogger("continuity-monitor")

STATUS_FILE = "status.json"
STATE_FILE = "state.json"
DRILL_FILE = "drill.json"


def read_json(path, default=None):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return default


def write_json(path, doc):
    metrics.write_atomic(path, json.dumps(doc, sort_keys=True, indent=1) + "\n")


class Monitor:
    def __init__(
        self,
        config,
        clock=None,
        probe=None,
        fetcher=peers.fetch,
        deliver=None,
        flow=None,
        read_failed_over=None,
        read_queue=None,
    ):
        self.config = config
        self.clock = clock or SystemClock()
        self.name = config["name"]
        settings = dict(engine.DEFAULTS)
        settings.update(
            timeout=config["timeout"],
            cert_min_days=config["cert_min_days"],
            helo_name=config["helo_name"] or "localhost",
        )
        self.probe = probe or (lambda target: engine.attempt(target, settings))
        self.fetcher = fetcher
        self.deliver = deliver or Delivery(config["alerts"])
        self.flow = flow or default_flow(config)
        self.read_failed_over = read_failed_over or default_state_reader(config)
        self.read_queue = read_queue or default_queue_reader(config)
        self.observer = Observer(
            self.name,
            config["targets"],
            self.clock,
            rise=config["rise"],
            fall=config["fall"],
            window=config["window"],
            flap=FlapDetector(config["flap_changes"], config["flap_window"]),
        )
        self.rounds = Rounds(
            config["targets"],
            self.probe,
            config["interval"],
            self.observer.on_result,
            self.clock,
            timeout=config["timeout"] * 4,  # connect, greeting, STARTTLS, EHLO phases
        )
        primary = [t for t in config["targets"] if t["labels"].get("role") == site.PRIMARY]
        thresholds = config["thresholds"]
        self.state = events.SiteState(
            primary[0]["labels"].get("server", primary[0]["host"]) if primary else "primary",
            config["failback_command"],
            cert_days=thresholds["cert_days"],
            queue_age_minutes=thresholds["queue_age_minutes"],
            sync_lag_seconds=thresholds["sync_lag_seconds"],
        )
        if self.read_failed_over is None:
            self.state.failed_over = False  # only this monitor's own flow runs change it
        alert_conf = config["alerts"]
        self.limiter = Limiter(
            alert_conf["dedup_seconds"], alert_conf["per_hour"], alert_conf["burst"]
        )
        self.state_dir = config["state_dir"]
        self.saved = (
            read_json(os.path.join(self.state_dir, STATE_FILE), {}) if self.state_dir else {}
        )
        self.server = None
        self.published = None
        self.flow_task = None
        self.flow_result = None
        self.last_decision = (False, "not decided yet")
        self.leader = None
        self.verdict = None
        self.summary = None
        self.queue = None
        self.sent = {}
        self.failed_deliveries = 0
        self.ticks = 0
        self.background = set()
        self.notes = {}

    # -- readings ---------------------------------------------------------------------------
    def maintenance(self):
        path = self.config["maintenance_file"]
        return bool(path) and os.path.exists(path)

    def sync_lag(self):
        path = self.config["sync_stamp"]
        if not path:
            return None
        try:
            return max(0.0, self.clock.wall() - os.stat(path).st_mtime)
        except OSError:
            return None

    def drill(self):
        if not self.state_dir:
            return None
        return read_json(os.path.join(self.state_dir, DRILL_FILE))

    def own_verdict(self, hears):
        extra = {
            "site": self.config["site"],
            "hears": hears,
            "maintenance": self.maintenance(),
            "queue": self.queue,
            "sync_lag": self.sync_lag(),
            "drill": self.drill(),
        }
        return self.observer.verdict(extra)

    # -- one tick ---------------------------------------------------------------------------
    async def tick(self):
        config = self.config
        self.ticks += 1
        answers = {}
        if config["peers"]:
            answers = await peers.pull(
                config["peers"], config["token"], config["peer_timeout"], self.fetcher
            )
        hears = sorted(name for name, doc in answers.items() if isinstance(doc, dict))
        own = self.own_verdict(hears)
        self.published = own
        if self.server is not None:
            self.server.publish(own)
        wall = self.clock.wall()
        verdicts = dict(answers)
        verdicts[self.name] = own
        self.verdict = site.combine(
            config["monitors"],
            verdicts,
            wall,
            max_age=config["max_age"],
            hold_down=config["hold_down"],
            blip_failures=config["blip_failures"],
        )
        self.summary = site.summary(self.verdict)
        fresh, dummy = site.ballots(config["monitors"], verdicts, wall, config["max_age"])
        self.leader = site.leader(config["deciders"], fresh, self.name)
        failed_over = await self._failed_over()
        drill = self._newest_drill(fresh)
        queues = dict(
            (doc["queue"]["host"], doc["queue"]) for doc in fresh.values() if doc.get("queue")
        )
        lags = [doc["sync_lag"] for doc in fresh.values() if doc.get("sync_lag") is not None]
        happened = self.state.update(
            self.summary,
            self.verdict,
            wall,
            failed_over=failed_over,
            drill=drill,
            queues=queues,
            sync_lag=min(lags) if lags else None,
        )
        if drill and happened and any(e["kind"] == events.DRILL_FAILED for e in happened):
            self._save(drill_told=drill.get("at"))
        if happened:
            for item in happened:
                log.warning("event %s: %s", item["kind"], item["summary"])
            if self.deciding():
                self._spawn(self.notify(happened))
        self._maybe_fail_over(failed_over)
        self.write_outputs()
        return happened

    def deciding(self):
        """This monitor alerts and acts: it leads and hears a majority (alone, it does not)."""
        return self.leader == self.name and bool(self.summary and self.summary["quorate"])

    def _newest_drill(self, fresh):
        drills = [doc["drill"] for doc in fresh.values() if doc.get("drill")]
        if not drills:
            return None
        drill = dict(max(drills, key=lambda d: d.get("at") or 0))
        drill["told"] = drill.get("at") == self.saved.get("drill_told")
        return drill

    async def _failed_over(self):
        if self.read_failed_over is None:
            return None
        try:
            if asyncio.iscoroutinefunction(self.read_failed_over):
                return await self.read_failed_over()
            return await in_thread(self.read_failed_over)
        except Exception as exc:
            self._note("site_state", "site state unreadable: %s" % exc)
            return None

    # -- alerts -----------------------------------------------------------------------------
    def automation(self):
        return alerts.automation_text(
            self.config["auto_failover"], self.maintenance(), self.config["maintenance_file"]
        )

    async def notify(self, happened):
        conf = self.config["alerts"]
        wall = self.clock.wall()
        automation = self.automation()
        for item in happened:
            rendered = alerts.alert(item, self.config["site"], self.name, wall, automation)
            for contact in alerts.recipients(conf["contacts"], item):
                if not self.limiter.allow(contact["name"], item["key"], self.clock.monotonic()):
                    continue
                try:
                    await self.deliver(contact, item, rendered, self.config["site"])
                    self.sent[item["kind"]] = self.sent.get(item["kind"], 0) + 1
                except Exception as exc:
                    self.failed_deliveries += 1
                    log.error(
                        "alert %s to %s not delivered: %s", item["kind"], contact["name"], exc
                    )

    # -- automatic failover -----------------------------------------------------------------
    def _maybe_fail_over(self, failed_over):
        running = self.flow_task is not None and not self.flow_task.done()
        act, reason = autofailover.decide(
            self.summary,
            enabled=self.config["auto_failover"],
            maintenance=self.maintenance(),
            is_leader=self.leader == self.name,
            failed_over=bool(failed_over if failed_over is not None else self.state.failed_over),
            running=running,
            last_action=self.saved.get("last_auto_failover"),
            now=self.clock.wall(),
            cooldown=self.config["cooldown"],
        )
        if (act, reason) != self.last_decision:
            log.info("automatic failover: %s", reason)
        self.last_decision = (act, reason)
        if not act:
            return
        wall = self.clock.wall()
        self._save(last_auto_failover=wall)
        doc = launcher.evidence(self.verdict, self.summary, self.name, wall)
        self.flow_task = asyncio.ensure_future(self._run_flow(doc, wall))

    async def _run_flow(self, doc, wall):
        try:
            self.flow_result = await self.flow(doc, wall)
        except Exception as exc:
            self.flow_result = {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc)}
        self.flow_result["at"] = wall
        log.warning("failover flow finished: %s", self.flow_result)
        if self.flow_result.get("ok") and self.read_failed_over is None:
            self.state.failed_over = True
            self.state.failed_over_since = self.clock.wall()
            happened = [
                events.event(
                    events.FAILED_OVER,
                    "site failed over from %s" % self.state.primary,
                    host=self.state.primary,
                )
            ]
            await self.notify(happened)
        elif not self.flow_result.get("ok"):
            await self.notify(
                [
                    events.event(
                        events.FAILOVER_FAILED,
                        "automatic failover did not complete",
                        self.flow_result.get("error") or self.flow_result.get("tail", "")[-500:],
                        key="failover_failed:%d" % int(wall),
                    )
                ]
            )

    def _note(self, what, text):
        """Log a recurring problem once, not once a second."""
        if self.notes.get(what) != text:
            self.notes[what] = text
            log.warning("%s", text)

    def _save(self, **values):
        self.saved.update(values)
        if self.state_dir:
            write_json(os.path.join(self.state_dir, STATE_FILE), self.saved)

    def _spawn(self, coroutine):
        task = asyncio.ensure_future(coroutine)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    # -- outputs ----------------------------------------------------------------------------
    def status(self):
        return {
            "at": self.clock.wall(),
            "monitor": self.name,
            "site": self.config["site"],
            "interval": self.config["interval"],
            "leader": self.leader,
            "maintenance": self.maintenance(),
            "auto_failover": self.config["auto_failover"],
            "automation": self.automation(),
            "decision": self.last_decision[1],
            "summary": self.summary,
            "verdict": self.verdict,
            "primary_down": self.state.primary_down,
            "primary_since": self.state.primary_since,
            "failed_over": self.state.failed_over,
            "failed_over_since": self.state.failed_over_since,
            "flow": self.flow_result,
            "last_auto_failover": self.saved.get("last_auto_failover"),
            "queue": self.queue,
            "sync_lag": self.sync_lag(),
            "drill": self.drill(),
            "alerts_sent": self.sent,
            "alerts_failed": self.failed_deliveries,
            "deduplicated": self.limiter.deduplicated,
            "rate_limited": self.limiter.rate_limited,
        }

    def write_outputs(self):
        status = self.status()
        if self.state_dir:
            write_json(os.path.join(self.state_dir, STATUS_FILE), status)
        if self.config["metrics_path"]:
            text = metrics.render(collect(status, self.observer.verdict()))
            metrics.write_atomic(self.config["metrics_path"], text)

    # -- the loops --------------------------------------------------------------------------
    async def queue_loop(self, stop):
        while not stop.is_set():
            try:
                self.queue = await self.read_queue()
            except Exception as exc:
                self._note("queue", "queue unreadable: %s" % exc)
                self.queue = None
            await self.clock.sleep(max(10.0, self.config["interval"] * 10))

    async def tick_loop(self, stop):
        interval = self.config["interval"]
        next_at = self.clock.monotonic() + interval / 2.0  # half a round after the probes
        while not stop.is_set():
            await self.clock.sleep(next_at - self.clock.monotonic())
            try:
                await self.tick()
            except Exception:
                log.exception("tick failed")
            next_at = max(next_at + interval, self.clock.monotonic())

    async def run(self, stop):
        listen = self.config["listen"]
        if listen:
            self.server = peers.VerdictServer(
                listen.get("address", "::"),
                listen["port"],
                self.config["token"],
                listen.get("cert"),
                listen.get("key"),
            )
            self.server.start()
        loops = [self.rounds.run(stop=stop), self.tick_loop(stop)]
        if self.read_queue is not None:
            loops.append(self.queue_loop(stop))
        try:
            await asyncio.gather(*loops)
        finally:
            self.rounds.cancel()
            if self.server is not None:
                self.server.stop()


class Delivery:
    """Sends one rendered alert to one contact by every channel the contact has."""

    def __init__(self, conf):
        self.conf = conf

    async def __call__(self, contact, item, rendered, site_name):
        if contact.get("webhook"):
            body = alerts.webhook_payload([rendered], contact["name"], self.conf["external_url"])
            await in_thread(
                notify.post_json,
                contact["webhook"],
                body,
                contact.get("webhook_token"),
                self.conf["timeout"],
            )
        if contact.get("email"):
            subject, text = alerts.email_text(item, rendered, site_name)
            await in_thread(notify.send_email, self.conf["relay"], contact["email"], subject, text)


def default_flow(config):
    failover = config["failover"]
    if not failover:
        return None
    state_dir = config["state_dir"]

    async def flow(doc, wall):
        path = launcher.write_evidence(state_dir, doc, wall)
        if failover.get("command"):
            return await launcher.run_playbook(
                failover["command"], path, os.path.join(state_dir, "failover.log")
            )
        awx = failover["awx"]
        return await in_thread(launcher.launch_awx, awx, awx["token"], doc)

    return flow


def default_state_reader(config):
    conf = config["site_state"]
    if not conf:
        return None

    def read():
        records = sitestate.read_mx(
            conf["server"], conf["domain"], conf.get("port", 53), conf.get("timeout", 1.0)
        )
        return sitestate.failed_over(records, conf["primary_mx"])

    return read


def default_queue_reader(config):
    conf = config["queue"]
    if not conf:
        return None

    async def read():
        process = await asyncio.create_subprocess_exec(
            *(conf.get("command") or ["postqueue", "-j"]),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        out, dummy = await process.communicate()
        summary = queue_status.summarize(
            queue_status.parse_postqueue_json(out.decode(errors="replace")), time.time(), 432000
        )
        oldest = summary["oldest"]
        return {
            "host": conf.get("host") or config["name"],
            "count": summary["counts"]["total"],
            "oldest_age": oldest["age_seconds"] if oldest else 0,
        }

    return read
