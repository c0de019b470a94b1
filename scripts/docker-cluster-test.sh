#!/usr/bin/env bash
# End-to-end check of the image and of scripts/docker-cluster.sh, run by
# tests/docker_cluster.rs (exit 77: skipped, with the reason on stderr).
#   1. one container with no --ulimit and Docker's default seccomp profile:
#      it starts, keeps its config when given only flags, runs as uid 999;
#      it also starts under a 64 KiB locked-memory limit, as another uid
#   2. up + create: --cluster check OK, cluster_state:ok, SET/GET through
#      redis-cli -c on keys in slots 5798 and 5287
#   3. docker stop of the master of slot 5798 while a client writes: its
#      replica serves the slot and holds every acknowledged write
#   4. docker start: the old master rejoins as a replica
#   5. down --wipe: nothing left running
# Prints the figures the docs quote (image size, start time, failover).
# Everything it starts is removed on exit, whatever the outcome.
set -euo pipefail
cd "$(dirname "$0")/.."
skip() { echo "docker-cluster-test: skipped: $*" >&2; exit 77; }
fail() { echo "docker-cluster-test: FAILED: $*" >&2; exit 1; }
say() { echo "docker-cluster-test: $*" >&2; }
now() { date +%s.%N; }
elapsed() { echo "$1 $2" | awk '{ printf "%.2f", $2 - $1 }'; }

command -v docker >/dev/null || skip "docker not installed"
docker info >/dev/null 2>&1 || skip "docker daemon not reachable"
command -v docker-compose >/dev/null || skip "docker-compose not installed"
command -v redis-cli >/dev/null || skip "redis-cli not installed (the image copies the host's)"
for port in 6371 6372 6373 6374 6375 6376; do
    if redis-cli -p "$port" ping >/dev/null 2>&1 || [ -n "$(docker ps -aq -f name="^shardis-$port\$")" ]; then
        skip "port $port or container shardis-$port in use (a cluster already running?)"
    fi
done

export SHARDIS_IMAGE=shardis-test:$$
export SHARDIS_CLUSTER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/shardis-docker-test.XXXXXX")
single=shardis-test-$$
cleanup() {
    docker rm -f "$single" "$single-64k" >/dev/null 2>&1 || true
    scripts/docker-cluster.sh down --wipe >/dev/null 2>&1 || true
    docker rmi -f "$SHARDIS_IMAGE" >/dev/null 2>&1 || true
    [ -z "${writer:-}" ] || kill "$writer" 2>/dev/null || true
}
trap cleanup EXIT

scripts/docker-image.sh "$SHARDIS_IMAGE" >/dev/null
size=$(docker image inspect -f '{{.Size}}' "$SHARDIS_IMAGE")
say "image size: $((size / 1000000)) MB"

# A port nothing answers on (host networking: the host's ports).
free_port() {
    local p
    while p=$((20000 + RANDOM % 20000)); (: </dev/tcp/127.0.0.1/$p) 2>/dev/null; do :; done
    echo "$p"
}

