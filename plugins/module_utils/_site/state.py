# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The site's state record: one TXT string holding a small JSON object.

``{"v": 1, "state": "failed_over", "active": "mx2", "since": 1767268920, "run_id": "...",
"reason": "...", "updated": 1767268990}``. JSON keeps a free-text reason readable; the TXT
string is split into 255-octet chunks on write and joined on read.
"""

import json

STATES = ("normal", "failed_over")
MAX_REASON = 400


class StateError(ValueError):
    pass


def encode(state, active, since, run_id, reason, updated, primary=None):
    if state not in STATES:
        raise StateError("state must be one of %s, got %r" % (", ".join(STATES), state))
    for what, value in (("active", active), ("run_id", run_id)):
        if not value or not str(value).strip():
            raise StateError("%s is required to write the state" % what)
    try:
        since = int(float(since))
    except (TypeError, ValueError):
        raise StateError("since must be seconds since the epoch, got %r" % (since,)) from None
    record = {
        "v": 1,
        "state": state,
        "active": str(active),
        "since": since,
        "run_id": str(run_id),
        "reason": str(reason or "")[:MAX_REASON],
        "updated": int(updated),
    }
    if primary:
        record["primary"] = str(primary)
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


def decode(texts):
    """The state dict of the record's values, or None when there is none. A value that is not
    our JSON is reported as it is, with state "unknown"."""
    if not texts:
        return None
    for text in texts:
        try:
            record = json.loads(text)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("state"):
            record.pop("v", None)
            return record
    return {"state": "unknown", "record": " ".join(texts)}
