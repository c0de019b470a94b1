# Shardis image, built without a container registry: the binary is built
# on the host with cargo and copied onto a local Debian base image.
#
#   scripts/docker-base.sh               # once: debootstrap -> shardis-base:bookworm
#   cargo build --release                # target/release/shardis-server
#   docker build -t shardis .
#   docker run --rm --network host --ulimit memlock=-1 \
#       --security-opt seccomp=conf/seccomp-io-uring.json shardis --port 6379
#
# Shardis runs on io_uring: the container needs a locked-memory limit of at
# least 512 KiB per shard (--ulimit memlock=-1) and, on Docker 25 and newer,
# a seccomp profile that allows io_uring_* (conf/seccomp-io-uring.json).
# Without them it exits with a message naming the cause and the fix.
#
# BASE may be any glibc image whose glibc is at least the build host's,
# e.g. --build-arg BASE=debian:bookworm-slim where a registry is available.
ARG BASE=shardis-base:bookworm
FROM ${BASE}

COPY target/release/shardis-server /usr/local/bin/shardis-server
COPY conf/shardis.conf conf/redis-cluster.tmpl /etc/shardis/
RUN mkdir -p /data && /usr/local/bin/shardis-server --version

WORKDIR /data
EXPOSE 6379
# Like the official redis image: listen on every interface, no protected
# mode; set requirepass (or keep the port private) in production.
ENTRYPOINT ["/usr/local/bin/shardis-server"]
CMD ["/etc/shardis/shardis.conf", "--bind", "*", "-::*", "--protected-mode", "no", "--dir", "/data"]
