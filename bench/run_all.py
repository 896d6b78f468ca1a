#!/usr/bin/env python3
# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make bench`: run every benchmark, then rewrite the generated part of docs/benchmarks.md
(machine facts, the exact commands, medians and ratios per size) and draw cost-vs-size plots
for the DNS, health and mailbox-sync rows into docs/benchmarks/ (committed).

    .venv/bin/python bench/run_all.py                 # everything (about 30 minutes)
    .venv/bin/python bench/run_all.py --only dns      # one benchmark
    .venv/bin/python bench/run_all.py --no-run        # re-render from the last results

The hand-written analysis in docs/benchmarks.md stays; only the part between the
"make bench" markers is replaced. Timings are recorded here, never asserted.
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import shlex
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
DOC = ROOT / "docs" / "benchmarks.md"
PLOTS = ROOT / "docs" / "benchmarks"
START = "<!-- make bench: generated from here; bench/run_all.py rewrites it -->"
END = "<!-- make bench: end of the generated part -->"

# name, command (from the checkout), the results file it writes, the smoke arguments.
BENCHES = [
    {
        "name": "dns",
        "title": "DNS engine",
        "command": [PYTHON, "bench/dns/run_bench.py"],
        "results": ".lab/bench-dns/results.json",
        # When no run is at hand: the newest committed results.
        "fallback": "bench/dns/results",
        "smoke": ["--sizes", "3", "--repeat", "1", "--loop-max", "3"],
    },
    {
        "name": "health",
        "title": "Health",
        "command": [PYTHON, "bench/health/run.py"],
        "results": "reports/bench-health.json",
        "smoke": ["--sizes", "4"],
    },
    {
        "name": "failover",
        "title": "Failover RTO",
        "command": [PYTHON, "bench/failover/run.py"],
        "results": None,  # prints its table; kept from stdout
        "smoke": ["--kinds", "refused"],
    },
    {
        "name": "sync",
        "title": "Mailbox sync",
        "command": [PYTHON, "bench/mailbox_sync/run.py"],
        "results": "reports/bench-mailbox-sync.json",
        # One size a run: run_all runs it per size and keeps each run's results.
        "sizes": [["--users", "25"], ["--users", "50"], ["--users", "100"]],
        "smoke": ["--users", "2", "--messages", "2", "--delta", "1", "--repeat", "1"],
    },
]


def machine_facts():
    facts = {
        "when": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load": "%.1f %.1f %.1f" % os.getloadavg(),
    }
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in pathlib.Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                facts["memory"] = "%.1f GiB" % (int(line.split()[1]) / 1024 / 1024)
    except OSError:
        pass
    try:
        from ansible.release import __version__

        facts["ansible_core"] = __version__
    except ImportError:
        facts["ansible_core"] = "unknown"
    return facts


def run(bench, extra, log):
    """Run one benchmark; the command line, wall time, exit code and stdout tail."""
    command = bench["command"] + list(extra)
    env = dict(os.environ, PATH="%s:%s" % (VENV_BIN, os.environ.get("PATH", "")))
    started = time.monotonic()
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    log.write(proc.stdout + proc.stderr)
    return {
        "command": " ".join(
            shlex.quote(os.path.relpath(c, ROOT) if c.startswith(str(ROOT)) else c) for c in command
        ),
        "rc": proc.returncode,
        "seconds": round(time.monotonic() - started, 1),
        "stdout": proc.stdout[-6000:],
    }


def run_sizes(bench, log):
    """A benchmark that measures one size a run: one run per size, each run's results kept
    beside the file it writes (<results>.<n>.json), read back together by load()."""
    results = ROOT / bench["results"]
    for old in results.parent.glob(results.stem + ".*.json"):
        old.unlink()
    done = {"command": [], "rc": 0, "seconds": 0.0, "stdout": ""}
    for number, extra in enumerate(bench["sizes"]):
        ran = run(bench, extra, log)
        done["command"].append(ran["command"])
        done["rc"] = done["rc"] or ran["rc"]
        done["seconds"] += ran["seconds"]
        done["stdout"] = ran["stdout"]
        if ran["rc"] == 0 and results.exists():
            results.replace(results.with_name("%s.%d.json" % (results.stem, number)))
    done["command"] = "`, `".join(done["command"])
    return done


