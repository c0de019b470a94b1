#!/usr/bin/env bash
# Builds a release shardis and runs a local cluster as the seed deploys it:
# six nodes rendered from conf/redis-cluster.tmpl (requirepass 1234,
# appendonly yes, cluster-enabled yes), three on 127.0.0.10 (ports
# 6371-6373) and three on 127.0.0.11 (6374-6376), formed with
# `redis-cli --cluster create ... --cluster-replicas 1` the first time.
# Data and nodes.conf live in run/cluster/<port>/ and survive restarts.
# Ctrl-C stops every node.
#
#   scripts/run.sh                  # the local cluster
#   scripts/run.sh --standalone [--port 7000 --shards 4 ...]
#                                   # one standalone node (conf/shardis.conf
#                                   # when present, arguments are directives)
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release
bin=$PWD/target/release/shardis-server

if [ "${1:-}" = "--standalone" ]; then
    shift
    args=()
    port=6379
    if [ -f conf/shardis.conf ]; then
        args+=(conf/shardis.conf)
        p=$(awk 'tolower($1) == "port" { p = $2 } END { print p }' conf/shardis.conf)
        [ -n "$p" ] && port=$p
    fi
    prev=""
    for a in "$@"; do
        [ "$prev" = "--port" ] && port=$a
        prev=$a
    done
    echo "Starting shardis on port $port (Ctrl-C to stop)."
    echo "Connect with:   redis-cli -p $port"
    echo "Benchmark with: redis-benchmark -p $port -q"
    exec "$bin" "${args[@]}" "$@"
fi

command -v redis-cli >/dev/null || {
    echo "redis-cli is needed to form the cluster (Debian: apt-get install redis-tools)" >&2
    exit 1
}
nodes=(127.0.0.10:6371 127.0.0.10:6372 127.0.0.10:6373 127.0.0.11:6374 127.0.0.11:6375 127.0.0.11:6376)
root=$PWD/run/cluster
pids=()
stop() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT TERM

for n in "${nodes[@]}"; do
    ip=${n%:*} port=${n#*:}
    dir=$root/$port
    mkdir -p "$dir/data"
    sed -e "s/\${PORT}/$port/g" -e "s/\${IP}/$ip/g" conf/redis-cluster.tmpl >"$dir/redis.conf"
    echo "dir $dir/data" >>"$dir/redis.conf"
    "$bin" "$dir/redis.conf" >"$dir/node.log" 2>&1 &
    pids+=($!)
done
for n in "${nodes[@]}"; do
    for _ in $(seq 100); do
        redis-cli -a 1234 --no-auth-warning -h "${n%:*}" -p "${n#*:}" ping 2>/dev/null | grep -q PONG && break
        sleep 0.1
    done
done
state=$(redis-cli -a 1234 --no-auth-warning -h 127.0.0.10 -p 6371 cluster info | tr -d '\r' |
    awk -F: '$1 == "cluster_known_nodes" { print $2 }')
if [ "$state" = "1" ]; then
    redis-cli -a 1234 --no-auth-warning --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes
fi
echo
echo "Local cluster up (logs in $root/<port>/node.log; Ctrl-C stops it)."
echo "Connect with:   redis-cli -a 1234 -c -h 127.0.0.10 -p 6371"
echo "Check with:     redis-cli -a 1234 --cluster check 127.0.0.10:6371"
echo "Benchmark with: redis-benchmark -a 1234 --cluster -h 127.0.0.10 -p 6371 -q"
wait
