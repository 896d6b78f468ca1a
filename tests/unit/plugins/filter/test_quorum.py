# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.continuity.mail.plugins.filter.quorum import quorum


def result(probe, **health):
    """A mail_health result as registered in a loop over the probes."""
    return {
        "item": probe,
        "changed": False,
        "vantage_point": probe + ".host",
        "targets": [
            {
                "name": name,
                "host": "10.0.0.1",
                "port": 25,
                "protocol": "smtp",
                "labels": {"site": "lab"},
                "healthy": ok,
                "status": "ok" if ok else "timeout",
                "error": None,
                "elapsed_ms": 5.0,
            }
            for name, ok in health.items()
        ],
    }


def test_two_of_three_up_keeps_target_up():
    verdict = quorum(
        [result("localhost", mx1=True), result("sender", mx1=False), result("ns2", mx1=True)]
    )
    entry = verdict["targets"]["mx1"]
    assert entry["down"] is False and entry["healthy"] is True and entry["decided"] is True
    assert entry["votes"] == {"down": 1, "up": 2, "abstain": 0}
    assert entry["probes"]["sender"]["status"] == "timeout"
    assert entry["status"] == "ok"
    assert verdict["needed"] == 2 and verdict["healthy"] is True and verdict["down"] == []


def test_two_of_three_down_is_down():
    verdict = quorum(
        {
            "results": [
                result("localhost", mx1=False),
                result("sender", mx1=False),
                result("ns2", mx1=True),
            ]
        }
    )
    assert verdict["targets"]["mx1"]["down"] is True
    assert verdict["targets"]["mx1"]["status"] == "timeout"
    assert verdict["down"] == ["mx1"] and verdict["healthy"] is False


def test_abstaining_probes_count_in_the_total():
    unreachable = {"item": "ns2", "unreachable": True, "msg": "Failed to connect"}
    failed = {"item": "sender", "failed": True, "msg": "boom"}
    verdict = quorum([result("localhost", mx1=False), failed, unreachable])
    entry = verdict["targets"]["mx1"]
    assert entry["down"] is False and entry["decided"] is False
    assert entry["votes"] == {"down": 1, "up": 0, "abstain": 2}
    assert set(verdict["abstained"]) == {"sender", "ns2"}
    assert verdict["undecided"] == ["mx1"]


def test_expected_probes_without_results_abstain():
    verdict = quorum({"localhost": result("x", mx1=False)}, expected=["localhost", "sender", "ns2"])
    assert verdict["vantage_points"] == ["localhost", "sender", "ns2"]
    assert verdict["abstained"] == {"sender": "no result", "ns2": "no result"}
    assert verdict["targets"]["mx1"]["down"] is False


def test_strict_majority_of_even_count():
    votes = [
        result("p1", mx1=False),
        result("p2", mx1=False),
        result("p3", mx1=True),
        result("p4", mx1=True),
    ]
    assert quorum(votes)["needed"] == 3
    assert quorum(votes)["targets"]["mx1"]["down"] is False
    assert quorum(votes, needed=2)["targets"]["mx1"]["down"] is True


def test_single_result_and_vantage_point_fallback():
    one = result("ignored", mx1=False)
    one.pop("item")
    verdict = quorum(one)
    assert verdict["vantage_points"] == ["ignored.host"]
    assert verdict["targets"]["mx1"]["down"] is True


def test_labels_and_order_are_kept():
    verdict = quorum([result("a", mx1=True, mx2=False)])
    assert list(verdict["targets"]) == ["mx1", "mx2"]
    assert verdict["targets"]["mx2"]["labels"] == {"site": "lab"}
    assert verdict["up"] == ["mx1"]


@pytest.mark.parametrize(
    "bad,kwargs",
    [
        ("text", {}),
        ([1, 2], {}),
        ([], {}),
        ([result("a", mx1=True), result("a", mx1=True)], {}),
        ([result("a", mx1=True)], {"needed": 5}),
    ],
)
def test_bad_input_is_a_filter_error(bad, kwargs):
    with pytest.raises(AnsibleFilterError):
        quorum(bad, **kwargs)
