# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every plugin's documentation is valid YAML with the keys ansible-doc needs, and every doc
fragment a module extends exists. (ansible-test sanity checks docs against argument specs;
this catches a broken YAML string in seconds, before the sanity run.) And ansible-doc renders
every module, filter and role the tree holds."""

import importlib
import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

PLUGINS = pathlib.Path(__file__).resolve().parents[3] / "plugins"
PACKAGE = "ansible_collections.continuity.mail.plugins"
MODULES = sorted(p.stem for p in (PLUGINS / "modules").glob("*.py") if p.stem != "__init__")
FRAGMENTS = sorted(p.stem for p in (PLUGINS / "doc_fragments").glob("*.py") if p.stem != "__init__")
FILTER_DOCS = sorted((PLUGINS / "filter").glob("*.yml"))


def _load(text, what):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        pytest.fail("%s is not valid YAML: %s" % (what, exc))


@pytest.mark.parametrize("name", FRAGMENTS)
def test_doc_fragment_is_yaml(name):
    fragment = importlib.import_module("%s.doc_fragments.%s" % (PACKAGE, name)).ModuleDocFragment
    texts = {attr: getattr(fragment, attr) for attr in dir(fragment) if attr.isupper()}
    assert texts, name
    for attr, text in texts.items():
        loaded = _load(text, "%s.%s" % (name, attr))
        assert isinstance(loaded, dict) and loaded, "%s.%s is empty" % (name, attr)


@pytest.mark.parametrize("name", MODULES)
def test_module_docs_are_yaml_and_complete(name):
    module = importlib.import_module("%s.modules.%s" % (PACKAGE, name))
    doc = _load(module.DOCUMENTATION, name + " DOCUMENTATION")
    assert doc["module"] == name
    for key in ("short_description", "description", "author", "options", "attributes"):
        assert doc.get(key), "%s DOCUMENTATION lacks %s" % (name, key)
    for fragment in doc.get("extends_documentation_fragment", []):
        if fragment.startswith("continuity.mail."):
            parts = fragment.split(".")[2:]  # fragment name, then optionally its variable
            assert parts[0] in FRAGMENTS, "%s extends missing %s" % (name, fragment)
            holder = importlib.import_module("%s.doc_fragments.%s" % (PACKAGE, parts[0]))
            attr = parts[1].upper() if len(parts) > 1 else "DOCUMENTATION"
            assert hasattr(holder.ModuleDocFragment, attr), "%s extends missing %s" % (
                name,
                fragment,
            )
    examples = _load(module.EXAMPLES, name + " EXAMPLES")
    assert isinstance(examples, list) and examples, name + " has no examples"
    returned = _load(module.RETURN, name + " RETURN")
    assert isinstance(returned, dict) and returned, name + " documents no return values"


@pytest.mark.parametrize("path", FILTER_DOCS, ids=lambda p: p.name)
def test_filter_docs_are_yaml(path):
    docs = _load(path.read_text(encoding="utf-8"), path.name)
    assert docs["DOCUMENTATION"]["name"] == path.stem
    assert docs.get("EXAMPLES") and docs.get("RETURN"), path.name


# ---------------------------------------------------------------------------------------
# ansible-doc renders every module, filter and role found in the tree (nothing hard-coded:
# a new plugin or role without working docs fails here). The checkout is the collection
# through .collections/ansible_collections/continuity/mail (ansible.cfg's collections_path).

ROOT = PLUGINS.parent
COLLECTIONS = ROOT / ".collections"
ANSIBLE_DOC = pathlib.Path(sys.executable).parent / "ansible-doc"
HEADER = {"module": "> MODULE %s ", "filter": "> FILTER %s ", "role": "> ROLE: *%s* "}


def tree_plugins(root=ROOT):
    """(type, short name) of every module, filter and role in the tree, from the files."""
    found = [("module", p.stem) for p in (root / "plugins" / "modules").glob("*.py")]
    filter_ns = "%s.filter." % PACKAGE
    for path in (root / "plugins" / "filter").glob("*.py"):
        if root == ROOT:
            names = importlib.import_module(filter_ns + path.stem).FilterModule().filters()
        else:  # a scratch collection (the guard test): one filter per file
            names = [path.stem]
        found += [("filter", name) for name in names]
    found += [("role", p.name) for p in (root / "roles").iterdir() if p.is_dir()]
    return sorted((kind, name) for kind, name in found if not name.startswith("__"))


def ansible_doc(kind, names, collections, json_output):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_NOCOLOR="1")
    env["ANSIBLE_COLLECTIONS_SCAN_SYS_PATH"] = "false"
    env.pop("ANSIBLE_CONFIG", None)
    args = [str(ANSIBLE_DOC), "-t", kind] + (["--json"] if json_output else []) + list(names)
    return subprocess.run(args, capture_output=True, text=True, timeout=300, check=False, env=env)


def undocumented(kind, fqcns, collections=COLLECTIONS):
    """The names ansible-doc cannot render (JSON, then text), with the reason. One call for
    all names; when it fails (one broken plugin stops ansible-doc), one call per name."""
    as_json = ansible_doc(kind, fqcns, collections, json_output=True)
    if as_json.returncode and len(fqcns) > 1:
        return {k: v for name in fqcns for k, v in undocumented(kind, [name], collections).items()}
    try:
        docs = json.loads(as_json.stdout)
    except ValueError:
        docs = {}
    loaded = [name for name in fqcns if docs.get(name)]
    as_text = ansible_doc(kind, loaded, collections, json_output=False) if loaded else as_json
    bad = {}
    for name in fqcns:
        entry = docs.get(name) or {}
        if kind == "role":
            points = entry.get("entry_points") or {}
            if "main" not in points or not all(p.get("short_description") for p in points.values()):
                bad[name] = "no documented main entry point (meta/argument_specs.yml)"
        elif not (entry.get("doc") or {}).get("description") or not entry.get("examples"):
            bad[name] = "no DOCUMENTATION/EXAMPLES: " + as_json.stderr.strip()[-500:]
        elif HEADER[kind] % name not in as_text.stdout:
            bad[name] = "does not render as text: " + as_text.stderr.strip()[-500:]
    return bad


@pytest.mark.parametrize("kind", ["module", "filter", "role"])
def test_ansible_doc_renders_everything_in_the_tree(kind):
    names = ["continuity.mail." + name for k, name in tree_plugins() if k == kind]
    assert names, "found no %s in the tree" % kind
    assert undocumented(kind, names) == {}


def test_tree_listing_finds_every_kind():
    found = tree_plugins()
    assert ("module", "mx_switch") in found
    assert ("filter", "quorum") in found
    assert ("role", "secondary") in found


def test_undocumented_plugins_and_roles_are_caught(tmp_path):
    """The check above can fail: a scratch collection with a broken module, a filter without
    docs and a role without meta/argument_specs.yml."""
    coll = tmp_path / "ansible_collections" / "scratch" / "docs"
    for sub in ("plugins/modules", "plugins/filter", "roles/bare/tasks"):
        (coll / sub).mkdir(parents=True)
    (coll / "galaxy.yml").write_text(
        "namespace: scratch\nname: docs\nversion: 1.0.0\nreadme: README.md\nauthors: [x]\n"
    )
    good = (PLUGINS / "modules" / "mail_queue.py").read_text(encoding="utf-8")
    (coll / "plugins/modules/good.py").write_text(
        good.replace("module: mail_queue", "module: good")
    )
    (coll / "plugins/modules/broken.py").write_text(
        'DOCUMENTATION = """\nmodule: broken\n  short_description: [oops\n"""\n'
    )
    (coll / "plugins/filter/nodoc.py").write_text(
        "class FilterModule:\n    def filters(self):\n        return {'nodoc': len}\n"
    )
    (coll / "roles/bare/tasks/main.yml").write_text("---\n[]\n")
    found = tree_plugins(coll)
    assert ("module", "broken") in found and ("role", "bare") in found
    # One good module next to the broken one: a broken plugin must not hide the others.
    assert set(undocumented("module", ["scratch.docs.good", "scratch.docs.broken"], tmp_path)) == {
        "scratch.docs.broken"
    }
    assert set(undocumented("filter", ["scratch.docs.nodoc"], tmp_path)) == {"scratch.docs.nodoc"}
    assert set(undocumented("role", ["scratch.docs.bare"], tmp_path)) == {"scratch.docs.bare"}