# ---------------------------------------------------------------- reading the results


def dns_rows(data):
    """{method: {size: median seconds}} from bench/dns/run_bench.py's results."""
    out = {}
    for size, methods in (data.get("results") or {}).items():
        for method, runs in methods.items():
            out.setdefault(method, {})[int(size)] = statistics.median(r["seconds"] for r in runs)
    return out


def health_rows(rows):
    """{tool: {endpoints: seconds}} from bench/health/run.py's rows: a tool's value is
    [seconds, what it saw]; "mix" (the endpoint counts per protocol) is a list too."""
    out = {}
    for row in rows:
        for key, value in row.items():
            if isinstance(value, list) and len(value) == 2 and isinstance(value[1], dict):
                out.setdefault(key, {})[int(row["size"])] = float(value[0])
    return out


def sync_rows(data):
    """{tool: {messages: seconds}} from bench/mailbox_sync/run.py (either of its formats)."""
    out = {}
    if isinstance(data, dict):  # {"options", "machine", "rows": [{tool, full, delta}]}
        options = data.get("options") or {}
        size = options.get("users", 0) * options.get("messages", 0) or 1
        for row in data.get("rows", []):
            if isinstance(row.get("full"), (int, float)):
                out.setdefault(row["tool"] + " (full)", {})[size] = row["full"]
            if isinstance(row.get("delta"), (int, float)):
                out.setdefault(row["tool"] + " (delta)", {})[size] = row["delta"]
        return out
    for block in data or []:  # [{users, messages, rows: [{tool/name, median/seconds}]}]
        size = int(block.get("users", 0)) * int(block.get("messages", 0))
        for row in block.get("rows", []):
            name = row.get("tool") or row.get("name")
            seconds = row.get("median", row.get("seconds"))
            if isinstance(seconds, list):
                seconds = statistics.median(seconds)
            if name and isinstance(seconds, (int, float)):
                out.setdefault(name, {})[size] = float(seconds)
    return out


READERS = {"dns": dns_rows, "health": health_rows, "sync": sync_rows}
UNITS = {"dns": "zones", "health": "endpoints", "sync": "messages (users x messages)"}
# The row the ratios are against: ours.
OURS = {"dns": "mx_switch", "health": "mail_health"}


def load(bench):
    path = bench["results"]
    if not path:
        return None
    path = ROOT / path
    per_size = sorted(path.parent.glob(path.stem + ".*.json"))
    if bench.get("sizes") and per_size:
        merged = {}
        for part in per_size:
            data = json.loads(part.read_text(encoding="utf-8"))
            for tool, values in READERS[bench["name"]](data).items():
                merged.setdefault(tool, {}).update(values)
        bench["source"] = ", ".join(os.path.relpath(p, ROOT) for p in per_size)
        return merged
    if not path.exists() and bench.get("fallback"):
        committed = sorted((ROOT / bench["fallback"]).glob("*.json"))
        path = committed[-1] if committed else path
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    bench["source"] = "%s%s" % (
        os.path.relpath(path, ROOT),
        " (recorded %s)" % data["when"] if isinstance(data, dict) and data.get("when") else "",
    )
    return READERS[bench["name"]](data)


def ours_of(name, series):
    if name in OURS and OURS[name] in series:
        return OURS[name]
    return next((tool for tool in series if tool.startswith("mailbox_sync")), next(iter(series)))


def table(name, series):
    sizes = sorted({size for values in series.values() for size in values})
    ours = ours_of(name, series)
    lines = [
        "| %s | %s |" % (UNITS[name], " | ".join("%s: median s (x ours)" % s for s in sizes)),
        "|---|%s|" % "|".join("---:" for _ in sizes),
    ]
    for tool, values in series.items():
        cells = []
        for size in sizes:
            if size not in values:
                cells.append("-")
                continue
            base = series[ours].get(size)
            ratio = " (%.2gx)" % (values[size] / base) if base and tool != ours else ""
            cells.append("%.2f%s" % (values[size], ratio))
        lines.append(
            "| %s%s | %s |" % ("**%s**" % tool if tool == ours else tool, "", " | ".join(cells))
        )
    return "\n".join(lines)


