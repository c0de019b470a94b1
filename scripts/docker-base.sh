#!/usr/bin/env bash
# Builds a Debian base image without pulling anything from a container
# registry: debootstrap a minimal Debian into a folder and `docker import`
# it. Optional: the Shardis image needs no base (scripts/docker-image.sh
# builds it FROM scratch); this one adds apt and bash for debugging:
#   scripts/docker-base.sh && BASE=shardis-base:bookworm scripts/docker-image.sh shardis:debian
#
# Usage: scripts/docker-base.sh [image, default shardis-base:<suite>]
# Packages come from where the host's apt gets them: the host's own apt
# sources for that suite (a local mirror included) and its apt proxy.
# Environment:
#   SUITE    Debian release [the host's]; docker-image.sh puts the host's
#            libraries on top, so keep the host's
#   MIRROR   override the mirror [the host's apt source for SUITE]
#   INCLUDE  extra packages, comma-separated [none]
# Needs root (debootstrap) and installs debootstrap with apt when missing.
set -euo pipefail

die() { echo "docker-base: $*" >&2; exit 1; }
# shellcheck disable=SC1091
SUITE=${SUITE:-$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")}
[ -n "$SUITE" ] || die "cannot tell the host's release: set SUITE"
IMAGE=${1:-shardis-base:$SUITE}
INCLUDE=${INCLUDE:-}

# The host's apt source for $SUITE, from one-line .list files
# ("deb [opts] URI SUITE ...") or deb822 .sources stanzas.
host_mirror() {
    local files=()
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && files+=("$f")
    done
    [ "${#files[@]}" -gt 0 ] || return 0
    awk -v suite="$SUITE" '
        FNR == 1 { types = uris = suites = "" }
        /^deb / { sub(/\[[^]]*\] */, ""); if ($3 == suite) { print $2; exit } }
        /^Types:/ { types = $0 }  /^URIs:/ { uris = $2 }  /^Suites:/ { suites = $0 }
        /^[[:space:]]*$/ || /^Signed-By:|^Components:/ {
            if (types ~ /deb( |$)/ && (" " suites " ") ~ (" " suite " ") && uris != "") { print uris; exit }
        }' "${files[@]}"
}
MIRROR=${MIRROR:-$(host_mirror)}
[ -n "$MIRROR" ] || die "no apt source for $SUITE in /etc/apt: set MIRROR"
# The host's apt proxy, if it has one, for debootstrap's downloads too.
if command -v apt-config >/dev/null; then
    eval "$(apt-config shell proxy Acquire::http::Proxy)"
    [ -z "${proxy:-}" ] || export http_proxy=${http_proxy:-$proxy}
fi

command -v docker >/dev/null || die "docker not found"
(( EUID == 0 )) || die "debootstrap needs root: run with sudo"
if ! command -v debootstrap >/dev/null; then
    echo "docker-base: installing debootstrap..." >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

ROOTFS=$(mktemp -d "${TMPDIR:-/var/tmp}/shardis-rootfs.XXXXXX")
trap 'rm -rf "$ROOTFS"' EXIT

echo "docker-base: debootstrap --variant=minbase $SUITE from $MIRROR${INCLUDE:+ (+ $INCLUDE)}..." >&2
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
