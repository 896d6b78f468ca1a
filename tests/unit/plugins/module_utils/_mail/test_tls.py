# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verdict on a presented certificate: expiry, name, days left."""

import datetime

from ansible_collections.continuity.mail.plugins.module_utils._mail.tls import describe, evaluate
from health_certs import der_cert, make_ca, make_leaf

CA = make_ca()


def _verdict(names, check, verify=True, min_days=14, **kwargs):
    der = der_cert(make_leaf(CA, names, **kwargs)[1])
    cert, parsed = describe(der, check, True if verify else None)
    return evaluate(cert, parsed, verify, min_days), cert


def test_status_ok_and_days_left():
    (status, message), cert = _verdict(["mx1.example.test"], "mx1.example.test", not_after_days=100)
    assert (status, message) == ("ok", None)
    assert cert["days_left"] in (99, 100)
    assert cert["hostname_ok"] is True and cert["chain_ok"] is True


def test_expired_whether_or_not_verifying():
    for verify in (True, False):
        (status, _), cert = _verdict(
            ["mx1.example.test"], "mx1.example.test", verify, not_before_days=-60, not_after_days=-1
        )
        assert status == "cert_expired"
        assert cert["days_left"] < 0


def test_name_mismatch_is_tls_error_only_when_verifying():
    (status, _), cert = _verdict(["other.example.test"], "mx1.example.test", True)
    assert status == "tls_error" and cert["hostname_ok"] is False
    (status, _), cert = _verdict(["other.example.test"], "mx1.example.test", False)
    assert status == "ok" and cert["chain_ok"] is None


def test_expiring_soon_is_a_warning_status():
    (status, message), _ = _verdict(["mx1.example.test"], "mx1.example.test", not_after_days=5)
    assert status == "cert_expiring"
    assert "expires in" in message


def test_not_yet_valid_is_tls_error():
    (status, _), _ = _verdict(["mx1.example.test"], "mx1.example.test", not_before_days=2)
    assert status == "tls_error"


def test_describe_uses_given_clock():
    der = der_cert(make_leaf(CA, ["x.example.test"], not_after_days=10)[1])
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=20)
    cert, parsed = describe(der, "x.example.test", True, now=later)
    assert cert["days_left"] < 0
    assert evaluate(cert, parsed, True, 14, now=later)[0] == "cert_expired"
