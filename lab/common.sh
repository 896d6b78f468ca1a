# Shared settings and checks for the lab scripts (sourced, not run).
LAB_LABEL=continuity.mail.lab
LAB_IMAGE_NAME=continuity-lab
LAB_NETWORK=continuity-lab
LAB_PREFIX=continuity-lab-
# The release the lab runs when LAB_RELEASE is not set: also the image continuity-lab:latest.
LAB_DEFAULT_RELEASE=bookworm

lab_die() {
  echo "lab: $*" >&2
  exit 1
}

# Docker must answer within seconds; when dockerd is installed but not running, try to start it once.
lab_require_docker() {
  command -v docker >/dev/null 2>&1 || lab_die "docker CLI not found: install Docker Engine"
  if timeout 15 docker info >/dev/null 2>&1; then
    return 0
  fi
  if command -v dockerd >/dev/null 2>&1 && ! pgrep -x dockerd >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "lab: Docker Engine not running; starting dockerd" >&2
    (nohup dockerd >/var/log/continuity-lab-dockerd.log 2>&1 &)
    for _ in $(seq 1 30); do
      timeout 5 docker info >/dev/null 2>&1 && return 0
      sleep 1
    done
  fi
  lab_die "Docker Engine is not reachable ('docker info' failed): start it and retry"
}

# LAB_RELEASE: bookworm (Dovecot 2.3), trixie (Dovecot 2.4) or mixed (primary bookworm,
# secondary trixie: a site halfway through its upgrade). Prints the Debian releases it needs.
lab_releases() {
  case "${1:-${LAB_RELEASE:-$LAB_DEFAULT_RELEASE}}" in
    bookworm) echo bookworm ;;
    trixie) echo trixie ;;
    mixed) echo bookworm trixie ;;
    *) lab_die "LAB_RELEASE must be bookworm, trixie or mixed (got '${1:-$LAB_RELEASE}')" ;;
  esac
}

# The image tag names the Debian release and a hash of every file in lab/ (the recipe), so
# any change rebuilds: continuity-lab:<release>-<hash>. continuity-lab:<release> follows the
# newest build of each release, continuity-lab:latest the default release's.
lab_image() {
  local release=$1 dir hash
  dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  hash=$( (echo "release=$release"; cd "$dir" && find . -type f ! -name '*.pyc' ! -path './__pycache__/*' -print0 \
    | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-12)
  echo "$LAB_IMAGE_NAME:$release-$hash"
}
