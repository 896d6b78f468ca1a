#!/usr/bin/env bash
# Collection docs with antsibull-docs, on a staged copy of the collection:
#
#   tools/docs.sh lint    antsibull-docs lint-collection-docs --plugin-docs (make lint)
#   tools/docs.sh build   the docsite into docs/build/ (make docs; git-ignored)
#
# antsibull-docs copies the collection with everything git tracks, and it follows symlinks:
# the checkout's .collections/ansible_collections/continuity/mail -> ../../.. would make it
# copy the checkout, the venv and the lab into itself (minutes). So stage the tracked files
# (minus that symlink) under ansible_collections/continuity/mail, as tests/sanity.sh does.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
action=${1:-lint}
work=$(mktemp -d /tmp/continuity-docs.XXXXXX)
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/continuity/mail"
mkdir -p "$dest"
cd "$root"
git ls-files --cached --others --exclude-standard \
  | grep -v -e '^\.collections/' -e '^docs/build/' \
  | while IFS= read -r f; do [ -e "$f" ] && printf '%s\n' "$f"; done \
  | tar -c -T - | tar -C "$dest" -x
# Dependencies (community.general) come from the venv's ansible package; ours from the copy.
site=$(python -c 'import ansible_collections, os; print(os.path.dirname(list(ansible_collections.__path__)[0]))')
export ANSIBLE_COLLECTIONS_PATH="$work:$site"
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false

case $action in
  lint)
    # antsibull-docs reports problems with paths in the staged copy: map them back.
    out=$(cd "$dest" && antsibull-docs lint-collection-docs --plugin-docs . 2>&1) && rc=0 || rc=$?
    printf '%s\n' "$out" | sed "s#$dest/##g"
    exit $rc
    ;;
  build)
    out_dir="$root/docs/build"
    rm -rf "$out_dir"
    mkdir -p "$out_dir"
    antsibull-docs sphinx-init --use-current --lenient --dest-dir "$out_dir" continuity.mail >/dev/null
    # build.sh runs antsibull-docs collection (RST into rst/) and sphinx-build (HTML into build/html).
    (cd "$out_dir" && ./build.sh)
    echo "docs: $out_dir/build/html/index.html"
    ;;
  *)
    echo "usage: $0 lint|build" >&2
    exit 2
    ;;
esac
