# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DMARC (RFC 7489) and DKIM key records as preflight reads them: the policy that applies to
a domain, and whether a DKIM selector publishes a usable key."""

_POLICIES = ("none", "quarantine", "reject")


class DmarcError(Exception):
    """A published DMARC record that receivers cannot use."""


def parse_dmarc(text):
    """Tags of one DMARC record ('v=DMARC1; p=reject; ...') as a dict; DmarcError if invalid."""
    tags = {}
    parts = [part.strip() for part in text.split(";") if part.strip()]
    for part in parts:
        name, sep, value = part.partition("=")
        if not sep:
            raise DmarcError("tag %r has no value" % part)
        tags[name.strip().lower()] = value.strip()
    if not parts or parts[0].replace(" ", "") != "v=DMARC1":
        raise DmarcError("the record must start with v=DMARC1")
    policy = tags.get("p", "").lower()
    if policy not in _POLICIES:
        raise DmarcError("p must be none, quarantine or reject, got %r" % tags.get("p"))
    tags["p"] = policy
    if "sp" in tags:
        tags["sp"] = tags["sp"].lower()
        if tags["sp"] not in _POLICIES:
            raise DmarcError("sp must be none, quarantine or reject, got %r" % tags["sp"])
    try:
        pct = int(tags.get("pct", "100"))
    except ValueError:
        raise DmarcError("pct must be a number from 0 to 100, got %r" % tags["pct"]) from None
    if not 0 <= pct <= 100:
        raise DmarcError("pct must be a number from 0 to 100, got %d" % pct)
    tags["pct"] = pct
    return tags


def _records(lookup, name):
    return [t for t in lookup.txt(name) if t.replace(" ", "").upper().startswith("V=DMARC1")]


def find_policy(lookup, domain):
    """(record name, tags, policy that applies to `domain`) or (None, None, None).

    The domain's own _dmarc record, else the nearest parent's (its sp= applies to
    subdomains). Parents are walked label by label down to two labels, an approximation of
    the organizational domain that needs no public-suffix list. Several records at one name
    are invalid (RFC 7489 6.6.3): DmarcError.
    """
    labels = domain.rstrip(".").lower().split(".")
    for start in range(0, max(1, len(labels) - 1)):
        name = "_dmarc." + ".".join(labels[start:])
        found = _records(lookup, name)
        if len(found) > 1:
            raise DmarcError(
                "%s has %d DMARC records; receivers then apply none" % (name, len(found))
            )
        if found:
            tags = parse_dmarc(found[0])
            policy = tags["p"] if start == 0 else tags.get("sp", tags["p"])
            return name, tags, policy
    return None, None, None


def dkim_key(lookup, selector, domain):
    """None when <selector>._domainkey.<domain> publishes a usable key, else why not."""
    name = "%s._domainkey.%s" % (selector, domain)
    texts = lookup.txt(name)
    if not texts:
        return "%s publishes no DKIM key record" % name
    tags = {}
    for part in "".join(texts).split(";"):
        key, sep, value = part.strip().partition("=")
        if sep:
            tags[key.strip().lower()] = value.strip().replace(" ", "")
    if tags.get("v", "DKIM1") != "DKIM1":
        return "%s is not a DKIM1 key record" % name
    if not tags.get("p"):
        return "%s has an empty or missing p= (the key is revoked or absent)" % name
    return None
