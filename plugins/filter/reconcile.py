# -*- coding: utf-8 -*-
# Copyright: continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: reconcile
short_description: Check that every expected message exists exactly once
version_added: 0.1.0
description:
  - Compares the messages that must exist (Message-IDs, optionally per user) with a
    listing returned by M(continuity.mail.mailbox_messages) and counts what is present
    once, missing, or duplicated. A message that is missing or duplicated is a failure of
    the continuity flow.
positional: expected
options:
  _input:
    description: The RV(continuity.mail.mailbox_messages#module:messages) list of the server to check.
    type: list
    elements: dict
    required: true
  expected:
    description:
      - Message-IDs that must be present. A list of IDs (any user) or a list of dicts with
        C(user) and C(message_id) (that user's mailboxes only).
    type: list
    elements: raw
    required: true
"""

EXAMPLES = r"""
- name: Every message of the drill exists once on the primary
  ansible.builtin.assert:
    that: (primary_listing.messages | continuity.mail.reconcile(sent_ids)).ok
"""

RETURN = r"""
_value:
  description: The reconciliation.
  type: dict
  contains:
    expected:
      description: Number of expected messages.
      type: int
    present:
      description: Expected messages found exactly once.
      type: int
    missing:
      description: Expected messages not found (lost).
      type: list
      elements: str
    duplicated:
      description: Expected messages found more than once, with their counts.
      type: dict
    ok:
      description: True when nothing is missing or duplicated.
      type: bool
"""

from ansible.errors import AnsibleFilterError


def _key(user, message_id):
    return (user.lower() if user else None, message_id.strip().lower())


def reconcile(listing, expected):
    """Count expected messages found once, missing, and duplicated in a listing."""
    if not isinstance(listing, list) or not isinstance(expected, list):
        raise AnsibleFilterError("reconcile expects a list of messages and a list of expected IDs")
    by_user = {}
    anywhere = {}
    for message in listing:
        key = _key(message.get("user"), message.get("message_id", ""))
        by_user[key] = by_user.get(key, 0) + 1
        anywhere[key[1]] = anywhere.get(key[1], 0) + 1
    missing = []
    duplicated = {}
    present = 0
    for item in expected:
        if isinstance(item, dict):
            label = "%s %s" % (item.get("user"), item.get("message_id"))
            count = by_user.get(_key(item.get("user"), item.get("message_id", "")), 0)
        else:
            label = str(item)
            count = anywhere.get(label.strip().lower(), 0)
        if count == 0:
            missing.append(label)
        elif count > 1:
            duplicated[label] = count
        else:
            present += 1
    return {
        "expected": len(expected),
        "present": present,
        "missing": missing,
        "duplicated": duplicated,
        "ok": not missing and not duplicated,
    }


class FilterModule(object):
    """continuity.mail reconciliation filter."""

    def filters(self):
        return {"reconcile": reconcile}
