#!/usr/bin/env python3
# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Print the Debian mirror URL the host's own apt sources use.

The lab image must be built from the same mirror the host already reaches, so the
mirror is read from /etc/apt (one-line ``.list`` and deb822 ``.sources`` files) and
never hard-coded. ``LAB_MIRROR`` in the environment overrides the detection.
"""

import glob
import os
import sys

SUITE = os.environ.get("LAB_SUITE", "bookworm")


def _one_line_entries(path):
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            words = line.split("#", 1)[0].split()
            if len(words) < 3 or words[0] != "deb":
                continue
            if words[1].startswith("["):  # options such as [arch=amd64 signed-by=...]
                while words and not words[1].endswith("]"):
                    words.pop(1)
                words.pop(1)
            if len(words) >= 3:
                yield words[1], [words[2]], words[3:]


def _deb822_entries(path):
    with open(path, encoding="utf-8", errors="replace") as handle:
        stanzas = handle.read().split("\n\n")
    for stanza in stanzas:
        fields = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.split()
        if "deb" not in fields.get("types", []):
            continue
        for uri in fields.get("uris", []):
            yield uri, fields.get("suites", []), fields.get("components", [])


def find_mirror():
    if os.environ.get("LAB_MIRROR"):
        return os.environ["LAB_MIRROR"]
    entries = []
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
        if os.path.exists(path):
            entries.extend(_one_line_entries(path))
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        entries.extend(_deb822_entries(path))
    for uri, suites, components in entries:
        if SUITE in suites and "main" in components:
            return uri
    for uri, _suites, components in entries:
        if "main" in components and uri.rstrip("/").endswith("/debian"):
            return uri
    return None


if __name__ == "__main__":
    mirror = find_mirror()
    if not mirror:
        sys.exit(
            "lab: no Debian mirror for %s found in /etc/apt sources; set LAB_MIRROR=<url>" % SUITE
        )
    print(mirror)
