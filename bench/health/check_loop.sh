#!/usr/bin/env bash
# Benchmark round: the Nagios/Icinga way - check_smtp / check_imap per endpoint, either one
# after another (JOBS=1, a plain loop) or JOBS at a time (xargs -P, like a scheduler).
# Input lines: protocol host port. Prints "ok failed".
set -euo pipefail
targets=$1
jobs=${2:-1}
timeout=${3:-5}
plugins=/usr/lib/nagios/plugins
[ -x "$plugins/check_smtp" ] || { echo "install monitoring-plugins-basic and -standard (apt-get)" >&2; exit 2; }
export plugins timeout
check_one() {
  case "$1" in
    # STARTTLS and certificate days left, as deep as check_smtp goes without credentials
    smtp|submission) "$plugins/check_smtp" -H "$2" -p "$3" -S -D 14 -t "$timeout" >/dev/null 2>&1 ;;
    # check_imap reads the greeting only (no STARTTLS, no login)
    imap) "$plugins/check_imap" -H "$2" -p "$3" -t "$timeout" >/dev/null 2>&1 ;;
  esac && echo ok || echo failed
}
export -f check_one
xargs -P "$jobs" -L 1 bash -c 'check_one "$@"' _ < "$targets" | sort | uniq -c \
  | awk '{c[$2]=$1} END {printf "%d %d\n", c["ok"]+0, c["failed"]+0}'
