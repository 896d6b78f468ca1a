# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.continuity.mail.plugins.filter.drill_timeline import FilterModule

drill_timeline = FilterModule().filters()["drill_timeline"]


def test_phases_relative_to_the_drill_start():
    events = [
        {"flow": "failover", "name": "failover started", "at": 105.0},
        {"flow": "failover", "name": "lock taken", "at": 106.0},
    ]
    got = drill_timeline(events, "100.0", {"applied_at": 101.0, "restored_at": 150.0}, "4.5")
    assert [(p["name"], p["start_s"], p["end_s"]) for p in got] == [
        ("outage", 1.0, 50.0),
        ("detection", 1.0, 5.0),
        ("lock", 5.0, 6.0),
        ("RTO", 1.0, 5.5),
    ]


@pytest.mark.parametrize("timeline, outage", [("text", None), ([], "text")])
def test_bad_input_is_refused(timeline, outage):
    with pytest.raises(AnsibleFilterError):
        drill_timeline(timeline, 0, outage)
