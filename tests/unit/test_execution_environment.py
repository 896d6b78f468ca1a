# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`ansible-builder create` on execution-environment.yml (what AWX / Automation Platform
users build) makes a build context that holds what the image needs: the collection tarball
this checkout builds, its Python requirements and its collection dependencies. No image is
built (that needs the registry's base image); the context is what the build would use."""

import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def _run(args, cwd):
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, " ".join(args) + "\n" + proc.stdout + proc.stderr
    return proc.stdout


def _yaml(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _requirements(path):
    with open(path, encoding="utf-8") as handle:
        lines = (line.split("#", 1)[0].strip() for line in handle)
        return {line for line in lines if line}


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    """The definition and the files it names, as in a checkout after `make build`, then
    `ansible-builder create`."""
    work = tmp_path_factory.mktemp("ee")
    for name in ("execution-environment.yml", "requirements.txt"):
        shutil.copy(os.path.join(ROOT, name), work / name)
    _run(
        [os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--force"]
        + ["--output-path", str(work / "tests" / "output"), ROOT],
        cwd=work,
    )
    _run(
        [
            os.path.join(BIN, "ansible-builder"),
            "create",
            "-c",
            "context",
            "--output-filename",
            "Containerfile",
        ],
        cwd=work,
    )
    return work / "context"


def test_collection_tarball_is_in_the_context(context):
    galaxy = _yaml(os.path.join(ROOT, "galaxy.yml"))
    wanted = {c["name"]: c for c in _yaml(context / "_build" / "requirements.yml")["collections"]}
    own = "/build/collections/continuity-mail-%s.tar.gz" % galaxy["version"]
    assert own in wanted, "execution-environment.yml must install the version galaxy.yml builds"
    assert wanted[own]["type"] == "file"
    # The galaxy stage copies _build/ to /build: the file must be there in the context.
    path = context / "_build" / own[len("/build/") :]
    with tarfile.open(path) as archive:
        names = set(archive.getnames())
        manifest = json.load(archive.extractfile("MANIFEST.json"))["collection_info"]
    assert (manifest["namespace"], manifest["name"]) == ("continuity", "mail")
    assert manifest["version"] == galaxy["version"]
    for shipped in (
        "plugins/modules/mx_switch.py",
        "roles/secondary/tasks/main.yml",
        "requirements.txt",
    ):
        assert shipped in names


def test_collection_dependencies_are_installed(context):
    wanted = {c["name"]: c for c in _yaml(context / "_build" / "requirements.yml")["collections"]}
    for name, version in (_yaml(os.path.join(ROOT, "galaxy.yml"))["dependencies"] or {}).items():
        assert name in wanted, "galaxy.yml dependency %s is not in the EE" % name
        assert wanted[name].get("version", "*") == version, name


def test_python_requirements_are_in_the_context(context):
    assert _requirements(context / "_build" / "requirements.txt") >= _requirements(
        os.path.join(ROOT, "requirements.txt")
    )
    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    core = [
        r
        for r in _requirements(os.path.join(ROOT, "requirements.txt"))
        if r.startswith("ansible-core")
    ]
    assert core and core[0] in containerfile, "the EE's ansible-core is requirements.txt's"
    assert "ansible-galaxy collection install" in containerfile
    assert "-r requirements.yml" in containerfile


def test_the_collection_declares_its_python_requirements(context, tmp_path):
    """ansible-builder also reads the collection's own requirements (what another EE that
    lists continuity.mail gets): introspect the unpacked tarball."""
    (path,) = (context / "_build" / "collections").glob("*.tar.gz")
    dest = tmp_path / "ansible_collections" / "continuity" / "mail"
    dest.mkdir(parents=True)
    with tarfile.open(path) as archive:
        archive.extractall(dest, filter="data")
    found = yaml.safe_load(
        _run([os.path.join(BIN, "ansible-builder"), "introspect", str(tmp_path)], cwd=tmp_path)
    )
    declared = {line.split("#", 1)[0].strip() for line in found["python"]}
    expected = {
        r
        for r in _requirements(os.path.join(ROOT, "requirements.txt"))
        if not r.startswith("ansible-core")
    }
    assert expected and expected <= declared
