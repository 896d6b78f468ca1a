# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.continuity.mail.plugins.modules import mail_health
from fake_mail_server import smtp_server


def run(capsys, args):
    with patch_module_args(args), pytest.raises(SystemExit) as info:
        mail_health.main()
    return info.value.code, json.loads(capsys.readouterr().out)


def test_check_mode_probes_and_changes_nothing(capsys):
    server = smtp_server(caps=("PIPELINING",))
    code, out = run(
        capsys,
        {
            "targets": [
                {"name": "fake", "host": "127.0.0.1", "port": server.port, "starttls": False}
            ],
            "vantage_point": "unit",
            "_ansible_check_mode": True,
        },
    )
    assert code == 0
    assert out["changed"] is False and out["healthy"] is True
    assert out["vantage_point"] == "unit"
    assert out["summary"]["total"] == 1
    assert out["targets"][0]["status"] == "ok"
    assert "_parsed" not in out["targets"][0]


def test_fail_on_unhealthy_returns_results(capsys):
    server = smtp_server(greeting="421 busy")
    code, out = run(
        capsys,
        {
            "targets": [{"name": "busy", "host": "127.0.0.1", "port": server.port}],
            "fail_on_unhealthy": True,
        },
    )
    assert code == 1
    assert out["failed"] is True
    assert "busy (tempfail)" in out["msg"]
    assert out["targets"][0]["status"] == "tempfail"


@pytest.mark.parametrize(
    "args,message",
    [
        ({"targets": [{"host": "a"}], "attempts": 0}, "attempts must be at least 1"),
        ({"targets": [{"host": "a"}], "timeout": 0}, "timeout must be a positive"),
        ({"targets": [{"host": "a"}, {"host": "a"}]}, "duplicate target name"),
        ({"targets": [{"host": "a", "user": "u"}]}, "user and password go together"),
    ],
)
def test_bad_input_fails_before_any_connection(capsys, args, message):
    code, out = run(capsys, args)
    assert code == 1
    assert message in out["msg"]
    assert "targets" not in out or not isinstance(out.get("targets"), list)


def test_password_is_masked_in_invocation(capsys):
    server = smtp_server(greeting="421 busy")
    _code, out = run(
        capsys,
        {
            "targets": [
                {
                    "host": "127.0.0.1",
                    "port": server.port,
                    "user": "u",
                    "password": "Pw-unlikely-Zq8",
                }
            ]
        },
    )
    assert "Pw-unlikely-Zq8" not in json.dumps(out)
