# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from ansible_collections.continuity.mail.plugins.module_utils._monitor import events

NO_TARGETS = {"targets": {}}


def summary(**values):
    base = {
        "quorate": True,
        "primary_down": False,
        "primary_down_targets": [],
        "primary_held_down": False,
        "flapping": False,
        "secondary_down": [],
        "degraded": [],
    }
    base.update(values)
    return base


def kinds(happened):
    return [e["kind"] for e in happened]


def state():
    return events.SiteState("mx1", "ansible-playbook continuity.mail.failback")


def test_primary_down_once_then_recovered_naming_the_failback_command():
    site = state()
    down = summary(primary_down=True, primary_down_targets=["mx1 smtp"])
    assert kinds(site.update(summary(), NO_TARGETS, 0, failed_over=False)) == []
    first = site.update(down, NO_TARGETS, 1)
    assert kinds(first) == ["primary_down"] and first[0]["labels"] == {"host": "mx1"}
    assert site.update(down, NO_TARGETS, 2) == []
    assert kinds(site.update(down, NO_TARGETS, 3, failed_over=True)) == ["failed_over"]
    back = site.update(summary(), NO_TARGETS, 4, failed_over=True)
    assert kinds(back) == ["recovered"]
    assert "ansible-playbook continuity.mail.failback" in back[0]["description"]
    assert back[0]["resolves"] == "primary_down"
    assert kinds(site.update(summary(), NO_TARGETS, 5, failed_over=False)) == ["failed_back"]


def test_the_first_state_reading_is_a_starting_point_not_news():
    site = state()
    assert site.update(summary(), NO_TARGETS, 0, failed_over=True) == []
    assert site.failed_over is True


def test_without_quorum_the_primary_state_is_held():
    site = state()
    site.update(summary(primary_down=True, primary_down_targets=["mx1 smtp"]), NO_TARGETS, 0)
    assert site.update(summary(quorate=False), NO_TARGETS, 1) == []
    assert site.primary_down


def test_a_flapping_primary_changes_state_silently():
    site = state()
    flapping = summary(primary_down=True, flapping=True, degraded=["mx1 smtp is flapping"])
    assert kinds(site.update(flapping, NO_TARGETS, 0)) == ["degraded"]
    assert (
        site.update(summary(flapping=True, degraded=["mx1 smtp is flapping"]), NO_TARGETS, 1) == []
    )
    assert not site.primary_down


def test_degraded_reasons_are_told_once_each():
    site = state()
    first = site.update(summary(degraded=["mx2 smtp is down"]), NO_TARGETS, 0)
    assert kinds(first) == ["degraded"] and first[0]["key"] == "degraded:mx2 smtp is down"
    assert site.update(summary(degraded=["mx2 smtp is down"]), NO_TARGETS, 1) == []
    assert site.update(summary(), NO_TARGETS, 2) == []


def test_drill_failure_certificate_queue_and_sync_lag():
    site = state()
    verdict = {"targets": {"mx1 smtp": {"cert_not_after": 10 * 86400.0}}}
    happened = site.update(
        summary(),
        verdict,
        0,
        drill={"at": 5, "ok": False, "rc": 2, "error": "canary lost"},
        queues={"mx2": {"count": 7, "oldest_age": 3600}},
        sync_lag=1000,
    )
    assert sorted(kinds(happened)) == ["cert_expiring", "drill_failed", "queue_old", "sync_lag"]
    again = site.update(
        summary(),
        verdict,
        1,
        drill={"at": 5, "ok": False},
        queues={"mx2": {"oldest_age": 3600}},
        sync_lag=1200,
    )
    assert again == []
    site.update(summary(), verdict, 2, queues={"mx2": {"oldest_age": 10}}, sync_lag=10)
    rearmed = site.update(
        summary(), verdict, 3, queues={"mx2": {"oldest_age": 4000}}, sync_lag=5000
    )
    assert sorted(kinds(rearmed)) == ["queue_old", "sync_lag"]


def test_a_passed_drill_or_one_already_told_is_no_news():
    site = state()
    assert site.update(summary(), NO_TARGETS, 0, drill={"at": 1, "ok": True}) == []
    other = state()
    assert other.update(summary(), NO_TARGETS, 0, drill={"at": 1, "ok": False, "told": True}) == []
