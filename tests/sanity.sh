#!/usr/bin/env bash
# ansible-test needs the collection at .../ansible_collections/continuity/mail and in git:
# copy the tracked and new plugin files into a scratch tree and run sanity on plugins/ there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/continuity-sanity.XXXXXX)
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/continuity/mail"
mkdir -p "$dest"
cd "$root"
git ls-files --cached --others --exclude-standard -- plugins meta galaxy.yml tests/unit \
  | tar -c -T - | tar -C "$dest" -x
cd "$dest"
git init -q . && git add -A && git -c user.email=ci@localhost -c user.name=ci commit -qm sanity
# --venv: ansible-test installs each test's own requirements in its own virtualenv.
ansible-test sanity --venv --python "$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
  "$@" plugins/ 2>&1
