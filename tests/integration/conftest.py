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
