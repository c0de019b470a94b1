# The Shardis image. Built by scripts/docker-image.sh, which stages the
# context in target/docker/ (rootfs/: the host's stripped release binary,
# redis-cli, the entrypoint's tools and their libraries): no registry, no
# compiler inside Docker.
#
#   scripts/docker-image.sh                       # -> image "shardis"
#   docker run --rm --network host shardis        # port 6379, every interface
#   docker run --rm --network host shardis --port 6380 --requirepass s3cret
#
# Like the official redis image: given only flags it keeps its config,
# listens on every interface with protected mode off (set requirepass, or
# keep the port private), and it runs as an unprivileged user (uid 999).
# No --ulimit is needed on Linux 5.12 and newer (src/server/memlock.rs).
# Where the default seccomp profile blocks io_uring (Docker 25 and newer,
# Kubernetes' RuntimeDefault), add
#   --security-opt seccomp=conf/seccomp-io-uring.json
# Without it the server exits with a message naming the cause and the fix.
ARG BASE=scratch
FROM ${BASE}
COPY rootfs/ /
# /data is the server's when it runs as uid 999 from the start (--user).
COPY --chown=999:999 rootfs/data /data
WORKDIR /data
EXPOSE 6379
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
