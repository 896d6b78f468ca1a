# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for the continuity-flow building blocks' integration tests (mailbox_sync,
mail_canary, outages, secondary modes): run Ansible for real, put real mail into the lab,
count it in Dovecot."""

import json
import os
import smtplib
import subprocess
import uuid
from email.message import EmailMessage

from labtools import ROOT

TEST_HEADER = "X-Continuity-Test"


def ansible_env(json_output=True):
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOLOR="1",
    )
    if json_output:
        env.update(ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    env["PATH"] = os.path.join(ROOT, ".venv", "bin") + os.pathsep + env.get("PATH", "")
    return env


def module(host, name, args, check=False, diff=False, timeout=600, container=False):
    """Run one module through `ansible` (real connection, real module); returns its result.

    container=True targets an extra lab container by name, outside the lab inventory."""
    argv = ["ansible", host, "-m", name, "-a", json.dumps(args)]
    if container:
        argv = [
            "ansible",
            "all",
            "-i",
            host + ",",
            "-c",
            "community.docker.docker",
            "-e",
            "ansible_python_interpreter=/usr/bin/python3",
            "-m",
            name,
            "-a",
            json.dumps(args),
        ]
    argv += ["--check"] if check else []
    argv += ["--diff"] if diff else []
    proc = subprocess.run(
        argv,
        cwd=ROOT,
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    try:
        return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"][host]
    except (ValueError, KeyError, IndexError):
        raise AssertionError(
            "ansible %s -m %s gave no result (rc=%d): %s %s"
            % (host, name, proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
        ) from None


class PlaybookRun:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        try:
            self.report = json.loads(proc.stdout)
        except ValueError:
            self.report = None

    def stats(self, host):
        if not self.report or host not in self.report.get("stats", {}):
            raise AssertionError(
                "no stats for %s (rc=%d): %s %s"
                % (host, self.rc, self.stdout[-3000:], self.stderr[-3000:])
            )
        return self.report["stats"][host]

    def changed(self, host):
        return self.stats(host)["changed"]

    def failed(self, host):
        stats = self.stats(host)
        return stats["failures"] + stats["unreachable"]

    def messages(self):
        """Every failure message in the run (for assertions on why it stopped)."""
        found = []
        for play in (self.report or {}).get("plays", []):
            for task in play["tasks"]:
                for result in task["hosts"].values():
                    if result.get("failed") and result.get("msg"):
                        found.append(str(result["msg"]))
        return found

    def describe(self):
        return "rc=%d\n%s\n%s" % (self.rc, self.stdout[-4000:], self.stderr[-2000:])


def playbook(path, extra_vars=None, timeout=900, check=False, inventories=(), vault=None):
    """ansible-playbook from the checkout (the lab inventory unless `inventories` are given;
    `vault` is a vault password file)."""
    argv = ["ansible-playbook", path]
    for inventory in inventories:
        argv += ["-i", inventory]
    if vault:
        argv += ["--vault-password-file", vault]
    if extra_vars:
        argv += ["-e", json.dumps(extra_vars)]
    argv += ["--check"] if check else []
    proc = subprocess.run(
        argv,
        cwd=ROOT,
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return PlaybookRun(proc)


class Finished:
    """What PlaybookRun needs from a finished process."""

    def __init__(self, returncode, stdout, stderr):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


def start(path, extra_vars, stdout=subprocess.PIPE, cwd=ROOT):
    """ansible-playbook in its own process group (killable as a whole, like a dead node)."""
    env = ansible_env()
    env["ANSIBLE_CONFIG"] = os.path.join(cwd, "ansible.cfg")
    return subprocess.Popen(
        ["ansible-playbook", path, "-e", json.dumps(extra_vars)],
        cwd=cwd,
        env=env,
        stdout=stdout,
        stderr=subprocess.PIPE if stdout == subprocess.PIPE else subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def finish(proc, timeout=900):
    """Wait for a run begun with start() and return it as a PlaybookRun."""
    stdout, stderr = proc.communicate(timeout=timeout)
    return PlaybookRun(Finished(proc.returncode, stdout, stderr or ""))


def token(prefix="t"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:16])


def tagged_message(tag, to, sender="tester@example.net", subject=None):
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject or "continuity test %s" % tag
    message["Message-ID"] = "<%s@example.net>" % tag
    message[TEST_HEADER] = tag
    message.set_content("continuity integration test message %s\n" % tag)
    return message


def smtp_send(host, message, port=25, helo="tester.example.net", timeout=30):
    """Real SMTP from the control node (no STARTTLS needed for port 25 in the lab)."""
    with smtplib.SMTP(host, port, local_hostname=helo, timeout=timeout) as smtp:
        refused = smtp.send_message(message)
    if refused:
        raise AssertionError("%s refused recipients: %r" % (host, refused))


def lmtp_deliver(lab, host, message):
    """Deliver straight into a lab server's Dovecot through its LMTP socket (as Postfix does)."""
    script = (
        "import smtplib, sys\n"
        "data = sys.stdin.buffer.read()\n"
        "lmtp = smtplib.LMTP('/var/spool/postfix/private/dovecot-lmtp')\n"
        "refused = lmtp.sendmail(%r, [%r], data)\n"
        "lmtp.quit()\n"
        "sys.exit(1 if refused else 0)\n" % (message["From"], message["To"])
    )
    result = subprocess.run(
        ["docker", "exec", "-i", lab.container(host), "python3", "-c", script],
        input=message.as_bytes(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError("LMTP delivery on %s failed: %s" % (host, result.stderr.decode()))


def count_tagged(lab, host, user, tag):
    """How many messages of `user` on `host` carry the test header with this tag."""
    out = lab.exec(
        host, "doveadm -f tab fetch -u %s guid header %s %s" % (user, TEST_HEADER, tag)
    ).stdout
    return max(0, len([line for line in out.splitlines() if line.strip()]) - 1)


def expunge_tagged(lab, host, user, tag):
    lab.exec(
        host,
        "doveadm expunge -u %s mailbox '*' header %s %s" % (user, TEST_HEADER, tag),
        check=False,
    )


def guid_set(lab, host, user):
    """Sorted list of (mailbox, guid) a user holds on a host, read with doveadm."""
    out = lab.exec(host, "doveadm -f tab fetch -u %s 'mailbox guid' all" % user).stdout
    rows = [tuple(line.rsplit("\t", 1)) for line in out.splitlines()[1:] if line.strip()]
    return sorted(rows)
