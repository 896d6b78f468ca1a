# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The health benchmark's endpoints: one extra lab container with hundreds of real listeners.

continuity-lab-bench-health (172.30.53.44, label continuity.mail.lab=bench-health) runs
Postfix with one smtpd service per SMTP and per submission port and Dovecot with one IMAP
listener per IMAP port, all with STARTTLS and a certificate from a throwaway bench CA, and
one mailbox user per IMAP endpoint. Dead endpoints are ports nobody listens on.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "tests" / "unit"))

from health_certs import make_ca, make_leaf, pem_cert, write_pair  # noqa: E402

NAME = "continuity-lab-bench-health"
IP = "172.30.53.44"
LABEL = "continuity.mail.lab=bench-health"
SERVER_NAME = "bench.example.test"
PASSWORD = "Bench-imap-Kx7qWv"
SMTP_BASE, SUBMISSION_BASE, IMAP_BASE, DEAD_BASE = 10000, 11000, 12000, 13000

MAIN_CF = """\
compatibility_level = 3.6
myhostname = bench.example.test
mydestination =
inet_interfaces = all
inet_protocols = ipv4
maillog_file = /var/log/postfix.log
smtpd_banner = $myhostname ESMTP
alias_maps =
alias_database =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_tls_security_level = may
smtpd_tls_cert_file = /etc/ssl/bench/bench.crt
smtpd_tls_key_file = /etc/ssl/bench/bench.key
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
# Keep the smtpd processes of every listener alive between benchmark rounds.
max_idle = 3600s
# Busy MX hosts skip the reverse lookup of every client; here it would only measure the
# Docker resolver under a burst of PTR queries, for every tool alike.
smtpd_peername_lookup = no
"""

DOVECOT = """\
protocols = imap
listen = *
ssl = required
ssl_cert = </etc/ssl/bench/bench.crt
ssl_key = </etc/ssl/bench/bench.key
disable_plaintext_auth = yes
auth_mechanisms = plain login
mail_location = sdbox:/var/vmail/%d/%n
first_valid_uid = 5000
default_process_limit = 1000
default_client_limit = 4000
passdb {
  driver = passwd-file
  args = scheme=SHA512-CRYPT /etc/dovecot/users
}
userdb {
  driver = static
  args = uid=5000 gid=5000 home=/var/vmail/%d/%n
}
protocol imap {
  mail_max_userip_connections = 1000
}
service auth {
  unix_listener /var/spool/postfix/private/auth {
    mode = 0660
    user = postfix
    group = postfix
  }
}
# Dovecot's high-performance login mode (one login process serves many connections), as
# recommended for busy servers, instead of one new process per connection.
service imap-login {
  service_count = 0
  process_min_avail = 2
  client_limit = 1000
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = 0
  }
@LISTENERS@
}
"""


def sh(command, input_text=None, check=True):
    result = subprocess.run(
        ["docker", "exec", "-i", NAME, "bash", "-c", command],
        input=input_text,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and result.returncode != 0:
        raise RuntimeError("%s: %s%s" % (command, result.stdout, result.stderr))
    return result.stdout


def running():
    out = subprocess.run(
        ["docker", "ps", "--filter", "name=^%s$" % NAME, "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return NAME in out.split()


def up(smtp, submission, imap, workdir):
    """(Re)create the container with exactly this many listeners; returns the CA path."""
    subprocess.run(["docker", "rm", "-f", NAME], capture_output=True, check=False)
    subprocess.run(
        [
            "docker",
            "run",
            "-d",
            "--name",
            NAME,
            "--hostname",
            "bench-health",
            "--label",
            LABEL,
            "--network",
            "continuity-lab",
            "--ip",
            IP,
            "--tmpfs",
            "/run",
            "--tmpfs",
            "/run/lock",
            "-v",
            "/sys/fs/cgroup:/sys/fs/cgroup:ro",
            "--cap-add",
            "NET_ADMIN",
            "--stop-signal",
            "SIGRTMIN+3",
            "continuity-lab:latest",
            "/lib/systemd/systemd",
        ],
        capture_output=True,
        check=True,
    )
    for _ in range(90):
        state = sh("systemctl is-system-running", check=False).strip()
        if state in ("running", "degraded"):
            break
        time.sleep(1)
    folder = Path(workdir)
    ca = make_ca("continuity bench CA")
    ca_path = folder / "bench-ca.crt"
    ca_path.write_bytes(pem_cert(ca[1]))
    write_pair(folder, "bench", *make_leaf(ca, [SERVER_NAME, IP]))
    sh("mkdir -p /etc/ssl/bench")
    for name in ("bench.crt", "bench.key"):
        subprocess.run(
            ["docker", "cp", str(folder / name), "%s:/etc/ssl/bench/" % NAME], check=True
        )
    sh("chmod 644 /etc/ssl/bench/bench.crt; chmod 600 /etc/ssl/bench/bench.key")

    master = ["%d inet n - n - - smtpd" % (SMTP_BASE + n) for n in range(smtp)]
    master += [
        "%d inet n - n - - smtpd -o syslog_name=postfix/submission "
        "-o smtpd_tls_security_level=encrypt "
        "-o smtpd_sasl_auth_enable=yes -o smtpd_tls_auth_only=yes" % (SUBMISSION_BASE + n)
        for n in range(submission)
    ]
    sh("cat > /etc/postfix/main.cf", MAIN_CF)
    sh(
        "sed '/^smtp      inet/d' /etc/postfix/master.cf.proto > /etc/postfix/master.cf && "
        "cat >> /etc/postfix/master.cf",
        "\n".join(master) + "\n",
    )

    listeners = "\n".join(
        "  inet_listener imap_%d {\n    port = %d\n  }" % (n, IMAP_BASE + n) for n in range(imap)
    )
    sh("cat > /etc/dovecot/dovecot.conf", DOVECOT.replace("@LISTENERS@", listeners))
    digest = sh("doveadm pw -s SHA512-CRYPT -p '%s'" % PASSWORD).strip()
    users = "".join("%s:%s::::::\n" % (user(n), digest) for n in range(imap))
    sh(
        "cat > /etc/dovecot/users && chmod 640 /etc/dovecot/users "
        "&& chgrp dovecot /etc/dovecot/users",
        users,
    )
    sh(
        "groupadd -g 5000 vmail && useradd -u 5000 -g 5000 -d /var/vmail -M vmail && "
        "mkdir -p /var/vmail && chown vmail:vmail /var/vmail"
    )
    sh("postfix check && systemctl start dovecot && systemctl start postfix")
    return str(ca_path)


def user(n):
    return "bench%04d@bench.test" % n


def down():
    subprocess.run(["docker", "rm", "-f", NAME], capture_output=True, check=False)


if __name__ == "__main__":
    if sys.argv[1:] == ["down"]:
        down()
    else:
        print(up(200, 150, 150, tempfile.mkdtemp(prefix="bench-health-")))
        print(sh("ss -ltn | wc -l"))
        os._exit(0)
