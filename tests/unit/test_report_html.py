# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""report.html, rendered by Ansible from a report.json (tests/unit/fixtures/report.json, in
the shape playbooks/drill_tasks/report.yml writes), opened in headless Chromium: the key
elements are there and show report.json's numbers, and nothing is loaded from outside.
The screenshot is kept as a test artefact: reports/test-artefacts/report-html.png."""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "unit" / "fixtures" / "report.json"
ARTEFACTS = ROOT / "reports" / "test-artefacts"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


def _chromium():
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    if os.environ.get("CI"):
        pytest.fail("chromium is missing: `make test` installs it (tools/host-packages.sh test)")
    pytest.skip("chromium is not installed (apt-get install chromium, or run make test as root)")


class Elements(HTMLParser):
    """Every element as {tag, attrs, text} (text: all text inside it)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.all, self._open = [], []

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": dict(attrs), "text": ""}
        self.all.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_startendtag(self, tag, attrs):
        self.all.append({"tag": tag, "attrs": dict(attrs), "text": ""})

    def handle_endtag(self, tag):
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index]["tag"] == tag:
                del self._open[index:]
                break

    def handle_data(self, data):
        for element in self._open:
            element["text"] += data

    def by_id(self, ident):
        (found,) = [e for e in self.all if e["attrs"].get("id") == ident]
        return found

    def by_class(self, name):
        return [e for e in self.all if name in (e["attrs"].get("class") or "").split()]


@pytest.fixture(scope="module")
def report():
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def html_path(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(
        [str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,"]
        + [str(ROOT / "tests" / "unit" / "render_report.yml")]
        + ["-e", "report_json=%s" % FIXTURE, "-e", "report_html=%s" % out],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def _browse(html_path, tmp_path, *args):
    proc = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
        + ["--user-data-dir=%s" % (tmp_path / "profile"), "--window-size=1100,1500"]
        + list(args)
        + [html_path.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.fixture(scope="module")
def dom(html_path, tmp_path_factory):
    parser = Elements()
    parser.feed(_browse(html_path, tmp_path_factory.mktemp("chromium"), "--dump-dom"))
    return parser


def test_screenshot_is_kept_as_an_artefact(html_path, tmp_path):
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTEFACTS / "report-html.png"
    if shot.exists():
        shot.unlink()
    _browse(html_path, tmp_path, "--screenshot=%s" % shot)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20000
    shutil.copy(html_path, ARTEFACTS / "report.html")


def test_nothing_is_loaded_from_outside(html_path):
    text = html_path.read_text(encoding="utf-8")
    assert "<script" not in text.lower()
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text, re.I)
    assert "@import" not in text and "@font-face" not in text and "url(" not in text


def test_the_top_shows_result_rto_lost_and_duplicated(dom, report):
    result = dom.by_id("result")
    assert result["attrs"]["data-value"] == ("passed" if report["passed"] else "failed")
    assert ("PASSED" if report["passed"] else "FAILED") in result["text"]
    rto = dom.by_id("rto")
    assert float(rto["attrs"]["data-value"]) == pytest.approx(float(report["rto_s"]))
    assert "%.1f s" % float(report["rto_s"]) in rto["text"]
    for key in ("lost", "duplicated"):
        element = dom.by_id(key)
        assert int(element["attrs"]["data-value"]) == int(report["messages"][key])
        assert str(report["messages"][key]) in element["text"]
    assert dom.by_id("sent")["text"].strip() == str(report["messages"]["sent"])
    # The summary comes before the timeline, the timeline before the checks.
    order = [
        e["attrs"].get("id")
        for e in dom.all
        if e["attrs"].get("id") in ("summary", "timeline", "checks")
    ]
    assert order == ["summary", "timeline", "checks"]


def test_the_timeline_draws_every_phase_to_scale(dom, report):
    assert {p["name"] for p in report["phases"]} >= {
        "outage",
        "detection",
        "lock",
        "activation",
        "DNS",
        "first mail on the secondary",
        "failback",
        "reconcile",
        "RTO",
    }
    groups = [e for e in dom.by_class("phase") if e["tag"] == "g"]
    assert [g["attrs"]["data-phase"] for g in groups] == [p["name"] for p in report["phases"]]
    bars = [e for e in dom.by_class("bar") if e["tag"] == "rect"]
    assert len(bars) == len(report["phases"])
    scales = set()
    for group, bar, phase in zip(groups, bars, report["phases"], strict=True):
        assert float(group["attrs"]["data-start"]) == pytest.approx(phase["start_s"])
        assert float(group["attrs"]["data-end"]) == pytest.approx(phase["end_s"])
        assert "%.1f s" % phase["duration_s"] in group["text"] and phase["name"] in group["text"]
        if phase["duration_s"] > 5:  # shorter bars are widened to stay visible
            scales.add(round(float(bar["attrs"]["width"]) / phase["duration_s"], 1))
            left = (
                float(bar["attrs"]["x"])
                - phase["start_s"] * float(bar["attrs"]["width"]) / phase["duration_s"]
            )
            assert left == pytest.approx(190, abs=1.5), phase["name"]  # every bar on one time axis
    assert len(scales) == 1, "bars are not drawn to one scale: %s" % scales


def test_the_checks_table_lists_every_check(dom, report):
    rows = [e for e in dom.by_class("check") if e["tag"] == "tr"]
    assert [r["attrs"]["data-ok"] == "true" for r in rows] == [c["ok"] for c in report["checks"]]
    for row, check in zip(rows, report["checks"], strict=True):
        assert check["name"] in row["text"]
        assert ("ok" if check["ok"] else "FAILED") in row["text"]


def test_versions_and_hosts(dom, report):
    versions = dom.by_id("versions")["text"]
    assert report["versions"]["continuity_mail"] in versions
    assert report["versions"]["ansible_core"] in versions
    for host, found in report["versions"]["mail_servers"].items():
        assert host in versions and found["postfix"] in versions and found["dovecot"] in versions
    hosts = dom.by_id("hosts")["text"]
    for value in (
        [report["hosts"]["primary"]]
        + report["hosts"]["secondaries"]
        + report["hosts"]["dns_servers"]
    ):
        assert value in hosts
