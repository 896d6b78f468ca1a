# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import pytest

from ansible_collections.continuity.mail.plugins.module_utils._probe import quorum


def test_strict_majority_by_default():
    assert [quorum.needed_votes(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]
    assert quorum.needed_votes(5, 2) == 2


@pytest.mark.parametrize("total, needed", [(0, None), (3, 4)])
def test_impossible_quorums_are_refused(total, needed):
    with pytest.raises(ValueError):
        quorum.needed_votes(total, needed)


def test_abstainers_never_count_down():
    assert quorum.tally(1, 0, 3, 2) == {
        "votes": {"down": 1, "up": 0, "abstain": 2},
        "down": False,
        "healthy": True,
        "decided": False,
    }
    assert quorum.tally(2, 1, 3, 2)["down"] is True


def test_a_monitor_alone_cannot_decide():
    assert not quorum.reachable(1, 3)
    assert quorum.reachable(2, 3)
