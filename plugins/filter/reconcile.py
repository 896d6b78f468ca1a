# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


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
    description: The RV(continuity.mail.mailbox_messages#module:messages) list of the server to
      check.
    type: list
    elements: dict
    required: true
  expected:
    description:
      - Message-IDs that must be present. A list of IDs (any user) or a list of dicts with
        C(user) and C(message_id) (that user's mailboxes only).
      - An ID listed several times must exist that many times (a message kept in two folders).
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
      description: Expected messages that arrived (duplicates counted once, partial copies as
        found).
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


def _label(item):
    if isinstance(item, dict):
        return "%s %s" % (item.get("user"), item.get("message_id"))
    return str(item)


def _lookup_key(item):
    if isinstance(item, dict):
        return ("user",) + _key(item.get("user"), item.get("message_id", ""))
    return ("any", str(item).strip().lower())


def reconcile(listing, expected):
    """Compare how often each expected message must exist with how often it does.

    An ID listed n times in `expected` must exist n times (a user may legitimately keep a
    copy in two folders); fewer is "missing" (lost), more is "duplicated".
    """
    if not isinstance(listing, list) or not isinstance(expected, list):
        raise AnsibleFilterError("reconcile expects a list of messages and a list of expected IDs")
    found = {}
    for message in listing:
        user_key = ("user",) + _key(message.get("user"), message.get("message_id", ""))
        any_key = ("any", user_key[2])
        found[user_key] = found.get(user_key, 0) + 1
        found[any_key] = found.get(any_key, 0) + 1
    wanted = {}
    labels = {}
    for item in expected:
        key = _lookup_key(item)
        wanted[key] = wanted.get(key, 0) + 1
        labels.setdefault(key, _label(item))
    missing = []
    duplicated = {}
    present = 0
    for key, count in wanted.items():
        have = found.get(key, 0)
        if have < count:
            missing.extend([labels[key]] * (count - have))
            present += have
        elif have > count:
            duplicated[labels[key]] = have
            present += count
        else:
            present += count
    return {
        "expected": len(expected),
        "present": present,
        "missing": sorted(missing),
        "duplicated": duplicated,
        "ok": not missing and not duplicated,
    }


class FilterModule:
    """continuity.mail reconciliation filter."""

    def filters(self):
        return {"reconcile": reconcile}
