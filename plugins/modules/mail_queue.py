#!/usr/bin/python
# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r"""
module: mail_queue
short_description: Inspect the Postfix queue and flush, hold, release or requeue mail
version_added: 0.1.0
description:
  - Reads the Postfix queue through C(postqueue -j) - counts per queue, the oldest message
    against C(maximal_queue_lifetime), and deferred messages per destination domain with
    their delay reasons.
  - Optionally acts on it - V(flush) (all deferred mail, or selected messages), V(flush_domain),
    V(hold), V(release) and V(requeue) (C(postsuper -r), so mail is routed again, for example
    to local delivery after a failover). Messages are never deleted.
  - Runs on the mail server itself and uses only the Python standard library.
author:
  - continuity.mail developers (@continuity-mail)
attributes:
  check_mode:
    support: full
    description: Reports which messages the action would touch and the predicted counts; runs no
      command that changes the queue.
  diff_mode:
    support: full
    description: Queue counts before and after (predicted in check mode).
options:
  action:
    description:
      - V(status) only reads.
      - V(flush) schedules immediate delivery of all deferred mail (C(postqueue -f)), or only
        of the messages selected by O(domain) or O(queue_ids) (C(postqueue -i)).
      - V(flush_domain) schedules immediate delivery of deferred mail with a recipient in
        O(domain) (one C(postqueue -i) per message, so it works for any domain, not just
        those in C(fast_flush_domains)).
      - V(hold) puts selected messages on hold (C(postsuper -h)); V(release) releases held
        ones (C(postsuper -H)); V(requeue) requeues selected messages (C(postsuper -r)) so
        their next hop is looked up again.
    type: str
    choices: [status, flush, flush_domain, hold, release, requeue]
    default: status
  domain:
    description:
      - Select messages with at least one recipient in this domain. Required for
        V(flush_domain).
    type: str
  queue_ids:
    description:
      - Select only these queue IDs.
    type: list
    elements: str
  queues:
    description:
      - Queues to select messages from. By default V(hold) and V(requeue) take incoming,
        active and deferred mail (never held mail), V(release) takes held mail, and the
        flushes take deferred mail.
    type: list
    elements: str
    choices: [maildrop, incoming, active, deferred, hold]
  config_dir:
    description:
      - Postfix configuration directory of the instance (C(-c)); the default instance when
        not set.
    type: path
  list_messages:
    description:
      - Also return the messages (queue ID, queue, sender, size, age, recipients and reasons).
    type: bool
    default: false
  max_messages:
    description:
      - Most messages listed in RV(messages) when O(list_messages) is on.
    type: int
    default: 200
notes:
  - Changing the queue needs root (or the Postfix owner); use C(become).
  - Messages that leave the queue between listing and acting (delivered meanwhile) are
    simply not counted in RV(affected).
seealso:
  - module: continuity.mail.mail_health
"""

EXAMPLES = r"""
- name: Read the secondary's queue
  continuity.mail.mail_queue:
  register: queue

- name: Warn when queued mail is older than half its lifetime
  ansible.builtin.debug:
    msg: "{{ queue.oldest.queue_id }} is {{ queue.oldest.age_seconds }} s old"
  when: queue.oldest and queue.oldest.lifetime_used > 0.5

- name: After a failover, route waiting mail to local delivery and retry now
  continuity.mail.mail_queue:
    action: requeue
    domain: example.test
  become: true

- name: Deliver everything waiting for example.org now
  continuity.mail.mail_queue:
    action: flush_domain
    domain: example.org
  become: true

- name: Keep mail for one domain on hold during maintenance (dry run first)
  continuity.mail.mail_queue:
    action: hold
    domain: example.org
  check_mode: true
  become: true
"""

RETURN = r"""
counts:
  description: Messages per queue after the action (or predicted, in check mode), plus C(total).
  returned: always
  type: dict
  sample: {maildrop: 0, incoming: 0, active: 1, deferred: 12, hold: 0, total: 13}
counts_before:
  description: Messages per queue before the action.
  returned: always
  type: dict
