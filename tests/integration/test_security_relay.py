# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Relay and backscatter probes: swaks on the lab's internet host `sender` against mx1, and
against mx2 both as backup MX (relay) and as stand-in (active).

Every probe stops after RCPT (swaks --quit-after RCPT), so nothing is ever delivered, and
reads the server's own answer to MAIL FROM and RCPT TO. mx2 is switched with the secondary
role's own mode entry point and always ends in relay mode.
"""

import re

import pytest

from flows_lab import playbook

MODE_PLAYBOOK = "tests/integration/playbooks/secondary_mode_only.yml"
OUTSIDE = "victim@elsewhere.example.com"
STRANGER = "probe@example.net"

# (probe, envelope sender, recipient): each must be refused from an unauthenticated client.
PROBES = [
    ("unauthenticated relay", STRANGER, OUTSIDE),
    ("spoofed local sender", "alice@example.test", "bob@example.test"),
    ("spoofed local sender, other domain", "bob@example.org", "alice@example.org"),
    ("percent hack", STRANGER, "victim%elsewhere.example.com@example.test"),
    ("percent hack, known local part", STRANGER, "alice%elsewhere.example.com@example.test"),
    ("source route", STRANGER, "@example.test:victim@elsewhere.example.com"),
    ("source route, known user", STRANGER, "@mx1.example.test:alice@elsewhere.example.com"),
    ("bang path", STRANGER, "elsewhere.example.com!victim@example.test"),
    ("bang path, known local part", STRANGER, "elsewhere.example.com!alice@example.test"),
]
REPLY = re.compile(r"^<(?:-|\*\*)\s+(\d{3})[ -](.*)$")


def probe(lab, server, sender, recipient):
    """(MAIL FROM code, RCPT TO code, RCPT TO text) as the server answered swaks on `sender`."""
    out = lab.exec(
        "sender",
        "swaks --server %s --from '%s' --to '%s' --quit-after RCPT --timeout 15 2>&1"
        % (lab.ip(server), sender, recipient),
        check=False,
    ).stdout
    codes = {}
    stage = None
    for line in out.splitlines():
        if line.startswith(" -> MAIL FROM"):
            stage = "mail"
        elif line.startswith(" -> RCPT TO"):
            stage = "rcpt"
        elif stage:
            match = REPLY.match(line)
            if match and stage not in codes:
                codes[stage] = (int(match.group(1)), match.group(2))
    assert "mail" in codes, "no answer to MAIL FROM from %s:\n%s" % (server, out)
    rcpt = codes.get("rcpt", (None, "not reached"))
    return codes["mail"][0], rcpt[0], rcpt[1], out


def assert_refused(lab, server, name, sender, recipient):
    mail, rcpt, text, out = probe(lab, server, sender, recipient)
    refused = mail >= 500 or (rcpt is not None and rcpt >= 500)
    assert refused, "%s: %s accepted %s -> %s (MAIL %s, RCPT %s %s):\n%s" % (
        name,
        server,
        sender,
        recipient,
        mail,
        rcpt,
        text,
        out,
    )
    return rcpt, text


def mode(lab):
    return lab.exec("mx2", "cat /etc/postfix/continuity-mode").stdout.strip()


def switch(mode_name):
    run = playbook(MODE_PLAYBOOK, extra_vars={"secondary_mode": mode_name}, timeout=300)
    assert run.rc == 0, run.describe()


@pytest.fixture(scope="module")
def mx2_modes(lab):
    """Yields a function that puts mx2 in a mode; mx2 ends in relay mode whatever happens."""
    assert mode(lab) == "relay", "mx2 is not in relay mode before the probes"
    yield switch
    switch("relay")
    assert mode(lab) == "relay"


def test_mx1_refuses_relay_spoofing_and_routing_tricks(lab):
    for name, sender, recipient in PROBES:
        assert_refused(lab, "mx1", name, sender, recipient)


def test_mx1_accepts_the_same_envelope_when_it_is_legitimate(lab):
    """The probes fail for the trick, not for an unreachable or closed server."""
    mail, rcpt, _text, out = probe(lab, "mx1", STRANGER, "alice@example.test")
    assert (mail, rcpt) == (250, 250), out
    # the canary mailbox sends from outside on purpose (mailserver_sender_exceptions)
    mail, rcpt, _text, out = probe(lab, "mx1", "canary@example.test", "canary@example.test")
    assert (mail, rcpt) == (250, 250), out


@pytest.mark.parametrize("mode_name", ["relay", "active"])
def test_mx2_refuses_relay_spoofing_and_routing_tricks_in_both_modes(lab, mx2_modes, mode_name):
    mx2_modes(mode_name)
    assert mode(lab) == mode_name
    for name, sender, recipient in PROBES:
        assert_refused(lab, "mx2", name, sender, recipient)
    mail, rcpt, _text, out = probe(lab, "mx2", STRANGER, "alice@example.test")
    assert (mail, rcpt) == (250, 250), out


@pytest.mark.parametrize("mode_name", ["relay", "active"])
def test_mx2_refuses_an_unknown_recipient_at_rcpt(lab, mx2_modes, mode_name):
    """No backscatter: mx2 never accepts mail it would later have to bounce."""
    mx2_modes(mode_name)
    for domain in lab.domains:
        mail, rcpt, text, out = probe(lab, "mx2", STRANGER, "no-such-user@%s" % domain)
        assert mail == 250, out
        assert rcpt == 550, out
        assert "5.1.1" in text, text
