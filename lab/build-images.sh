#!/usr/bin/env bash
# Build the lab images without any registry, one per Debian release LAB_RELEASE needs
# (bookworm, trixie or both for mixed):
#   debootstrap (host mirror) -> docker import (base) -> docker build (lab image).
# The tag names the release and a hash of lab/, so an image is rebuilt only when the recipe
# changes. Usage: build-images.sh [bookworm|trixie|mixed] (default: $LAB_RELEASE).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lab/common.sh
. "$here/common.sh"

lab_require_docker
releases=$(lab_releases "${1:-}")

build_release() {
  local release=$1 image base mirror rootfs log
  image=$(lab_image "$release")
  if docker image inspect "$image" >/dev/null 2>&1; then
    echo "lab: image $image is up to date"
  else
    base="continuity-lab-base:${image##*:}"
    mirror=$(LAB_SUITE=$release python3 "$here/host_mirror.py")
    if ! docker image inspect "$base" >/dev/null 2>&1; then
      command -v debootstrap >/dev/null 2>&1 || lab_die "debootstrap is not installed (apt-get install debootstrap)"
      [ "$(id -u)" = 0 ] || lab_die "debootstrap must run as root to build the lab base image"
      [ -e "/usr/share/debootstrap/scripts/$release" ] \
        || lab_die "this debootstrap does not know $release: install a newer debootstrap"
      rootfs=$(mktemp -d /tmp/continuity-lab-rootfs.XXXXXX)
      trap 'rm -rf "$rootfs"' EXIT
      echo "lab: debootstrap $release from $mirror (about a minute)"
      debootstrap --variant=minbase "$release" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
        || { tail -n 20 "$rootfs.log" >&2; lab_die "debootstrap $release failed (log: $rootfs.log)"; }
      rm -f "$rootfs.log"
      tar -C "$rootfs" -c . | docker import --change 'CMD ["/bin/bash"]' - "$base" >/dev/null
      rm -rf "$rootfs"
      trap - EXIT
    fi
    echo "lab: building $image"
    log=$(mktemp /tmp/continuity-lab-build.XXXXXX)
    docker build --label "$LAB_LABEL=image" --label "$LAB_LABEL.release=$release" \
      --build-arg "BASE=$base" -t "$image" "$here" >"$log" 2>&1 \
      || { tail -n 20 "$log" >&2; lab_die "docker build $release failed (log: $log)"; }
    rm -f "$log"
    echo "lab: image $image built"
  fi
  docker image tag "$image" "$LAB_IMAGE_NAME:$release"
  # continuity-lab:latest is the default release's image (tests and benchmarks that start
  # containers of their own without naming a release use it).
  if [ "$release" = "$LAB_DEFAULT_RELEASE" ]; then
    docker image tag "$image" "$LAB_IMAGE_NAME:latest"
  fi
}

for release in $releases; do
  build_release "$release"
done
