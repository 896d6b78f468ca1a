# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.continuity.mail.plugins.filter.health_table import health_table
from ansible_collections.continuity.mail.plugins.filter.quorum import quorum


def _result(probe, targets):
    return {
        "item": probe,
        "targets": [
            {
                "name": name,
                "labels": {"site": site},
                "healthy": ok,
                "status": "ok" if ok else "refused",
                "elapsed_ms": 12.4,
            }
            for name, site, ok in targets
        ],
    }


def test_one_table_per_site_with_votes_and_cells():
    rows = [("mx1 smtp", "east", False), ("mx9 smtp", "west", True)]
    verdict = quorum(
        [
            _result("localhost", rows),
            _result("sender", rows),
            {"item": "ns2", "unreachable": True, "msg": "gone"},
        ]
    )
    tables = health_table(verdict)
    assert set(tables) == {"east", "west"}
    east = tables["east"].splitlines()
    assert east[0].startswith("site east: 1 target(s), 1 down (down needs 2 of 3")
    assert "ns2 (abstained)" in east[1]
    assert east[3].split()[:4] == ["mx1", "smtp", "DOWN", "2/3"]
    assert "refused 12ms" in east[3] and east[3].rstrip().endswith("-")
    assert "up" in tables["west"].splitlines()[3]


def test_group_by_other_label_and_missing_label():
    verdict = quorum([_result("p", [("a", "x", True)])])
    assert list(health_table(verdict, group="role")) == ["(no role)"]


def test_needs_a_verdict():
    with pytest.raises(AnsibleFilterError):
        health_table({"no": "targets"})
