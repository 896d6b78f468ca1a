# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Postfix queue commands (postqueue, postsuper, postconf) behind one small class.

Messages are only ever moved or rescheduled, never deleted: losing mail is a bug.
Standard library only.
"""

import re

from ansible_collections.continuity.mail.plugins.module_utils._queue.status import (
    parse_duration,
    parse_postqueue_json,
)

_POSTSUPER_FLAGS = {"hold": "-h", "release": "-H", "requeue": "-r"}
_POSTSUPER_DONE = re.compile(
    r"postsuper: (?:Placed on hold|Released from hold|Requeued): (\d+) messages?"
)


class QueueError(Exception):
    pass


class Postfix:
    """run(argv, data=None) -> (rc, stdout, stderr), e.g. AnsibleModule.run_command."""

    def __init__(self, run, config_dir=None, binary=None):
        self._run = run
        self._config = ["-c", config_dir] if config_dir else []
        self._binary = binary or (lambda name: name)

    def _call(self, name, args, data=None):
        argv = [self._binary(name)] + self._config + list(args)
        rc, out, err = self._run(argv, data=data)
        if rc != 0:
            raise QueueError("%s failed (rc=%d): %s" % (" ".join(argv), rc, (err or out).strip()))
        return out, err

    def messages(self):
        out, dummy = self._call("postqueue", ["-j"])
        try:
            return parse_postqueue_json(out)
        except ValueError as exc:
            raise QueueError(str(exc)) from exc

    def lifetime(self):
        out, dummy = self._call("postconf", ["-h", "maximal_queue_lifetime"])
        try:
            return parse_duration(out.strip())
        except ValueError as exc:
            raise QueueError("maximal_queue_lifetime: %s" % exc) from exc

    def flush_all(self):
        self._call("postqueue", ["-f"])

    def flush_ids(self, queue_ids):
        # postqueue -i takes one ID per call; a message delivered meanwhile is not an error.
        done = 0
        for queue_id in queue_ids:
            argv = [self._binary("postqueue")] + self._config + ["-i", queue_id]
            rc, dummy, dummy = self._run(argv)
            done += rc == 0
        return done

    def postsuper(self, action, queue_ids, queues):
        """hold/release/requeue exactly these IDs, only from these queues; returns how many
        messages postsuper reports as moved (IDs that left the queue meanwhile are skipped)."""
        if not queue_ids:
            return 0
        data = "\n".join(queue_ids)  # run_command ends stdin with a newline itself
        out, err = self._call(
            "postsuper", [_POSTSUPER_FLAGS[action], "-"] + list(queues), data=data
        )
        match = _POSTSUPER_DONE.search(err or "") or _POSTSUPER_DONE.search(out or "")
        moved = int(match.group(1)) if match else 0
        if action == "requeue" and moved:
            self.wake_pickup()
        return moved

    def wake_pickup(self):
        """Requeued mail waits in maildrop for pickup's next wakeup (60 s by default); kick it
        so the new route is used now. Harmless if it fails: pickup still comes round."""
        self._run([self._binary("postkick")] + self._config + ["public", "pickup", "W"])
