# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Integration tests run against the lab that `make lab` built; they never skip."""

import pytest

from labtools import Lab


@pytest.fixture(scope="session")
def lab():
    lab = Lab()
    if not lab.running():
        pytest.fail("the lab is not running: run `make lab` first (integration tests need it)")
    return lab


@pytest.fixture
def bind_normal(lab):
    """The lab's BIND servers, asserted in the normal state first (mx1 preferred everywhere):
    for flow tests that fail over and must start from, and return to, a normal site."""
    from dnslab import backends  # pylint: disable=import-outside-toplevel

    backend = backends()["bind"]
    assert all(backend.is_restored(server) for server in backend.servers), (
        "the lab is not in its normal state (mx1 preferred): another test left it failed over"
    )
    return backend
