# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import pytest

from ansible_collections.continuity.mail.plugins.module_utils._monitor.counters import RiseFall


def test_falls_after_fall_failures_and_rises_after_rise_successes():
    counter = RiseFall(rise=2, fall=3)
    assert [counter.observe(False, t) for t in (1, 2)] == [None, None]
    assert counter.up and counter.fails == 2
    assert counter.observe(False, 3) == "down"
    assert not counter.up and counter.since == 3
    assert counter.observe(True, 4) is None
    assert counter.observe(False, 5) is None  # one failure resets the rise
    assert counter.observe(True, 6) is None
    assert counter.observe(True, 7) == "up"
    assert counter.changes == 2


def test_blips_that_never_reach_fall_are_counted_in_the_window():
    counter = RiseFall(rise=1, fall=3, window=10)
    for t in range(20):
        assert counter.observe(t % 2 == 0, float(t)) is None
    assert counter.up
    # Each failure is a blip once the next probe succeeds: ended at 10, 12, 14, 16, 18.
    assert counter.recent_failures(19.0) == 5
    assert counter.recent_failures(40.0) == 0


def test_bad_thresholds_are_refused():
    with pytest.raises(ValueError, match="at least 1"):
        RiseFall(rise=0)


def test_the_failures_of_a_real_outage_are_not_blips():
    counter = RiseFall(rise=1, fall=3, window=100)
    for t in range(5):
        counter.observe(False, float(t))
    counter.observe(True, 5.0)
    assert counter.up and counter.recent_failures(5.0) == 0
