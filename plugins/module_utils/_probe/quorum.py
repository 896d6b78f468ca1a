# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The quorum rule: a target is down only when a strict majority of ALL vantage points
(voters and abstainers alike) say so.

Shared by the quorum filter (playbooks) and the continuity monitor (the long-running
service), so a playbook and a monitor never disagree about what "down by quorum" means.
Standard library only.
"""


def needed_votes(total, needed=None):
    """Votes needed to call a target down: a strict majority of `total` unless given."""
    total = int(total)
    if total < 1:
        raise ValueError("no vantage points")
    needed = int(needed) if needed else total // 2 + 1
    if not 0 < needed <= total:
        raise ValueError("needed must be between 1 and %d" % total)
    return needed


def tally(down, up, total, needed):
    """The verdict on one target from its down/up vote counts; abstainers never count down."""
    return {
        "votes": {"down": down, "up": up, "abstain": total - down - up},
        "down": down >= needed,
        "healthy": down < needed,
        "decided": down >= needed or up >= needed,
    }


def reachable(voters, total, needed=None):
    """Whether `voters` vantage points (this one included) can still reach a decision alone:
    a monitor that sees fewer than `needed` of them must not act on its own view."""
    return voters >= needed_votes(total, needed)