# 1. One container, defaults only.
port=$(free_port)
t0=$(now)
docker run -d --name "$single" --network host "$SHARDIS_IMAGE" --port "$port" >/dev/null
for _ in $(seq 200); do
    [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break
    sleep 0.05
done
[ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] || { docker logs "$single" >&2; fail "no PONG from a default docker run"; }
say "start time (docker run to PONG): $(elapsed "$t0" "$(now)") s"
[ "$(redis-cli -p "$port" config get protected-mode | tail -1)" = no ] || fail "protected-mode is not no"
[ "$(redis-cli -p "$port" config get dir | tail -1)" = /data ] || fail "the image's config (dir /data) was not loaded"
uid=$(ps -o uid=,comm= -p "$(docker inspect -f '{{.State.Pid}}' "$single")" | awk '$2 == "shardis-server" { print $1 }')
[ "$uid" = 999 ] || fail "shardis-server runs as uid '$uid', not 999"
port2=$(free_port)
# 64 KiB, as older systemd hosts give: the rings shrink to fit. A uid of its
# own: the limit is shared by every process of a uid.
docker run -d --name "$single-64k" --network host --ulimit memlock=65536:65536 --user 12399:12399 \
    "$SHARDIS_IMAGE" --port "$port2" --shards 1 >/dev/null
for _ in $(seq 200); do
    [ "$(redis-cli -p $port2 ping 2>/dev/null)" = PONG ] && break
    sleep 0.05
done
[ "$(redis-cli -p $port2 ping 2>/dev/null)" = PONG ] || { docker logs "$single-64k" >&2; fail "no start under memlock 64 KiB"; }
docker rm -f "$single" "$single-64k" >/dev/null

# 2. The seed's cluster.
cli() { redis-cli -a 1234 --no-auth-warning "$@"; }
scripts/docker-cluster.sh up >&2
scripts/docker-cluster.sh create >/dev/null
scripts/docker-cluster.sh check | grep -q '\[OK\] All 16384 slots covered' || fail "--cluster check"
# Every node's view: state ok, three replicas, each replica in sync (gossip
# spreads the replicas within seconds of create; the first sync waits
# repl-diskless-sync-delay, 5 s, as redis-server does). A master hands
# over on SIGTERM only to a replica in sync.
converged() {
    local n
    for n in 127.0.0.10:6371 127.0.0.10:6372 127.0.0.10:6373 127.0.0.11:6374 127.0.0.11:6375 127.0.0.11:6376; do
        set -- -h "${n%:*}" -p "${n#*:}"
        cli "$@" cluster info | grep -q '^cluster_state:ok' || return 1
        [ "$(cli "$@" cluster nodes | awk '$3 ~ /slave/' | wc -l)" = 3 ] || return 1
        cli "$@" info replication | grep -q '^role:master' ||
            cli "$@" info replication | grep -q '^master_link_status:up' || return 1
    done
}
for _ in $(seq 150); do converged && break; sleep 0.2; done
converged || fail "the nodes did not agree on cluster_state:ok and three replicas in sync in 30 s"
[ "$(cli -h 127.0.0.10 -p 6371 cluster keyslot name)" = 5798 ] || fail "keyslot name"
[ "$(cli -h 127.0.0.10 -p 6371 cluster keyslot bbb)" = 5287 ] || fail "keyslot bbb"
for kv in name:mrhelloworld bbb:222; do
    [ "$(cli -c -h 127.0.0.10 -p 6371 set "${kv%:*}" "${kv#*:}")" = OK ] || fail "SET ${kv%:*}"
    [ "$(cli -c -h 127.0.0.11 -p 6376 get "${kv%:*}")" = "${kv#*:}" ] || fail "GET ${kv%:*}"
done

# 3. Stop the master of slot 5798 while a client writes keys in that slot.
owner() { cli -h 127.0.0.10 -p "$1" cluster nodes | awk -v s="$2" '
    $3 ~ /master/ { for (i = 9; i <= NF; i++) { split($i, r, "-"); if (r[1] <= s && s <= (r[2] == "" ? r[1] : r[2])) print $1, $2 } }'; }
read -r master_id master_addr < <(owner 6371 5798)
master_port=${master_addr%%@*}
master_port=${master_port#*:}
replica_addr=$(cli -h 127.0.0.10 -p 6371 cluster nodes | awk -v m="$master_id" '$4 == m { print $2 }')
replica_port=${replica_addr%%@*}
replica_ip=${replica_port%:*}
replica_port=${replica_port#*:}
seed=6371
[ "$master_port" = 6371 ] && seed=6372
[ -n "$replica_port" ] || fail "no replica for $master_addr"
say "slot 5798: master :$master_port, replica :$replica_port"
acked=$SHARDIS_CLUSTER_DIR/acked
(
    i=0
    while [ ! -e "$acked.stop" ]; do
        i=$((i + 1))
        [ "$(cli -c -h 127.0.0.10 -p $seed set "{name}:$i" "$i" 2>/dev/null)" = OK ] && echo "$i" >>"$acked"
    done
) &
writer=$!
sleep 1
t0=$(now)
docker stop "shardis-$master_port" >/dev/null
for _ in $(seq 200); do
    cli -h "$replica_ip" -p "$replica_port" role | head -1 | grep -q master && break
    sleep 0.05
done
cli -h "$replica_ip" -p "$replica_port" role | head -1 | grep -q master || fail "the replica did not take over"
say "failover (docker stop to replica is master): $(elapsed "$t0" "$(now)") s"
# The SIGTERM handover did it, not a failover after the node timeout.
handover=$(docker logs "shardis-$master_port" 2>&1 | grep -o 'Handover done.*') || fail "no SIGTERM handover logged"
say "master's log: $handover"
sleep 1
touch "$acked.stop"
wait "$writer"
writer=
n=$(wc -l <"$acked")
[ "$n" -gt 10 ] || fail "only $n writes acknowledged"
lost=$(sed 's/.*/GET {name}:&/' "$acked" | cli -h "$replica_ip" -p "$replica_port" | paste -d' ' "$acked" - | awk '$1 != $2' | wc -l)
[ "$lost" = 0 ] || fail "$lost of $n acknowledged writes lost"
say "$n acknowledged writes across the failover, none lost"
[ "$(cli -c -h 127.0.0.10 -p $seed get name)" = mrhelloworld ] || fail "GET name after failover"

# 4. The old master comes back as a replica of its replica.
docker start "shardis-$master_port" >/dev/null
for _ in $(seq 300); do
    cli -h 127.0.0.10 -p "$seed" cluster nodes | awk -v a="$master_addr" '$2 == a && $3 ~ /slave/' | grep -q . &&
        cli -h "${master_addr%:*}" -p "$master_port" info replication | grep -q 'master_link_status:up' && break
    sleep 0.1
done
cli -h "${master_addr%:*}" -p "$master_port" info replication | grep -q 'master_link_status:up' ||
    fail "the restarted master did not rejoin as a replica"
say "restarted :$master_port rejoined as a replica"

# 5. Down leaves nothing running.
scripts/docker-cluster.sh down --wipe >/dev/null 2>&1
[ -z "$(docker ps -aq -f name='^shardis-637[1-6]$')" ] || fail "containers left after down"
say "ok"
