# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read an X.509 certificate (DER) and match it against a host name.

The ssl module only decodes a certificate it has verified; an expired or mis-named one
must still be reported (subject, not_after), so the few fields we need are read from the
DER directly. Standard library only.
"""

import datetime
import ipaddress

_NAMES = {
    "2.5.4.3": "CN",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "1.2.840.113549.1.9.1": "emailAddress",
    "0.9.2342.19200300.100.1.25": "DC",
}
_SUBJECT_ALT_NAME = "2.5.29.17"
_STRINGS = {
    0x0C: "utf-8",
    0x13: "ascii",
    0x16: "ascii",
    0x14: "latin-1",
    0x1E: "utf-16-be",
    0x1C: "utf-32-be",
}


class CertificateError(ValueError):
    pass


def _tlv(data, pos, limit):
    """Return (tag, content_start, content_end) of the element at pos."""
    if pos + 2 > limit:
        raise CertificateError("truncated DER element")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise CertificateError("unsupported DER tag")
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > limit:
            raise CertificateError("bad DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > limit:
        raise CertificateError("DER element overruns its container")
    return tag, pos, pos + length


def _children(data, start, end):
    out = []
    pos = start
    while pos < end:
        tag, cstart, cend = _tlv(data, pos, end)
        out.append((tag, cstart, cend, pos))
        pos = cend
    return out


def _oid(raw):
    if not raw:
        raise CertificateError("empty OID")
    parts = [raw[0] // 40, raw[0] % 40] if raw[0] < 80 else [2, raw[0] - 80]
    value = 0
    for byte in raw[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(str(p) for p in parts)


def _time(tag, raw):
    text = raw.decode("ascii")
    if tag == 0x17:  # UTCTime: two-digit years 50-99 are 19xx (RFC 5280)
        year = int(text[:2])
        text = ("19" if year >= 50 else "20") + text
    elif tag != 0x18:
        raise CertificateError("bad time tag")
    if not text.endswith("Z") or len(text) != 15:
        raise CertificateError("unsupported time format %r" % text)
    stamp = datetime.datetime.strptime(text[:14], "%Y%m%d%H%M%S")
    return stamp.replace(tzinfo=datetime.timezone.utc)


def _name(data, start, end):
    """Return the Name as [(attribute, value)] in DER order."""
    out = []
    for dummy, sstart, send, dummy in _children(data, start, end):  # SET OF
        for dummy, astart, aend, dummy in _children(data, sstart, send):  # AttributeTypeAndValue
            parts = _children(data, astart, aend)
            if len(parts) != 2:
                raise CertificateError("bad name attribute")
            oid = _oid(data[parts[0][1] : parts[0][2]])
            vtag, vstart, vend, dummy = parts[1]
            value = data[vstart:vend].decode(_STRINGS.get(vtag, "latin-1"), "replace")
            out.append((_NAMES.get(oid, oid), value))
    return out


def _alt_names(data, start, end):
    dns, ips = [], []
    dummy, seq_start, seq_end = _tlv(data, start, end)
    for tag, cstart, cend, dummy in _children(data, seq_start, seq_end):
        if tag == 0x82:
            dns.append(data[cstart:cend].decode("ascii", "replace"))
        elif tag == 0x87 and cend - cstart in (4, 16):
            ips.append(str(ipaddress.ip_address(bytes(data[cstart:cend]))))
    return dns, ips


def parse_certificate(der):
    """Decode the fields a mail operator needs from a DER certificate."""
    data = bytes(der)
    dummy, cstart, cend = _tlv(data, 0, len(data))
    _tbs_tag, tstart, tend, dummy = _children(data, cstart, cend)[0]
    fields = _children(data, tstart, tend)
    if fields and fields[0][0] == 0xA0:  # explicit version
        fields = fields[1:]
    if len(fields) < 6:
        raise CertificateError("incomplete certificate")
    validity = _children(data, fields[3][1], fields[3][2])
    result = {
        "issuer": _name(data, fields[2][1], fields[2][2]),
        "not_before": _time(validity[0][0], bytes(data[validity[0][1] : validity[0][2]])),
        "not_after": _time(validity[1][0], bytes(data[validity[1][1] : validity[1][2]])),
        "subject": _name(data, fields[4][1], fields[4][2]),
        "spki": bytes(data[fields[5][3] : fields[5][2]]),
        "dns_names": [],
        "ip_addresses": [],
    }
    for tag, estart, eend, dummy in fields[6:]:
        if tag != 0xA3:
            continue
        dummy, seq_start, seq_end = _tlv(data, estart, eend)
        for dummy, xstart, xend, dummy in _children(data, seq_start, seq_end):
            parts = _children(data, xstart, xend)
            if _oid(data[parts[0][1] : parts[0][2]]) == _SUBJECT_ALT_NAME:
                value = parts[-1]
                result["dns_names"], result["ip_addresses"] = _alt_names(data, value[1], value[2])
    return result


def format_name(pairs):
    """RFC 4514 order (most specific first): CN=mx1.example.test,O=Example."""
    return ",".join("%s=%s" % pair for pair in reversed(pairs))


def _dns_match(pattern, name):
    pattern = pattern.lower().rstrip(".")
    if pattern.startswith("*."):
        # A wildcard stands for exactly one whole left-most label (RFC 6125 6.4.3).
        head, dummy, rest = name.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == name


def matches_hostname(cert, name):
    """True when the certificate covers name (a DNS name or an IP address literal)."""
    name = name.lower().rstrip(".")
    try:
        address = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        address = None
    if address is not None:
        return str(address) in cert["ip_addresses"]
    if cert["dns_names"]:
        return any(_dns_match(pattern, name) for pattern in cert["dns_names"])
    # Only a certificate without any DNS SAN may be matched on its common name.
    return any(attr == "CN" and _dns_match(value, name) for attr, value in cert["subject"])
