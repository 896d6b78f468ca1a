# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""continuity.mail.failover_decision and failback_decision: whether a flow acts, and why."""

from ansible.errors import AnsibleFilterError

from ansible_collections.continuity.mail.plugins.module_utils._site import decision


def failover_decision(
    view, verdict, primary, target, mode="", force=False, services=None, run_id=None
):
    try:
        return decision.failover(
            view,
            verdict,
            primary,
            target,
            mode=mode or "",
            force=bool(force),
            services=tuple(services or ("smtp",)),
            run_id=run_id,
        )
    except decision.DecisionError as exc:
        raise AnsibleFilterError("failover_decision: %s" % exc) from None


def failback_decision(view, verdict, primary, target, mode="", services=None, run_id=None):
    try:
        return decision.failback(
            view,
            verdict,
            primary,
            target,
            mode=mode or "",
            services=tuple(services or ("imap",)),
            run_id=run_id,
        )
    except decision.DecisionError as exc:
        raise AnsibleFilterError("failback_decision: %s" % exc) from None


class FilterModule:
    def filters(self):
        return {"failover_decision": failover_decision, "failback_decision": failback_decision}
