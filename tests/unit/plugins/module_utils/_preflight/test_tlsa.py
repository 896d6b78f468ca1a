# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TLSA records matched against the certificate a server presents."""

import hashlib

from ansible_collections.continuity.mail.plugins.module_utils._mail.cert import parse_certificate
from ansible_collections.continuity.mail.plugins.module_utils._preflight.tlsa import match
from health_certs import der_cert, make_ca, make_leaf

CA = make_ca()


def _served():
    der = der_cert(make_leaf(CA, ["mx1.example.test"])[1])
    return der, parse_certificate(der)["spki"]


def test_tlsa_match_selectors_and_types():
    der, spki = _served()
    assert match([(3, 1, 1, hashlib.sha256(spki).digest())], der, spki)[0] == "match"
    assert match([(3, 0, 2, hashlib.sha512(der).digest())], der, spki)[0] == "match"
    assert match([(1, 0, 0, der)], der, spki)[0] == "match"
    verdict, detail = match([(3, 1, 1, b"\0" * 32)], der, spki)
    assert verdict == "mismatch" and hashlib.sha256(spki).hexdigest() in detail
    assert match([(2, 1, 1, b"\0" * 32)], der, spki)[0] == "unverifiable"
