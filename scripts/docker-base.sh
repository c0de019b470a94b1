#!/usr/bin/env bash
# Builds the local base image the Dockerfile starts FROM, without pulling
# anything from a container registry: debootstrap a minimal Debian into a
# folder and `docker import` it.
#
# Usage: scripts/docker-base.sh [image, default shardis-base:bookworm]
# Environment:
#   SUITE    Debian release [bookworm]; match the host that builds the
#            binary (the binary links the host's glibc)
#   MIRROR   Debian mirror [http://deb.debian.org/debian]
#   INCLUDE  extra packages, comma-separated [redis-tools] (redis-cli in
#            the image, for `docker exec ... redis-cli` and health checks)
# Needs root (debootstrap) and installs debootstrap with apt when missing.
set -euo pipefail

IMAGE=${1:-shardis-base:bookworm}
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
INCLUDE=${INCLUDE:-redis-tools}

die() { echo "docker-base: $*" >&2; exit 1; }
command -v docker >/dev/null || die "docker not found"
(( EUID == 0 )) || die "debootstrap needs root: run with sudo"
if ! command -v debootstrap >/dev/null; then
    echo "docker-base: installing debootstrap..." >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

ROOTFS=$(mktemp -d "${TMPDIR:-/var/tmp}/shardis-rootfs.XXXXXX")
trap 'rm -rf "$ROOTFS"' EXIT

echo "docker-base: debootstrap --variant=minbase $SUITE (+ $INCLUDE) into $ROOTFS..." >&2
debootstrap --variant=minbase ${INCLUDE:+--include="$INCLUDE"} "$SUITE" "$ROOTFS" "$MIRROR" >&2

# Slim it down: package lists, caches, docs and man pages.
chroot "$ROOTFS" apt-get clean
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin \
    "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
    "$ROOTFS"/var/log/*.log

echo "docker-base: importing as $IMAGE..." >&2
tar --numeric-owner -C "$ROOTFS" -c . |
    docker import -c 'CMD ["/bin/bash"]' -c 'ENV LANG=C.UTF-8' - "$IMAGE" >/dev/null
docker image ls "$IMAGE"
