# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""mailbox_sync over TLS (tcps, the default), verified against the lab CA, in both directions
between mx1 and mx2. On `make lab LAB_RELEASE=mixed` that is Dovecot 2.3 (mx1, bookworm) <->
2.4 (mx2, trixie): a failback from a 2.4 secondary to a 2.3 primary and a sync back. A wrong
CA must stop the run with the certificate problem before anything is synchronised.

The mailbox used, canary@example.org, is one no other flow sends to.
"""

import pytest

from flows_lab import (
    count_tagged,
    expunge_tagged,
    guid_set,
    lmtp_deliver,
    module,
    tagged_message,
    token,
)

USER = "canary@example.org"
HOSTS = ("mx1", "mx2")


@pytest.fixture
def tags(lab):
    created = []
    yield created
    for tag in created:
        for host in HOSTS:
            expunge_tagged(lab, host, USER, tag)


def dovecot_versions(lab):
    return {host: lab.exec(host, "dovecot --version").stdout.split()[0] for host in HOSTS}


def one_message_on_each_side(lab, tags):
    new = {host: token("tls-%s" % host) for host in HOSTS}
    tags.extend(new.values())
    for host, tag in new.items():
        lmtp_deliver(lab, host, tagged_message(tag, USER))
    return new


@pytest.mark.parametrize("source, target", [("mx2", "mx1"), ("mx1", "mx2")])
def test_tcps_sync_merges_both_sides_across_versions(lab, tags, source, target):
    new = one_message_on_each_side(lab, tags)
    result = module(
        source,
        "continuity.mail.mailbox_sync",
        {"destination": "%s.example.test" % target, "users": [USER]},
    )
    versions = dovecot_versions(lab)
    assert not result.get("failed"), (versions, result)
    assert result["destination"] == "tcps:%s.example.test:12345" % target
    assert result["in_sync"] is True, (versions, result)
    # Every Message-ID exactly once on each side, and the same message set on both.
    for host in HOSTS:
        for tag in new.values():
            assert count_tagged(lab, host, USER, tag) == 1, (host, tag, versions)
    assert guid_set(lab, "mx1", USER) == guid_set(lab, "mx2", USER), versions


def test_wrong_ca_names_the_certificate_problem_and_syncs_nothing(lab, tags):
    one_message_on_each_side(lab, tags)
    lab.exec(
        "mx2",
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=Not-the-lab-CA "
        "-keyout /tmp/wrong-ca.key -out /tmp/wrong-ca.crt 2>/dev/null",
    )
    before = (guid_set(lab, "mx1", USER), guid_set(lab, "mx2", USER))
    result = module(
        "mx2",
        "continuity.mail.mailbox_sync",
        {"destination": "mx1.example.test", "users": [USER], "ca_file": "/tmp/wrong-ca.crt"},
    )
    assert result.get("failed") is True, result
    assert "TLS check of tcps:mx1.example.test:12345 failed" in result["msg"]
    assert "nothing was synchronised" in result["msg"]
    assert "unable to get local issuer certificate" in result["msg"]
    assert (guid_set(lab, "mx1", USER), guid_set(lab, "mx2", USER)) == before


def test_plain_doveadm_tcp_is_not_served(lab):
    """The listener speaks only TLS: a client without TLS gets no doveadm service."""
    result = module(
        "mx2",
        "continuity.mail.mailbox_sync",
        {
            "destination": lab.ip("mx1"),
            "tls": False,
            "users": [USER],
            "operation": "compare",
            "timeout": 60,
            "fail_on_error": False,
        },
    )
    assert result["counts"]["failed"] == 1, result
