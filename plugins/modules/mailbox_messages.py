#!/usr/bin/python
# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r"""
---
module: mailbox_messages
short_description: List the messages (Message-IDs) held in Dovecot mailboxes
version_added: 0.1.0
description:
  - Lists, per user and mailbox, the messages a Dovecot server holds, with their
    Message-ID, GUID and save date, through C(doveadm fetch).
  - Used to reconcile a failback (every message received during an outage must exist on
    the primary exactly once) and to count a drill's traffic; combine two listings with the
    P(continuity.mail.reconcile#filter) filter.
  - Read-only. Runs on the mail host and needs only Python's standard library.
author:
  - continuity.mail developers (@continuity-mail)
attributes:
  check_mode:
    support: full
    description: The module never changes anything, so it runs normally in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to diff.
options:
  users:
    description:
      - V(all) lists every user the Dovecot userdb can iterate; otherwise a list of users.
    type: list
    elements: str
    default: [all]
  mailbox:
    description: Mailbox name or mask (C(*) for every mailbox).
    type: str
    default: '*'
  query:
    description:
      - A C(doveadm-search-query) as a list of words, for example
        V([HEADER, X-Continuity-Drill, run-42]) or V([SAVEDSINCE, 2h]).
    type: list
    elements: str
    default: [ALL]
  doveadm:
    description: Path of the doveadm binary.
    type: path
    default: doveadm
notes:
  - Message-IDs come from each message's header; messages without one are listed with an
    empty RV(messages[].message_id).
"""

EXAMPLES = r"""
- name: Messages of one drill on the primary
  continuity.mail.mailbox_messages:
    query: [HEADER, X-Continuity-Drill, "{{ drill_run_id }}"]
  register: primary_listing

- name: Everything the secondary saved during the outage
  continuity.mail.mailbox_messages:
    users: [alice@example.com, bob@example.com]
    query: [SAVEDSINCE, "{{ outage_started_at }}"]
"""

RETURN = r"""
messages:
  description: One entry per message.
  returned: always
  type: list
  elements: dict
  contains:
    user:
      description: Owner of the mailbox.
      type: str
    mailbox:
      description: Mailbox name.
      type: str
    guid:
      description: Dovecot message GUID.
      type: str
    saved:
      description: When the message was saved on this server.
      type: str
    message_id:
      description: The Message-ID header, with angle brackets.
      type: str
users:
  description: User to sorted list of Message-IDs.
  returned: always
  type: dict
  sample: {"alice@example.test": ["<a@x>", "<b@x>"]}
count:
  description: Number of messages listed.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.continuity.mail.plugins.module_utils._mailbox.listing import (
    build_command,
    parse_fetch,
    summarise,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            users=dict(type="list", elements="str", default=["all"]),
            mailbox=dict(type="str", default="*"),
            query=dict(type="list", elements="str", default=["ALL"]),
            doveadm=dict(type="path", default="doveadm"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not params["users"]:
        module.fail_json(msg="users must name at least one user, or be [all]")
    if not params["query"]:
        module.fail_json(msg="query must not be empty (use [ALL] for every message)")

    targets = ["all"] if params["users"] == ["all"] else params["users"]
    messages = []
    for target in targets:
        command = build_command(params["doveadm"], target, params["mailbox"], params["query"])
        rc, out, err = module.run_command(command)
        if rc != 0:
            module.fail_json(
                msg="doveadm fetch failed for %s (rc=%d): %s" % (target, rc, err.strip()),
                command=command,
            )
        try:
            messages.extend(parse_fetch(out))
        except ValueError as exc:
            module.fail_json(msg=str(exc), command=command)

    module.exit_json(
        changed=False, messages=messages, users=summarise(messages), count=len(messages)
    )


if __name__ == "__main__":
    main()
