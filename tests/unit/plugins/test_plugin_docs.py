# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every plugin's documentation is valid YAML with the keys ansible-doc needs, and every doc
fragment a module extends exists. (ansible-test sanity checks docs against argument specs;
this catches a broken YAML string in seconds, before the sanity run.)"""

import importlib
import pathlib

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