oldest:
  description: The oldest message; V(null) when the queue is empty.
  returned: always
  type: dict
  contains:
    queue_id:
      description: Its queue ID.
      type: str
    queue:
      description: The queue it is in.
      type: str
    age_seconds:
      description: Seconds since it arrived.
      type: int
    lifetime_left_seconds:
      description: Seconds until C(maximal_queue_lifetime) makes Postfix bounce it (negative once
        past).
      type: int
    lifetime_used:
      description: Age as a fraction of C(maximal_queue_lifetime).
      type: float
      sample: 0.0123
lifetime_seconds:
  description: C(maximal_queue_lifetime) in seconds.
  returned: always
  type: int
  sample: 2592000
deferred_by_domain:
  description: Deferred mail per recipient domain - messages, recipients and delay reasons with
    counts.
  returned: always
  type: dict
  sample:
    example.test:
      messages: 3
      recipients: 4
      reasons: {"connect to mx1.example.test[172.30.53.20]:25: Connection refused": 4}
selected:
  description: Queue IDs the action applies to (or would, in check mode).
  returned: always
  type: list
  elements: str
affected:
  description:
    - Messages actually moved (V(hold), V(release), V(requeue)) or scheduled (V(flush) with
      a selection, V(flush_domain)); in check mode, how many would be. For a plain V(flush),
      the number of deferred messages.
  returned: always
  type: int
messages:
  description: The messages (after the action), when O(list_messages) is on.
  returned: when O(list_messages=true)
  type: list
  elements: dict
diff:
  description: Queue counts before and after.
  returned: when diff mode is on
  type: dict
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.continuity.mail.plugins.module_utils._queue.actions import (
    Postfix,
    QueueError,
)
from ansible_collections.continuity.mail.plugins.module_utils._queue.status import (
    QUEUES,
    SOURCES,
    message_view,
    predict,
    select,
    summarize,
)


def act(postfix, params, selected):
    """Run the action; returns how many messages it moved or scheduled."""
    action = params["action"]
    if action == "flush" and not (params["domain"] or params["queue_ids"]):
        postfix.flush_all()
        return len(selected)
    if action in ("flush", "flush_domain"):
        return postfix.flush_ids(selected)
    return postfix.postsuper(action, selected, params["queues"] or SOURCES[action])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            action=dict(
                type="str",
                default="status",
                choices=["status", "flush", "flush_domain", "hold", "release", "requeue"],
            ),
            domain=dict(type="str"),
            queue_ids=dict(type="list", elements="str"),
            queues=dict(type="list", elements="str", choices=list(QUEUES)),
            config_dir=dict(type="path"),
            list_messages=dict(type="bool", default=False),
            max_messages=dict(type="int", default=200),
        ),
        required_if=[("action", "flush_domain", ["domain"])],
        supports_check_mode=True,
    )
    params = module.params
    action = params["action"]
    if action == "status" and (params["domain"] or params["queue_ids"] or params["queues"]):
        module.fail_json(
            msg="domain, queue_ids and queues select messages for an action; "
            "action=status takes none of them"
        )
    postfix = Postfix(
        module.run_command,
        params["config_dir"],
        lambda name: module.get_bin_path(name, required=True),
    )
    try:
        lifetime = postfix.lifetime()
        messages = postfix.messages()
        now = time.time()
        before = summarize(messages, now, lifetime)
        selected = (
            []
            if action == "status"
            else select(messages, action, params["domain"], params["queue_ids"], params["queues"])
        )
        predicted = predict(before["counts"], messages, action, selected)
        affected = len(selected)
        if selected and not module.check_mode:
            affected = act(postfix, params, selected)
            messages = postfix.messages()
            now = time.time()
    except QueueError as exc:
        module.fail_json(msg=str(exc))

    report = summarize(messages, now, lifetime)
    if module.check_mode:
        report["counts"] = predicted
    result = dict(
        changed=bool(selected) and (module.check_mode or affected > 0),
        counts=report["counts"],
        counts_before=before["counts"],
        oldest=report["oldest"],
        lifetime_seconds=lifetime,
        deferred_by_domain=report["deferred_by_domain"],
        selected=selected,
        affected=affected,
    )
    if params["list_messages"]:
        result["messages"] = [message_view(m, now) for m in messages[: params["max_messages"]]]
    if module._diff:
        result["diff"] = {"before": before["counts"], "after": report["counts"]}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
