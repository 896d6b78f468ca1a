# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from ansible_collections.continuity.mail.plugins.module_utils._monitor.ratelimit import Limiter


def test_same_key_is_sent_once_per_dedup_window_per_contact():
    limiter = Limiter(dedup_seconds=600, per_hour=100, burst=10)
    assert limiter.allow("oncall", "primary_down", 0)
    assert not limiter.allow("oncall", "primary_down", 10)
    assert limiter.allow("managers", "primary_down", 10)
    assert limiter.allow("oncall", "primary_down", 700)
    assert limiter.deduplicated == 1


def test_a_storm_of_different_alerts_is_rate_limited():
    limiter = Limiter(dedup_seconds=600, per_hour=3600, burst=3)  # one token a second
    allowed = [limiter.allow("oncall", "k%d" % i, 0.0) for i in range(10)]
    assert allowed == [True] * 3 + [False] * 7
    assert limiter.rate_limited == 7
    assert limiter.allow("oncall", "later", 1.5)
