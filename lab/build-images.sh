#!/usr/bin/env bash
# Build the lab image without any registry:
#   debootstrap (host mirror) -> docker import (base) -> docker build (lab image).
# The tag is a hash of lab/, so the image is rebuilt only when the recipe changes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lab/common.sh
. "$here/common.sh"

lab_require_docker
image=$(lab_image)
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "lab: image $image is up to date"
  exit 0
fi

base="continuity-lab-base:${image##*:}"
mirror=$(python3 "$here/host_mirror.py")
if ! docker image inspect "$base" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null 2>&1 || lab_die "debootstrap is not installed (apt-get install debootstrap)"
  [ "$(id -u)" = 0 ] || lab_die "debootstrap must run as root to build the lab base image"
  rootfs=$(mktemp -d /tmp/continuity-lab-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  echo "lab: debootstrap bookworm from $mirror (about a minute)"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
    || { tail -n 20 "$rootfs.log" >&2; lab_die "debootstrap failed (log: $rootfs.log)"; }
  rm -f "$rootfs.log"
  tar -C "$rootfs" -c . | docker import --change 'CMD ["/bin/bash"]' - "$base" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
fi

echo "lab: building $image"
log=$(mktemp /tmp/continuity-lab-build.XXXXXX)
docker build --label "$LAB_LABEL=image" --build-arg "BASE=$base" -t "$image" "$here" >"$log" 2>&1 \
  || { tail -n 20 "$log" >&2; lab_die "docker build failed (log: $log)"; }
rm -f "$log"
docker image tag "$image" "$LAB_IMAGE_NAME:latest"
echo "lab: image $image built"
