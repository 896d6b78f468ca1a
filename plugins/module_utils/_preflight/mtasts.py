# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MTA-STS (RFC 8461): parse a policy and match MX names against its mx: patterns.

A secondary MX missing from an enforced policy is the classic silent failover breaker:
senders that honour MTA-STS refuse to deliver to it exactly when the primary is down.
"""

from ansible.module_utils.urls import open_url

MODES = ("enforce", "testing", "none")
# A policy larger than this is not a policy (RFC 8461 3.3 suggests 64 KiB).
MAX_POLICY = 65536


def parse_policy(text):
    """(policy dict, [problems]); the dict has version, mode, mx (list), max_age."""
    policy = {"version": None, "mode": None, "mx": [], "max_age": None}
    problems = []
    for number, raw in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
        line = raw.strip()
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep:
            problems.append("line %d is not 'key: value': %r" % (number, line[:80]))
            continue
        key, value = key.strip().lower(), value.strip()
        if key == "mx":
            policy["mx"].append(value.lower().rstrip("."))
        elif key == "max_age":
            policy["max_age"] = int(value) if value.isdigit() else value
        elif key in ("version", "mode"):
            policy[key] = value
    if policy["version"] != "STSv1":
        problems.append("version must be STSv1 (got %r)" % policy["version"])
    if policy["mode"] not in MODES:
        problems.append("mode must be one of %s (got %r)" % (", ".join(MODES), policy["mode"]))
    if not isinstance(policy["max_age"], int):
        problems.append("max_age must be a number of seconds (got %r)" % policy["max_age"])
    if policy["mode"] != "none" and not policy["mx"]:
        problems.append("no mx: lines")
    return policy, problems


def mx_matches(name, pattern):
    """RFC 8461 4.1: '*.example.test' matches exactly one extra left-most label."""
    name = name.lower().rstrip(".")
    if pattern.startswith("*."):
        head, dummy, rest = name.partition(".")
        return bool(head) and rest == pattern[2:]
    return name == pattern


def policy_url(domain):
    return "https://mta-sts.%s/.well-known/mta-sts.txt" % domain


def fetch(url, ca_path=None, timeout=10.0):
    """Fetch a policy over HTTPS (verified, as senders do)."""
    response = open_url(
        url,
        timeout=timeout,
        validate_certs=True,
        ca_path=ca_path,
        follow_redirects="none",
        http_agent="continuity.mail preflight",
    )
    try:
        return response.read(MAX_POLICY + 1)[:MAX_POLICY].decode("utf-8", "replace")
    finally:
        response.close()
