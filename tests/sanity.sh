#!/usr/bin/env bash
# ansible-test needs the collection at .../ansible_collections/continuity/mail and in git:
# copy the tracked and new plugin files into a scratch tree and run sanity on plugins/ there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# ansible-test installs each sanity test's pinned requirements; keep them out of the project
# venv in a venv of their own (its --venv mode needs a pip bootstrap from the internet).
sanity_venv="$root/.venv-sanity"
if [ ! -x "$sanity_venv/bin/ansible-test" ]; then
  python3 -m venv "$sanity_venv"
  "$sanity_venv/bin/pip" install --quiet --upgrade pip
  "$sanity_venv/bin/pip" install --quiet "$(grep '^ansible-core==' "$root/requirements.txt")"
fi
export PATH="$sanity_venv/bin:$PATH"
# ansible-test bootstraps pip in each test venv with a script from ci-files.testing.ansible.com,
# which is not reachable here. Give it an equivalent: the interpreter's bundled ensurepip,
# then pip installs what ansible-test asked for (from PyPI, which is reachable).
pip_version=$(python - <<'PY'
import re, ansible_test, os
src = open(os.path.join(os.path.dirname(ansible_test.__file__), "_internal", "python_requirements.py")).read()
print(re.search(r"pip='([0-9.]+)'", src).group(1))
PY
)
bootstrap="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if [ ! -f "$bootstrap" ]; then
  mkdir -p "$(dirname "$bootstrap")"
  cat >"$bootstrap" <<'PY'
import subprocess
import sys
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
# get-pip's own flags (--no-setuptools, --no-wheel) mean "install only pip" here.
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
PY
fi
work=$(mktemp -d /tmp/continuity-sanity.XXXXXX)
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/continuity/mail"
mkdir -p "$dest"
cd "$root"
git ls-files --cached --others --exclude-standard -- plugins meta galaxy.yml tests/unit \
  | tar -c -T - | tar -C "$dest" -x
cd "$dest"
git init -q . && git add -A && git -c user.email=ci@localhost -c user.name=ci commit -qm sanity
# ansible-test keeps its per-test virtualenvs in ~/.ansible/test, shared by every checkout on
# the machine: two sanity runs at once would delete each other's. Take turns.
mkdir -p "$HOME/.ansible"
flock "$HOME/.ansible/continuity-sanity.lock" \
  ansible-test sanity --requirements --python "$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
  "$@" plugins/ 2>&1
