# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The built collection ships only what users run, and everything it uses resolves: every
FQCN in the shipped playbooks and roles belongs to ansible.builtin, continuity.mail or a
collection named in galaxy.yml's dependencies (and every named dependency is used)."""

import os
import re
import subprocess
import sys
import tarfile

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOT_SHIPPED = ("roles/lab_", "inventories/", "molecule/", "bench/", "tests/", "lab/", "reports/")
OWN = {"ansible.builtin", "continuity.mail"}

# Where a collection name appears in playbooks and roles: a task's module key, a role
# reference, a lookup/query, a filter or test, a module_defaults action group.
NAME = r"([a-z][a-z0-9_]*\.[a-z][a-z0-9_]*)\.[a-z][a-z0-9_]*"
USES = [
    re.compile(r"^\s*(?:- )?" + NAME + r":", re.M),
    re.compile(r"^\s*(?:- )?(?:role|name):\s*" + NAME + r"\s*$", re.M),
    re.compile(r"\b(?:lookup|query|q)\(\s*['\"]" + NAME + r"['\"]"),
    re.compile(r"\|\s*" + NAME + r"\b"),
    re.compile(r"\bis\s+(?:not\s+)?" + NAME + r"\b"),
    re.compile(r"\bgroup/" + NAME),
]


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    galaxy = os.path.join(os.path.dirname(sys.executable), "ansible-galaxy")
    proc = subprocess.run(
        [galaxy, "collection", "build", "--force", "--output-path", str(out), ROOT],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (path,) = out.glob("*.tar.gz")
    with tarfile.open(path) as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}


def galaxy_dependencies():
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        return set((yaml.safe_load(handle).get("dependencies") or {}).keys())


def collections_used(files):
    used = {}
    for name, data in files.items():
        if not name.startswith(("playbooks/", "roles/")) or not name.endswith((".yml", ".yaml")):
            continue
        text = data.decode("utf-8")
        for pattern in USES:
            for match in pattern.finditer(text):
                used.setdefault(match.group(1), set()).add(name)
    return used


def test_only_what_users_run_is_shipped(tarball):
    shipped = [name for name in tarball if name.startswith(NOT_SHIPPED)]
    assert shipped == []
    assert "playbooks/failover.yml" in tarball
    assert "roles/secondary/tasks/main.yml" in tarball
    assert any(name.startswith("plugins/modules/") for name in tarball)


def test_every_collection_used_is_a_declared_dependency(tarball):
    used = collections_used(tarball)
    undeclared = {c: sorted(f) for c, f in used.items() if c not in OWN | galaxy_dependencies()}
    assert undeclared == {}, "add these to galaxy.yml dependencies or stop using them"


def test_every_declared_dependency_is_used(tarball):
    unused = galaxy_dependencies() - set(collections_used(tarball))
    assert unused == set(), "galaxy.yml names dependencies no shipped content uses"


def test_scanner_sees_module_filter_and_lookup_uses():
    """The scan would catch the kinds of use that matter (guards the patterns above)."""
    sample = {
        "playbooks/x.yml": (
            b"- name: A\n  community.docker.docker_container:\n"
            b"  vars:\n    a: \"{{ x | community.general.json_query('a') }}\"\n"
            b"    b: \"{{ lookup('community.dns.lookup', 'x') }}\"\n"
            b"  module_defaults:\n    group/community.aws.aws: {}\n"
            b"- ansible.builtin.import_role:\n    name: foo.bar.baz\n"
        )
    }
    assert set(collections_used(sample)) == {
        "community.docker",
        "community.general",
        "community.dns",
        "community.aws",
        "ansible.builtin",
        "foo.bar",
    }