def plot(name, title, series, out_dir):
    """Cost (s, log) against size (log) per tool; returns the file's path or None."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    figure, axes = plt.subplots(figsize=(7, 4.2), dpi=100)
    for tool, values in series.items():
        sizes = sorted(values)
        axes.plot(
            sizes,
            [values[s] for s in sizes],
            marker="o",
            label=tool,
            linewidth=2 if tool == ours_of(name, series) else 1,
        )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel(UNITS[name])
    axes.set_ylabel("seconds (median)")
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7)
    figure.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / ("%s.svg" % name)
    # A fixed hash salt and no date keep the SVG identical for identical numbers.
    matplotlib.rcParams["svg.hashsalt"] = "continuity.mail"
    figure.savefig(path, format="svg", metadata={"Date": None})
    plt.close(figure)
    return path


def render(facts, runs, results, doc_dir, plots=PLOTS):
    lines = [
        START,
        "",
        "## Latest `make bench` run",
        "",
        "%s: %s, %s CPUs, %s, kernel %s, Python %s, ansible-core %s; load average at the"
        " end %s; %s."
        % (
            "Machine" if runs else "Re-rendered from recorded results (no benchmark ran) on",
            facts.get("cpu", "unknown CPU"),
            facts.get("cpus"),
            facts.get("memory", "? GiB"),
            facts.get("kernel"),
            facts.get("python"),
            facts.get("ansible_core"),
            facts.get("load"),
            facts.get("when"),
        ),
        "",
    ]
    for bench in BENCHES:
        name = bench["name"]
        ran = runs.get(name)
        series = results.get(name)
        if not ran and not series:
            continue
        lines += ["### %s" % bench["title"], ""]
        if ran:
            lines += [
                "Command: `%s` (exit %s, %.0f s)." % (ran["command"], ran["rc"], ran["seconds"]),
                "",
            ]
        if series:
            if bench.get("source"):
                lines += ["Results: `%s`; median of the runs per size." % bench["source"], ""]
            lines += [table(name, series), ""]
            path = plot(name, bench["title"] + ": cost against size", series, plots)
            if path:
                lines += ["![%s](%s)" % (bench["title"], os.path.relpath(path, doc_dir)), ""]
        elif ran and ran["stdout"].strip():
            tail = [line for line in ran["stdout"].splitlines() if line.startswith("|")]
            lines += (tail or ["```", ran["stdout"].strip()[-1500:], "```"]) + [""]
    lines.append(END)
    return "\n".join(lines) + "\n"


def rewrite(doc, section):
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    doc.write_text(text, encoding="utf-8")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated: dns,health,failover,sync")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes; keeps the scripts working"
    )
    parser.add_argument(
        "--no-run", action="store_true", help="only re-render from the last results"
    )
    parser.add_argument("--doc", default=str(DOC))
    options = parser.parse_args(argv)
    wanted = [b for b in BENCHES if not options.only or b["name"] in options.only.split(",")]
    runs = {}
    (ROOT / "reports").mkdir(exist_ok=True)
    with open(ROOT / "reports" / "bench.log", "a", encoding="utf-8") as log:
        for bench in wanted if not options.no_run else []:
            print("bench: %s ..." % bench["name"], flush=True)
            if options.smoke or not bench.get("sizes"):
                runs[bench["name"]] = run(bench, bench["smoke"] if options.smoke else [], log)
            else:
                runs[bench["name"]] = run_sizes(bench, log)
            print(
                "bench: %s exit %s in %.0f s"
                % (bench["name"], runs[bench["name"]]["rc"], runs[bench["name"]]["seconds"])
            )
    failed = [name for name, ran in runs.items() if ran["rc"] != 0]
    if options.smoke:  # a smoke keeps the scripts working; its numbers mean nothing
        return 1 if failed else 0
    results = {b["name"]: load(b) for b in wanted}
    doc = pathlib.Path(options.doc)
    rewrite(doc, render(machine_facts(), runs, {k: v for k, v in results.items() if v}, doc.parent))
    print("bench: rewrote %s" % doc)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
