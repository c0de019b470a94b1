#!/usr/bin/env bash
# Builds the Shardis image with no registry and no compiler in Docker: the
# host's release binary (stripped; its debug info kept beside it as
# target/docker/shardis-server.debug for profiling), the host's redis-cli
# (health checks, `--cluster create`) and the few tools the entrypoint
# uses, each with the shared libraries ldd names, on an empty base. The
# binaries bring the host's own glibc, so any Linux host's build runs.
#
# Usage: scripts/docker-image.sh [image, default shardis]
# Environment:
#   SHARDIS_BIN  the server binary [target/release/shardis-server, built
#                with cargo when missing]
#   BASE         base image [scratch]; scripts/docker-base.sh makes a Debian
#                one with apt and bash (the host's libraries go on top, so
#                use the host's own release: docker-base.sh does)
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${1:-shardis}
BIN=${SHARDIS_BIN:-target/release/shardis-server}
die() { echo "docker-image: $*" >&2; exit 1; }

command -v docker >/dev/null || die "docker not found"
command -v redis-cli >/dev/null || die "redis-cli not found (Debian: apt-get install redis-tools)"
if [ ! -x "$BIN" ]; then
    echo "docker-image: building $BIN..." >&2
    cargo build --release --bin shardis-server
fi

ctx=target/docker
rm -rf "$ctx"
root=$ctx/rootfs
# Merged /usr, as Debian since bookworm: /bin, /lib and /lib64 are links
# into /usr, so copying this tree onto such a base keeps the base's own.
mkdir -p "$root/usr/local/bin" "$root/usr/bin" "$root/usr/lib64" "$root/etc/shardis" "$root/data" "$root/tmp"
ln -s usr/bin "$root/bin"
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"
chmod 1777 "$root/tmp"

# Strip the debug info (38 MB of a 43 MB binary) but keep the symbol table,
# so perf and backtraces still name functions; the debug link lets gdb and
# perf find the split-out file.
objcopy --only-keep-debug "$BIN" "$ctx/shardis-server.debug"
objcopy --strip-debug --add-gnu-debuglink="$ctx/shardis-server.debug" "$BIN" "$root/usr/local/bin/shardis-server"

# A program's libraries, at the paths the loader expects (under /usr).
copy_libs() {
    ldd "$1" | grep -o '/[^ ]*' | while read -r lib; do
        local dest=$root/usr${lib#/usr}
        mkdir -p "$(dirname "$dest")"
        [ -e "$dest" ] || cp -L "$lib" "$dest"
    done
}
copy_libs "$BIN"
copy_libs "$(command -v redis-cli)"
cp -L "$(command -v redis-cli)" "$root/usr/local/bin/"
shell=$(command -v dash || command -v sh)
copy_libs "$shell"
cp -L "$shell" "$root/usr/bin/sh"
for tool in id chown setpriv; do
    copy_libs "$(command -v "$tool")"
    cp -L "$(command -v "$tool")" "$root/usr/bin/"
done

cp conf/shardis.conf conf/redis-cluster.tmpl "$root/etc/shardis/"
install -m 755 docker/entrypoint.sh "$root/usr/local/bin/docker-entrypoint.sh"
cp Dockerfile "$ctx/"

docker build -q --build-arg BASE="${BASE:-scratch}" -t "$IMAGE" "$ctx" >/dev/null
docker image ls "$IMAGE"
