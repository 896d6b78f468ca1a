# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MTA-STS policies: parsing, problems, MX pattern matching."""

import pytest

from ansible_collections.continuity.mail.plugins.module_utils._preflight.mtasts import (
    mx_matches,
    parse_policy,
    policy_url,
)

POLICY = """version: STSv1
mode: enforce
mx: mx1.example.test
mx: *.backup.example.test
max_age: 604800
"""


def test_policy_parse_and_match():
    policy, problems = parse_policy(POLICY)
    assert problems == []
    assert policy == {
        "version": "STSv1",
        "mode": "enforce",
        "max_age": 604800,
        "mx": ["mx1.example.test", "*.backup.example.test"],
    }
    assert mx_matches("MX1.example.test.", "mx1.example.test")
    assert mx_matches("mx2.backup.example.test", "*.backup.example.test")
    assert not mx_matches("a.mx2.backup.example.test", "*.backup.example.test")
    assert not mx_matches("mx2.example.test", "mx1.example.test")
    assert policy_url("example.test") == "https://mta-sts.example.test/.well-known/mta-sts.txt"


@pytest.mark.parametrize(
    "text,problem",
    [
        ("mode: enforce\nmx: a\nmax_age: 1\n", "version must be STSv1"),
        ("version: STSv1\nmode: strict\nmx: a\nmax_age: 1\n", "mode must be one of"),
        ("version: STSv1\nmode: enforce\nmax_age: 1\n", "no mx: lines"),
        ("version: STSv1\nmode: enforce\nmx: a\nmax_age: soon\n", "max_age must be"),
        ("version: STSv1\ngarbage\n", "is not 'key: value'"),
    ],
)
def test_policy_problems(text, problem):
    assert any(problem in p for p in parse_policy(text)[1])
