# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check and normalise what the user asked for, before any network I/O.

Every name becomes an absolute dnspython Name (a trailing dot is optional: user input is
never relative to a zone, which avoids dnspython's relative-string pitfall), every value the
canonical wire form that the server's data is compared with (case, trailing dot and order
do not matter). Anything wrong raises InputError with a message naming the offending item.
"""

import base64
import binascii
import ipaddress
import re

try:
    import dns.exception
    import dns.name
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype
    import dns.tsig
except ImportError:  # reported by the modules through missing_required_lib()
    pass

from ansible_collections.continuity.mail.plugins.module_utils._dns.transport import Endpoint
from ansible_collections.continuity.mail.plugins.module_utils._dns.tsig import TsigKey
from ansible_collections.continuity.mail.plugins.module_utils._dns.wire import value_of

_LABEL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")
# Types the server owns (SOA serials, DNSSEC records) or that are not data at all.
_UNMANAGED = ("SOA", "RRSIG", "NSEC", "NSEC3", "NSEC3PARAM", "OPT", "TSIG", "TKEY")
_NAME_FIELDS = ("exchange", "target")
MAX_TTL = 2147483647
TSIG_ALGORITHMS = (
    "hmac-md5",
    "hmac-sha1",
    "hmac-sha224",
    "hmac-sha256",
    "hmac-sha256-128",
    "hmac-sha384",
    "hmac-sha384-192",
    "hmac-sha512",
    "hmac-sha512-256",
)


class InputError(ValueError):
    """Bad input: the module fails with this message and touches nothing."""


def parse_name(text, what, origin=None, wildcard=False):
    """An absolute Name. With origin, a name without any dot (V(mx2)) is relative to it."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("%s: a name is required, got %r" % (what, text))
    text = text.strip()
    if any(char.isspace() for char in text) or "\\" in text:
        raise InputError("%s: invalid name %r (spaces and escapes are not allowed)" % (what, text))
    relative = origin is not None and "." not in text
    try:
        name = dns.name.from_text(text, origin=origin if relative else dns.name.root)
    except (dns.exception.DNSException, UnicodeError, ValueError) as exc:
        raise InputError("%s: invalid name %r: %s" % (what, text, str(exc).rstrip("."))) from exc
    labels = name.labels[:-1]
    if not labels:
        raise InputError("%s: the root name is not allowed here" % what)
    for position, label in enumerate(labels):
        if wildcard and position == 0 and label == b"*":
            continue
        if not _LABEL.match(label.decode("ascii", "replace")):
            raise InputError(
                '%s: invalid name %r: label %r may hold only letters, digits, "-" and "_" '
                'and may not start or end with "-"' % (what, text, label.decode("ascii", "replace"))
            )
    return name


def parse_type(text, what):
    if not isinstance(text, str) or not text.strip():
        raise InputError("%s: a record type is required" % what)
    try:
        rdtype = dns.rdatatype.from_text(text.strip().upper())
    except dns.exception.DNSException:
        raise InputError("%s: unknown record type %r" % (what, text)) from None
    if dns.rdatatype.is_metatype(rdtype) or dns.rdatatype.to_text(rdtype) in _UNMANAGED:
        raise InputError(
            "%s: record type %s is managed by the server, not by this module"
            % (what, dns.rdatatype.to_text(rdtype))
        )
    return rdtype


def _txt_zone_text(value):
    """One TXT string as zone-file text, split into 255-octet chunks."""
    data = value.encode("utf-8")
    chunks = [data[start : start + 255] for start in range(0, len(data), 255)] or [b""]
    out = []
    for chunk in chunks:
        text = "".join(
            chr(byte) if 32 <= byte < 127 and byte not in (34, 92) else "\\%03d" % byte
            for byte in chunk
        )
        out.append('"%s"' % text)
    return " ".join(out)


def parse_values(values, rdtype, what):
    """The Value (canonical key and wire form) of each value, duplicates dropped, order kept.

    TXT/SPF values are one text string each unless they start with a double quote, in
    which case they are zone-file text (several quoted strings)."""
    result = []
    type_text = dns.rdatatype.to_text(rdtype)
    for value in values:
        if not isinstance(value, str):
            value = str(value)
        text = value.strip()
        if type_text in ("TXT", "SPF") and not text.startswith('"'):
            text = _txt_zone_text(value)
        if not text:
            raise InputError("%s: empty %s value" % (what, type_text))
        try:
            rdata = dns.rdata.from_text(
                dns.rdataclass.IN, rdtype, text, origin=dns.name.root, relativize=False
            )
        except Exception as exc:  # dnspython raises many kinds for bad text
            raise InputError("%s: invalid %s value %r: %s" % (what, type_text, value, exc)) from exc
        for field in _NAME_FIELDS:
            target = getattr(rdata, field, None)
            if isinstance(target, dns.name.Name) and target != dns.name.root:
                parse_name(target.to_text(), "%s: %s value %r" % (what, type_text, value))
        value = value_of(rdata)
        if value.key not in [known.key for known in result]:
            result.append(value)
    return result


def parse_ttl(value, what):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TTL:
        raise InputError("%s: ttl must be an integer from 0 to %d, got %r" % (what, MAX_TTL, value))
    return value


def parse_uint16(value, what):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise InputError("%s must be from 0 to 65535, got %r" % (what, value))
    return value


def parse_host(text, what):
    """An IP address or a host name, as text."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return parse_name(text, what).to_text(omit_final_dot=True)


def parse_server(text, what, default_port=53):
    """An Endpoint from 'host', 'host:port', an IPv6 address or '[v6]:port'."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("%s: a server address is required, got %r" % (what, text))
    text = text.strip()
    host, port = text, default_port
    if text.startswith("["):
        match = re.match(r"^\[([^\]]+)\](?::(\d+))?$", text)
        if not match:
            raise InputError("%s: invalid server %r" % (what, text))
        host, port = match.group(1), int(match.group(2) or default_port)
    elif text.count(":") == 1:
        host, _sep, port_text = text.partition(":")
        if not port_text.isdigit():
            raise InputError("%s: invalid port in %r" % (what, text))
        port = int(port_text)
    if not 1 <= port <= 65535:
        raise InputError("%s: port must be from 1 to 65535 in %r" % (what, text))
    return Endpoint(parse_host(host, what), port)


def parse_tsig(key_name, key_secret, key_algorithm):
    """A TsigKey, or None when no key is given; half a key is an error."""
    if not key_name and not key_secret:
        return None
    if not key_name or not key_secret:
        raise InputError(
            "a TSIG key needs both key_name and key_secret (only %s given)"
            % ("key_name" if key_name else "key_secret")
        )
    if key_algorithm not in TSIG_ALGORITHMS:
        raise InputError(
            "key_algorithm must be one of %s, got %r" % (", ".join(TSIG_ALGORITHMS), key_algorithm)
        )
    try:
        secret = base64.b64decode(key_secret.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InputError("key_secret is not valid base64") from None
    if not secret:
        raise InputError("key_secret is empty")
    name = parse_name(key_name, "key_name")
    # dnspython names the algorithms HMAC_SHA256 etc. (hmac-md5 has a long legacy name).
    return TsigKey(
        dns.tsig.Key(name, secret, getattr(dns.tsig, key_algorithm.upper().replace("-", "_")))
    )
