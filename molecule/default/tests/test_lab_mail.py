# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verifier for the lab topology: real mail through real Postfix, Dovecot and BIND."""

import os
import sys
import uuid

import pytest

sys.path.insert(
    0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "tests", "integration")
)

from labtools import Lab, imap_search, swaks, wait_until

testinfra_hosts = [
    "docker://continuity-lab-ns1",
    "docker://continuity-lab-ns2",
    "docker://continuity-lab-mx1",
    "docker://continuity-lab-mx2",
    "docker://continuity-lab-sender",
]

SERVICES = {
    "ns1": ["named"],
    "ns2": ["named"],
    "mx1": ["postfix", "dovecot"],
    "mx2": ["postfix", "dovecot"],
    "sender": ["postfix"],
}
LISTENERS = {
    # BIND binds each interface address rather than the wildcard.
    "ns1": ["tcp://172.30.53.10:53", "udp://172.30.53.10:53"],
    "ns2": ["tcp://172.30.53.11:53", "udp://172.30.53.11:53"],
    "mx1": [
        "tcp://0.0.0.0:25",
        "tcp://0.0.0.0:587",
        "tcp://0.0.0.0:143",
        "tcp://0.0.0.0:993",
        "tcp://0.0.0.0:12345",
    ],
    "mx2": ["tcp://0.0.0.0:25", "tcp://0.0.0.0:587", "tcp://0.0.0.0:143", "tcp://0.0.0.0:12345"],
    "sender": ["tcp://0.0.0.0:25"],
}


@pytest.fixture(scope="module")
def lab():
    return Lab()


def _short(host):
    return host.backend.name.rsplit("-", 1)[-1]


def test_services_run(host):
    for service in SERVICES[_short(host)]:
        assert host.service(service).is_running, service
        assert host.service(service).is_enabled, service


def test_listeners(host):
    for socket in LISTENERS[_short(host)]:
        assert host.socket(socket).is_listening, socket


# Settings Dovecot 2.4 no longer accepts (renamed or restructured in 2.4).
DOVECOT_23_ONLY = (
    "mail_location",
    "ssl_cert ",
    "ssl_key ",
    "disable_plaintext_auth",
    "default_fields",
    "args ",
    "plugin {",
)


@pytest.mark.parametrize("name", ["mx1", "mx2"])
def test_dovecot_configuration_matches_the_installed_generation(lab, name):
    version = lab.exec(name, "dovecot --version").stdout.split()[0]
    settings = [
        line.strip()
        for line in lab.exec(name, "doveconf -n").stdout.splitlines()
        if line.strip() and not line.startswith("#")
    ]
    if tuple(int(part) for part in version.split("-")[0].split(".")[:2]) >= (2, 4):
        assert settings[0].startswith("dovecot_config_version = 2.4."), settings[:3]
        assert any(line.startswith("dovecot_storage_version = 2.4.") for line in settings)
        leftovers = [line for line in settings if line.startswith(DOVECOT_23_ONLY)]
        assert leftovers == [], "2.3-only settings on Dovecot %s: %s" % (version, leftovers)
        assert "passdb passwd-file {" in settings
    else:
        assert any(line.startswith("mail_location = sdbox:") for line in settings)
        assert not any(line.startswith("dovecot_config_version") for line in settings)


def test_secondary_is_in_relay_mode(lab):
    assert lab.exec("mx2", "cat /etc/postfix/continuity-mode").stdout.strip() == "relay"
    relay_domains = lab.exec("mx2", "postconf -h relay_domains").stdout.split()
    assert sorted(relay_domains) == sorted(lab.domains)


def test_mail_to_alice_lands_on_mx1(lab):
    token = "lab-alice-" + uuid.uuid4().hex
    result = swaks(lab, "alice@example.test", subject=token)
    assert result.returncode == 0, result.stdout
    # Delivered through MX resolution by the sender: readable over IMAP on mx1, not on mx2.
    assert (
        wait_until(
            lambda: imap_search(lab, "mx1", "alice@example.test", token),
            60,
            what="alice's message on mx1",
        )
        == 1
    )
    assert imap_search(lab, "mx2", "alice@example.test", token) == 0
    imap_search(lab, "mx1", "alice@example.test", token, delete=True)


def test_backup_mx_queues_while_primary_down_and_delivers_after(lab):
    token = "lab-bob-" + uuid.uuid4().hex
    lab.exec("mx1", "systemctl stop postfix")
    try:
        result = swaks(lab, "bob@example.test", subject=token)
        assert result.returncode == 0, result.stdout

        def queued_on_mx2():
            queue = lab.exec("mx2", "postqueue -j").stdout
            return token_in_queue(lab, queue, token)

        assert wait_until(queued_on_mx2, 90, what="bob's message in mx2's queue")
        assert imap_search(lab, "mx1", "bob@example.test", token) == 0
    finally:
        lab.exec("mx1", "systemctl start postfix")
    lab.exec("mx2", "postqueue -f")
    assert (
        wait_until(
            lambda: imap_search(lab, "mx1", "bob@example.test", token),
            90,
            what="bob's message on mx1 after the flush",
        )
        == 1
    )
    assert lab.exec("mx2", "postqueue -j").stdout.strip() == ""
    imap_search(lab, "mx1", "bob@example.test", token, delete=True)


def token_in_queue(lab, queue_json, token):
    """True when a queued message on mx2 carries the token in its Subject."""
    import json

    for line in queue_json.splitlines():
        queue_id = json.loads(line)["queue_id"]
        if token in lab.exec("mx2", "postcat -hq %s" % queue_id, check=False).stdout:
            return True
    return False


def test_mx2_refuses_to_relay_for_foreign_domains(lab):
    result = swaks(lab, "someone@foreign.invalid", server=lab.ip("mx2"), extra="--quit-after RCPT")
    assert result.returncode != 0
    assert "\n<** 554" in result.stdout or "\n<** 55" in result.stdout, result.stdout
    assert "Relay access denied" in result.stdout


def test_mx2_rejects_unknown_recipient_at_rcpt(lab):
    result = swaks(lab, "nobody-here@example.test", server=lab.ip("mx2"), extra="--quit-after RCPT")
    assert result.returncode != 0
    assert "\n<** 550" in result.stdout, result.stdout
    assert "User unknown" in result.stdout


def test_both_name_servers_serve_the_lab_mx_set(lab):
    for server in ("ns1", "ns2"):
        for domain in lab.domains:
            answer = lab.exec("sender", "dig +short MX %s @%s" % (domain, lab.ip(server))).stdout
            assert sorted(answer.splitlines()) == sorted(
                ["10 mx1.%s." % domain, "20 mx2.%s." % domain]
            ), (server, answer)
