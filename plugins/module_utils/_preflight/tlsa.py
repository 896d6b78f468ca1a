# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DANE (RFC 6698/7672): does a TLSA record set match the certificate a server presents?"""

import binascii
import hashlib

_USAGE = {0: "PKIX-TA", 1: "PKIX-EE", 2: "DANE-TA", 3: "DANE-EE"}


def _digest(mtype, data):
    if mtype == 0:
        return data
    if mtype == 1:
        return hashlib.sha256(data).digest()
    if mtype == 2:
        return hashlib.sha512(data).digest()
    return None


def match(records, der, spki):
    """('match' | 'mismatch' | 'unverifiable', explanation) for (usage, selector, mtype, data).

    Only end-entity records (usage 1 and 3) can be checked against the leaf certificate
    Python's ssl exposes; trust-anchor records need the chain and are reported as such.
    """
    leaf_records = [r for r in records if r[0] in (1, 3)]
    for usage, selector, mtype, data in leaf_records:
        subject = der if selector == 0 else spki
        if _digest(mtype, subject) == bytes(data):
            return "match", "%s %d %d matches the served certificate" % (
                _USAGE[usage],
                selector,
                mtype,
            )
    if leaf_records:
        served = binascii.hexlify(hashlib.sha256(spki).digest()).decode("ascii")
        return "mismatch", (
            "no end-entity TLSA record matches the served certificate "
            "(its SPKI SHA-256 is %s)" % served
        )
    return "unverifiable", "only trust-anchor TLSA records (usage 0/2); the chain is not checked"
