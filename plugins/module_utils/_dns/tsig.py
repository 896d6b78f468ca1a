# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TSIG (RFC 8945) HMAC signing of UPDATEs and checking of their answers, on raw wire.

dnspython builds several immutable objects per signature, which costs more than the rest
of an UPDATE; a thousand zones would spend half a second on it. This is the same digest
with the standard library's hmac, over bytes already at hand. The unit tests check every
signature against dnspython in both directions.
"""

import hashlib
import hmac
import struct
import time

CLASS_ANY, TYPE_TSIG = 255, 250
FUDGE = 300
# algorithm name -> (hash, MAC length in octets; shorter means a truncated MAC, RFC 8945 5.2.2.1)
ALGORITHMS = {
    "hmac-md5": (hashlib.md5, 16),
    "hmac-sha1": (hashlib.sha1, 20),
    "hmac-sha224": (hashlib.sha224, 28),
    "hmac-sha256": (hashlib.sha256, 32),
    "hmac-sha256-128": (hashlib.sha256, 16),
    "hmac-sha384": (hashlib.sha384, 48),
    "hmac-sha384-192": (hashlib.sha384, 24),
    "hmac-sha512": (hashlib.sha512, 64),
    "hmac-sha512-256": (hashlib.sha512, 32),
}
ERRORS = {16: "BADSIG", 17: "BADKEY", 18: "BADTIME", 22: "BADTRUNC"}
# What a failed check means: (code, text with %s for the key name).
SERVER_SAID = {
    "BADKEY": "the server does not know TSIG key %s",
    "BADSIG": "the server rejected the TSIG signature of key %s (wrong secret or algorithm)",
    "BADTIME": "the server rejected the TSIG time of key %s (clocks differ)",
    "BADTRUNC": "the server rejected the TSIG truncation of key %s",
}
WE_FOUND = {
    "KEY": ("BADKEY", "the answer is signed with another key or algorithm than %s"),
    "MAC": ("BADSIG", "the answer carries a TSIG signature that does not verify with key %s"),
    "TIME": (
        "BADTIME",
        "the answer was signed outside the allowed time window of key %s (clocks differ)",
    ),
}


class Signer:
    """One key: name, algorithm and secret as wire-ready bytes."""

    def __init__(self, key_name_wire, algorithm, secret):
        self.name = key_name_wire
        self.algorithm = algorithm
        self.algorithm_wire = _wire(
            algorithm if algorithm != "hmac-md5" else "hmac-md5.sig-alg.reg.int"
        )
        self.hash, self.size = ALGORITHMS[algorithm]
        self.secret = secret

    @classmethod
    def from_dnspython(cls, key):
        text = key.algorithm.to_text(omit_final_dot=True).lower()
        algorithm = "hmac-md5" if text.startswith("hmac-md5") else text
        return cls(key.name.canonicalize().to_wire(), algorithm, key.secret)

    def _mac(self, parts):
        digest = hmac.new(self.secret, b"".join(parts), self.hash).digest()
        return digest[: self.size]

    def _variables(self, signed_at, fudge, error, other):
        return (
            self.name
            + struct.pack("!HI", CLASS_ANY, 0)
            + self.algorithm_wire
            + struct.pack(
                "!HIHHH", signed_at >> 32, signed_at & 0xFFFFFFFF, fudge, error, len(other)
            )
            + other
        )

    def sign(self, wire, now=None):
        """(signed wire, MAC) for a message without TSIG; its ID is the original ID."""
        signed_at = int(time.time() if now is None else now)
        mac = self._mac([wire, self._variables(signed_at, FUDGE, 0, b"")])
        rdata = (
            self.algorithm_wire
            + struct.pack("!HIHH", signed_at >> 32, signed_at & 0xFFFFFFFF, FUDGE, len(mac))
            + mac
            + wire[:2]
            + struct.pack("!HH", 0, 0)
        )
        arcount = struct.unpack_from("!H", wire, 10)[0] + 1
        head = wire[:10] + struct.pack("!H", arcount) + wire[12:]
        return head + self.name + struct.pack(
            "!HHIH", TYPE_TSIG, CLASS_ANY, 0, len(rdata)
        ) + rdata, mac

    def check(self, wire, tsig_start, owner, rdata_offset, request_mac, now=None):
        """None when the answer's TSIG verifies, else (code, message about key_name).

        An error the server put in its TSIG record wins over anything found here."""
        offset = rdata_offset
        algorithm_end = offset
        while wire[algorithm_end]:
            algorithm_end += wire[algorithm_end] + 1
        algorithm = wire[offset : algorithm_end + 1].lower()
        offset = algorithm_end + 1
        high, low, fudge, mac_size = struct.unpack_from("!HIHH", wire, offset)
        offset += 10
        mac = wire[offset : offset + mac_size]
        offset += mac_size
        original_id, error, other_len = struct.unpack_from("!HHH", wire, offset)
        other = wire[offset + 6 : offset + 6 + other_len]
        if error:
            code = ERRORS.get(error, "TSIG error %d" % error)
            return code, SERVER_SAID.get(code, "the server reported %s for TSIG key %%s" % code)
        if owner.lower() != self.name or algorithm != self.algorithm_wire:
            return WE_FOUND["KEY"]
        signed_at = (high << 32) | low
        arcount = struct.unpack_from("!H", wire, 10)[0] - 1
        message = (
            struct.pack("!H", original_id)
            + wire[2:10]
            + struct.pack("!H", arcount)
            + wire[12:tsig_start]
        )
        expected = self._mac(
            [
                struct.pack("!H", len(request_mac)),
                request_mac,
                message,
                self._variables(signed_at, fudge, error, other),
            ]
        )
        if not hmac.compare_digest(mac, expected):
            return WE_FOUND["MAC"]
        if abs(int(time.time() if now is None else now) - signed_at) > fudge:
            return WE_FOUND["TIME"]
        return None


class TsigKey:
    """A TSIG key as both dnspython (for the odd signed query) and this module need it."""

    def __init__(self, key):
        self.dns = key
        self.name = key.name
        self.signer = Signer.from_dnspython(key)


def _wire(text):
    return (
        b"".join(bytes([len(label)]) + label.encode("ascii") for label in text.split(".")) + b"\0"
    )
