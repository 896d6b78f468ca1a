# Shared settings and checks for the lab scripts (sourced, not run).
LAB_LABEL=continuity.mail.lab
LAB_IMAGE_NAME=continuity-lab
LAB_NETWORK=continuity-lab
LAB_PREFIX=continuity-lab-

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

# The image tag is a hash of every file in lab/ (the recipe), so any change rebuilds.
lab_image() {
  local dir hash
  dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  hash=$(cd "$dir" && find . -type f ! -name '*.pyc' ! -path './__pycache__/*' -print0 | LC_ALL=C sort -z \
    | xargs -0 sha256sum | sha256sum | cut -c1-12)
  echo "$LAB_IMAGE_NAME:$hash"
}
