# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""continuity.mail.drill_timeline: the phases of a drill from the flows' timeline (the rule
lives in module_utils/_report/timeline.py)."""

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_sequence

from ansible_collections.continuity.mail.plugins.module_utils._report.timeline import phases


def drill_timeline(timeline, started_at, outage=None, rto_s=None):
    if not is_sequence(timeline):
        raise AnsibleFilterError("drill_timeline: expects a list of {flow, name, at} events")
    if outage is not None and not isinstance(outage, dict):
        raise AnsibleFilterError("drill_timeline: outage must be a dict (applied_at, restored_at)")
    return phases(list(timeline), started_at, outage, rto_s)


class FilterModule:
    def filters(self):
        return {"drill_timeline": drill_timeline}
