# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build the continuity monitor as one zip application from the collection's module_utils.

Usage: build_pyz.py MODULE_UTILS_DIR OUTPUT.pyz PACKAGE[,PACKAGE...]
The archive is byte-for-byte the same for the same sources (sorted names, fixed times),
so copying it again changes nothing.
"""

import os
import sys
import zipfile

PREFIX = "ansible_collections/continuity/mail/plugins/module_utils"
MAIN = (
    "import sys\n"
    "from ansible_collections.continuity.mail.plugins.module_utils._monitor.main import main\n"
    "sys.exit(main())\n"
)


def entry(name, data, out):
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    out.writestr(info, data)


def build(source, target, packages):
    tmp = target + ".tmp"
    with open(tmp, "wb") as raw:
        raw.write(b"#!/usr/bin/env python3\n")
        with zipfile.ZipFile(raw, "w") as out:
            entry("__main__.py", MAIN, out)
            # zipimport knows regular packages only: give each level an empty __init__.py.
            parts = PREFIX.split("/")
            for depth in range(1, len(parts) + 1):
                entry("/".join(parts[:depth]) + "/__init__.py", "", out)
            for package in sorted(packages):
                base = os.path.join(source, package)
                for name in sorted(os.listdir(base)):
                    if name.endswith(".py"):
                        with open(os.path.join(base, name), "rb") as handle:
                            entry("%s/%s/%s" % (PREFIX, package, name), handle.read(), out)
    os.replace(tmp, target)


if __name__ == "__main__":
    build(sys.argv[1], sys.argv[2], sys.argv[3].split(","))
