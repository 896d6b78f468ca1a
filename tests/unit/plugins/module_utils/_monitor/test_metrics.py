# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import os

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.continuity.mail.plugins.module_utils._monitor import metrics


def test_render_escapes_labels_and_skips_empty_families():
    up = metrics.Family("target_up", "gauge", "Up").add(1, target='mx1 "smtp"\\x')
    empty = metrics.Family("nothing", "gauge", "never set").add(None)
    text = metrics.render([up, empty])
    assert "nothing" not in text
    (family,) = text_string_to_metric_families(text)
    assert family.name == "continuity_monitor_target_up" and family.type == "gauge"
    assert family.samples[0].labels == {"target": 'mx1 "smtp"\\x'}
    assert family.samples[0].value == 1.0


def test_write_atomic_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "continuity.prom"
    metrics.write_atomic(str(path), "a 1\n")
    metrics.write_atomic(str(path), "a 2\n")
    assert path.read_text() == "a 2\n"
    assert os.listdir(tmp_path) == ["continuity.prom"]
    assert oct(path.stat().st_mode & 0o777) == "0o644"


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "continuity.prom"
    metrics.write_atomic(str(path), "old 1\n")

    def broken(*args):
        raise OSError("disk full")

    monkeypatch.setattr(metrics.os, "fsync", broken)
    with pytest.raises(OSError, match="disk full"):
        metrics.write_atomic(str(path), "new 1\n")
    assert path.read_text() == "old 1\n" and os.listdir(tmp_path) == ["continuity.prom"]


def test_family_kind_is_checked():
    with pytest.raises(ValueError, match="gauge or counter"):
        metrics.Family("x", "histogram", "no")
