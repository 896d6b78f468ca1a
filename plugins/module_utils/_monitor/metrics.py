# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""node_exporter textfile metrics: the Prometheus text format, written atomically (a
temporary file in the same directory, fsync, rename) so the collector never reads half a
file."""

import math
import os
import tempfile

PREFIX = "continuity_monitor_"


class Family:
    """One metric family: name (without the prefix), type, help text and its samples."""

    def __init__(self, name, kind, text):
        if kind not in ("gauge", "counter"):
            raise ValueError("kind must be gauge or counter")
        self.name = PREFIX + name
        self.kind = kind
        self.text = text
        self.samples = []

    def add(self, value, **labels):
        if value is None:
            return self
        self.samples.append((labels, float(value)))
        return self


def _escape(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value):
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def render(families):
    """The text exposition of the families that have samples."""
    lines = []
    for family in families:
        if not family.samples:
            continue
        lines.append("# HELP %s %s" % (family.name, _escape(family.text)))
        lines.append("# TYPE %s %s" % (family.name, family.kind))
        for labels, value in family.samples:
            label_text = ",".join('%s="%s"' % (k, _escape(v)) for k, v in sorted(labels.items()))
            name = family.name + ("{%s}" % label_text if label_text else "")
            lines.append("%s %s" % (name, _number(value)))
    return "\n".join(lines) + "\n"


def write_atomic(path, text, mode=0o644):
    """Replace `path` with `text` in one rename; readers see the old or the new file."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
