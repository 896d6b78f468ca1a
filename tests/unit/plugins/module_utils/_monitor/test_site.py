# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from ansible_collections.continuity.mail.plugins.module_utils._monitor import site
from monitor_fakes import verdict

MONITORS = ["a", "b", "c"]
NOW = 1000.0


def combine(verdicts, **kwargs):
    result = site.combine(MONITORS, verdicts, NOW, max_age=5.0, hold_down=3, **kwargs)
    return result, site.summary(result)


def test_primary_down_on_a_majority_is_down_and_held_down():
    result, summary = combine(
        {
            "a": verdict("a", NOW, **{"mx1 smtp": (False, 3), "mx2 smtp": (True, 0)}),
            "b": verdict("b", NOW - 1, **{"mx1 smtp": (False, 4), "mx2 smtp": (True, 0)}),
            "c": verdict("c", NOW, **{"mx1 smtp": (True, 0), "mx2 smtp": (True, 0)}),
        }
    )
    entry = result["targets"]["mx1 smtp"]
    assert entry["down"] and entry["held_down"] and entry["votes"]["down"] == 2
    assert entry["probes"]["a"]["status"] == "timeout" and entry["status"] == "timeout"
    assert result["down"] == ["mx1 smtp"] and result["quorate"]
    assert summary["primary_down"] and summary["primary_held_down"]
    assert summary["primary_down_targets"] == ["mx1 smtp"]
    assert summary["secondary_down"] == [] and summary["degraded"] == []


def test_one_vantage_point_losing_the_primary_decides_nothing():
    result, summary = combine(
        {
            "a": verdict("a", NOW, **{"mx1 smtp": (False, 9)}),
            "b": verdict("b", NOW, **{"mx1 smtp": (True, 0)}),
            "c": verdict("c", NOW, **{"mx1 smtp": (True, 0)}),
        }
    )
    assert not result["targets"]["mx1 smtp"]["down"]
    assert not summary["primary_down"] and not summary["primary_held_down"]


def test_stale_and_unreachable_peers_abstain_and_a_lone_monitor_is_not_quorate():
    result, summary = combine(
        {
            "a": verdict("a", NOW, **{"mx1 smtp": (False, 9)}),
            "b": "URLError: timed out",
            "c": verdict("c", NOW - 60, **{"mx1 smtp": (False, 9)}),
        }
    )
    assert result["abstained"]["b"] == "URLError: timed out"
    assert result["abstained"]["c"].startswith("stale")
    assert not result["quorate"] and result["targets"]["mx1 smtp"]["votes"]["abstain"] == 2
    assert not summary["primary_down"] and not summary["quorate"]


def test_down_but_not_held_down_yet():
    dummy, summary = combine(
        {
            "a": verdict("a", NOW, **{"mx1 smtp": (False, 2)}),
            "b": verdict("b", NOW, **{"mx1 smtp": (False, 3)}),
            "c": verdict("c", NOW, **{"mx1 smtp": (True, 0)}),
        }
    )
    assert summary["primary_down"] and not summary["primary_held_down"]


def test_non_decisive_primary_targets_and_secondaries_only_degrade():
    dummy, summary = combine(
        {
            name: verdict(
                name,
                NOW,
                **{"mx1 smtp": (True, 0), "mx1 imaps": (False, 5), "mx2 smtp": (False, 5)},
            )
            for name in MONITORS
        }
    )
    assert not summary["primary_down"]
    assert summary["secondary_down"] == ["mx2 smtp"]
    assert summary["degraded"] == ["mx1 imaps is down", "mx2 smtp is down"]


def test_blips_on_a_majority_degrade():
    docs = {name: verdict(name, NOW, **{"mx1 smtp": (True, 0)}) for name in MONITORS}
    for name in ("a", "b"):
        docs[name]["targets"]["mx1 smtp"]["recent_failures"] = 4
    dummy, summary = combine(docs, blip_failures=3)
    assert summary["degraded"] == ["mx1 fails intermittently"]
    docs["c"]["targets"]["mx1 smtp"]["flapping"] = True
    dummy, summary = combine(docs, blip_failures=3)
    assert summary["flapping"] and summary["degraded"] == ["mx1 is flapping"]


def test_leader_is_the_first_decider_anybody_hears():
    fresh = {"b": {"hears": ["c"]}, "c": {"hears": ["b"]}}
    assert site.leader(["a", "b", "c"], fresh, "b") == "b"
    fresh["c"]["hears"] = ["a", "b"]  # c still hears a: a decides, not b
    assert site.leader(["a", "b", "c"], fresh, "b") == "a"
    assert site.leader(["a", "b", "c"], {}, "a") == "a"
    assert site.leader(["x"], {}, "a") is None
