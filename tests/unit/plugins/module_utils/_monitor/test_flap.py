# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from ansible_collections.continuity.mail.plugins.module_utils._monitor.flap import FlapDetector


def test_flapping_after_enough_changes_and_until_still_for_a_window():
    flap = FlapDetector(changes=3, window=60)
    assert not flap.record("mx1", 0)
    assert not flap.record("mx1", 10)
    assert flap.record("mx1", 20)
    assert flap.flapping("mx1", 70)  # 50 s after the last change: not still long enough
    assert not flap.flapping("mx1", 81)
    assert not flap.flapping("other", 81)


def test_changes_spread_out_are_not_flapping():
    flap = FlapDetector(changes=3, window=60)
    assert not any(flap.record("mx1", t) for t in (0, 70, 140, 210))
