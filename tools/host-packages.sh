#!/usr/bin/env bash
# Make sure the host has the Debian/Ubuntu packages a make target needs, before anything is
# built: as root they are installed (one line says which), otherwise one line names them and
# the command to run, and the target stops with nothing half-built.
#
#   tools/host-packages.sh lab|venv|test|bench-dns|bench-health|bench-sync ...
set -euo pipefail

# package:command — the command shows whether the package is there (no dpkg query needed,
# so a tool installed another way counts too).
declare -A NEEDS=(
  [venv]=""
  [lab]="debootstrap:debootstrap"
  [test]="debootstrap:debootstrap chromium:chromium"
  [bench-dns]="bind9-dnsutils:nsupdate bind9-dnsutils:dig"
  [bench-health]="monitoring-plugins-basic:/usr/lib/nagios/plugins/check_smtp monitoring-plugins-standard:/usr/lib/nagios/plugins/check_imap"
)

missing=()
add() { [[ " ${missing[*]} " == *" $1 "* ]] || missing+=("$1"); }
for purpose in "$@"; do
  [[ -v "NEEDS[$purpose]" ]] || { echo "host: unknown purpose '$purpose'" >&2; exit 2; }
  for pair in ${NEEDS[$purpose]}; do
    package=${pair%%:*} command=${pair#*:}
    if [[ $command == /* ]]; then [ -x "$command" ] || add "$package"; else
      command -v "$command" >/dev/null 2>&1 || add "$package"; fi
  done
  # A venv needs ensurepip; Debian ships it apart from python3 (python3-venv).
  if [[ $purpose == venv || $purpose == test || $purpose == lab ]]; then
    ${PYTHON:-python3} -c 'import ensurepip' >/dev/null 2>&1 || add python3-venv
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "host: missing ${missing[*]} (Debian/Ubuntu package names); install them with your package manager and retry" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "host: missing ${missing[*]}: run 'sudo apt-get install -y ${missing[*]}' and retry" >&2
  exit 1
fi
echo "host: installing ${missing[*]} (apt-get)"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp /tmp/continuity-host-packages.XXXXXX)
# The package lists may be stale or absent on a fresh machine: update once, then retry.
if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
  apt-get update -q >>"$log" 2>&1 || true
  apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1 \
    || { tail -n 20 "$log" >&2; echo "host: apt-get install ${missing[*]} failed (log: $log)" >&2; exit 1; }
fi
rm -f "$log"
