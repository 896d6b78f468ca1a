# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import pytest

from ansible_collections.continuity.mail.plugins.module_utils._probe.targets import normalize


def test_defaults_per_protocol():
    out = normalize(
        [
            {"host": "mx1"},
            {"host": "mx1", "protocol": "submission"},
            {"host": "mx1", "protocol": "smtps"},
            {"host": "mx1", "protocol": "imap"},
            {"host": "mx1", "protocol": "imaps"},
        ]
    )
    assert [(t["port"], t["starttls"], t["implicit_tls"]) for t in out] == [
        (25, True, False),
        (587, True, False),
        (465, False, True),
        (143, True, False),
        (993, False, True),
    ]
    assert out[0]["name"] == "mx1:25/smtp"
    assert out[0]["mailbox"] == "INBOX" and out[0]["tls_verify"] is True
    assert out[0]["initial_state"] == "healthy" and out[0]["labels"] == {}


def test_module_level_tls_defaults_and_overrides():
    out = normalize(
        [{"host": "a"}, {"host": "b", "tls_verify": True, "ca_path": "/x"}],
        tls_verify=False,
        ca_path="/ca.pem",
    )
    assert (out[0]["tls_verify"], out[0]["ca_path"]) == (False, "/ca.pem")
    assert (out[1]["tls_verify"], out[1]["ca_path"]) == (True, "/x")


@pytest.mark.parametrize(
    "targets,message",
    [
        ([{"host": ""}], "host is required"),
        ([{"host": "a", "protocol": "pop3"}], "protocol must be one of"),
        ([{"host": "a", "port": 70000}], "out of range"),
        ([{"host": "a", "protocol": "imaps", "starttls": True}], "implicit TLS"),
        ([{"host": "a", "user": "u"}], "user and password go together"),
        ([{"host": "a", "password": "p"}], "user and password go together"),
        ([{"host": "a"}, {"host": "a"}], "duplicate target name"),
    ],
)
def test_bad_targets_name_the_problem(targets, message):
    with pytest.raises(ValueError) as info:
        normalize(targets)
    assert message in str(info.value)
    assert "targets[" in str(info.value)
