# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""continuity.mail.health_table: render a quorum verdict as one text table per site."""

from ansible.errors import AnsibleFilterError


def _cell(probe):
    if probe is None:
        return "-"
    text = probe.get("status") or "?"
    if probe.get("elapsed_ms") is not None:
        text += " %dms" % round(probe["elapsed_ms"])
    return text


def _verdict(entry):
    if entry["down"]:
        return "DOWN"
    return "up" if entry.get("decided", True) else "up?"


def _render(title, rows):
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [title]
    for number, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def health_table(verdict, group="site"):
    """{group value: table text} for a continuity.mail.quorum verdict."""
    if not isinstance(verdict, dict) or "targets" not in verdict:
        raise AnsibleFilterError("health_table: expects the output of continuity.mail.quorum")
    probes = verdict["vantage_points"]
    groups = {}
    for name, entry in verdict["targets"].items():
        key = str((entry.get("labels") or {}).get(group, "(no %s)" % group))
        groups.setdefault(key, []).append((name, entry))
    tables = {}
    for key, entries in groups.items():
        rows = [
            ["TARGET", "VERDICT", "VOTES"]
            + [p + (" (abstained)" if p in verdict["abstained"] else "") for p in probes]
        ]
        for name, entry in entries:
            votes = "%d/%d down" % (entry["votes"]["down"], len(probes))
            rows.append(
                [name, _verdict(entry), votes] + [_cell(entry["probes"].get(p)) for p in probes]
            )
        down = sum(1 for dummy, entry in entries if entry["down"])
        title = "%s %s: %d target(s), %d down (down needs %d of %d vantage points)" % (
            group,
            key,
            len(entries),
            down,
            verdict["needed"],
            len(probes),
        )
        tables[key] = _render(title, rows)
    return tables


class FilterModule:
    def filters(self):
        return {"health_table": health_table}
