# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Starting the failover flow with the monitor's evidence, so the flow does not probe again.

The evidence (the site verdict in the quorum filter's shape, who decided, when) is written
to a file only the monitor's user can read and handed to the flow as extra vars:

- `ansible-playbook`: the configured command (for example ``ansible-playbook -i
  /etc/continuity/inventory continuity.mail.failover``) run with ``-e @evidence.json``;
- AWX / Automation Platform: POST to ``/api/v2/job_templates/<id>/launch/`` with the
  evidence as ``extra_vars`` (the template must prompt for extra vars), then poll the job.
"""

import asyncio
import json
import os
import time
import urllib.request

from ansible_collections.continuity.mail.plugins.module_utils._monitor import web

EVIDENCE_VAR = "continuity_monitor_evidence"


def evidence(site_verdict, summary, monitor, wall):
    return {
        EVIDENCE_VAR: {
            "decided_by": monitor,
            "decided_at": wall,
            "reason": "primary down by quorum: %s" % ", ".join(summary["primary_down_targets"]),
            "health_verdict": site_verdict,
        }
    }


def write_evidence(directory, doc, wall):
    path = os.path.join(directory, "evidence-%d.json" % int(wall))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(doc, handle, sort_keys=True)
    return path


async def run_playbook(command, evidence_path, log_path=None):
    """Run the flow; returns {"ok", "rc", "tail"} (the last lines of its output)."""
    argv = list(command) + ["-e", "@" + evidence_path]
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, dummy = await process.communicate()
    text = output.decode(errors="replace")
    if log_path:
        with open(log_path, "a") as handle:
            handle.write(text)
    return {"ok": process.returncode == 0, "rc": process.returncode, "tail": text[-2000:]}


def _awx(method, url, token, body=None, timeout=10.0, context=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", "Bearer %s" % token)
    request.add_header("Content-Type", "application/json")
    with web.request(request, timeout, context) as response:
        return json.loads(response.read().decode() or "{}")


AWX_DONE = ("successful", "failed", "error", "canceled")


def launch_awx(awx, token, doc, poll=2.0, limit=1800.0, request=_awx, sleep=time.sleep):
    """Launch the job template with the evidence and wait for the job (blocking)."""
    base = awx["url"].rstrip("/")
    job = request(
        "POST",
        "%s/api/v2/job_templates/%s/launch/" % (base, awx["job_template"]),
        token,
        {"extra_vars": doc},
    )
    job_id = job.get("job") or job.get("id")
    waited = 0.0
    status = job.get("status")
    while status not in AWX_DONE and waited < limit:
        sleep(poll)
        waited += poll
        status = request("GET", "%s/api/v2/jobs/%s/" % (base, job_id), token).get("status")
    return {"ok": status == "successful", "job": job_id, "status": status}
