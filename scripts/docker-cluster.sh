#!/usr/bin/env bash
# The seed's six-node cluster (3 masters + 3 replicas) in containers on one
# machine: docker-compose.yml's two hosts' nodes, host1 on 127.0.0.10
# (6371-6373) and host2 on 127.0.0.11 (6374-6376), each with its redis.conf
# rendered from conf/redis-cluster.tmpl into cluster/<port>/conf/.
#
#   scripts/docker-cluster.sh up        # image if missing, configs, start all six
#   scripts/docker-cluster.sh create    # redis-cli --cluster create (in a container)
#   scripts/docker-cluster.sh check     # redis-cli --cluster check
#   scripts/docker-cluster.sh down [--wipe]
#                                       # stop and remove the containers;
#                                       # --wipe also deletes cluster/ (data,
#                                       # nodes.conf), else the next `up`
#                                       # resumes the same cluster
# Environment: SHARDIS_IMAGE [shardis], SHARDIS_CLUSTER_DIR [./cluster].
set -euo pipefail
cd "$(dirname "$0")/.."
export SHARDIS_IMAGE=${SHARDIS_IMAGE:-shardis}
export SHARDIS_CLUSTER_DIR=${SHARDIS_CLUSTER_DIR:-$PWD/cluster}
export COMPOSE_PROFILES=host1,host2
NODES=(127.0.0.10:6371 127.0.0.10:6372 127.0.0.10:6373 127.0.0.11:6374 127.0.0.11:6375 127.0.0.11:6376)
PASS=1234 # the template's requirepass

compose() { docker-compose -f docker-compose.yml -p shardis-cluster "$@"; }
cli() { docker exec shardis-6371 redis-cli -a "$PASS" --no-auth-warning "$@"; }

up() {
    docker image inspect "$SHARDIS_IMAGE" >/dev/null 2>&1 || scripts/docker-image.sh "$SHARDIS_IMAGE"
    for n in "${NODES[@]}"; do
        local ip=${n%:*} port=${n#*:}
        mkdir -p "$SHARDIS_CLUSTER_DIR/$port/conf" "$SHARDIS_CLUSTER_DIR/$port/data"
        # As the tutorial's envsubst, without needing gettext on the host.
        sed -e "s/\${PORT}/$port/g" -e "s/\${IP}/$ip/g" conf/redis-cluster.tmpl \
            >"$SHARDIS_CLUSTER_DIR/$port/conf/redis.conf"
    done
    compose up -d
    for n in "${NODES[@]}"; do
        for _ in $(seq 100); do
            case $(docker exec "shardis-${n#*:}" redis-cli -h "${n%:*}" -p "${n#*:}" ping 2>/dev/null) in
                PONG | NOAUTH*) continue 2 ;;
            esac
            sleep 0.1
        done
        echo "docker-cluster: $n did not answer; docker logs shardis-${n#*:}:" >&2
        docker logs --tail 20 "shardis-${n#*:}" >&2
        exit 1
    done
}

case "${1:-}" in
    up) up ;;
    create) cli --cluster create "${NODES[@]}" --cluster-replicas 1 --cluster-yes ;;
    check) cli --cluster check "${NODES[0]}" ;;
    down)
        compose down --remove-orphans
        if [ "${2:-}" = --wipe ]; then rm -rf "$SHARDIS_CLUSTER_DIR"; fi
        ;;
    *)
        sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2
        exit 2
        ;;
esac
