#!/usr/bin/env bash
# Resident memory per idle client connection: shardis and redis-server 7.0
# in the same run. N connections each send one PING and read the PONG;
# the figure is the growth of the server's VmRSS divided by N.
#
# Usage: scripts/conn-mem.sh            (N=10000)
#        N=5000 SHARDS=4 scripts/conn-mem.sh
# Environment: SHARDIS_BIN (skip the build), SHARDS [1], N [10000].
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-10000}
SHARDS=${SHARDS:-1}
if [ -z "${SHARDIS_BIN:-}" ]; then
    (cd "$ROOT" && cargo build --release --quiet --bin shardis-server)
    SHARDIS_BIN=$ROOT/target/release/shardis-server
fi
# Both servers and the client need N + a few descriptors.
ulimit -n $((N + 1000)) 2>/dev/null || { echo "ulimit -n $((N + 1000)) refused" >&2; exit 1; }
WORK=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
"$SHARDIS_BIN" --port 23091 --save "" --shards "$SHARDS" --maxclients $((N + 100)) \
    --dir "$WORK" --logfile "$WORK/shardis.log" &
pids+=($!); spid=$!
redis-server --port 23092 --save "" --appendonly no --maxclients $((N + 100)) \
    --dir "$WORK" --logfile "$WORK/redis.log" --daemonize no &
pids+=($!); rpid=$!
for p in 23091 23092; do
    for _ in $(seq 50); do redis-cli -p $p ping >/dev/null 2>&1 && break; sleep 0.1; done
done
echo "| server | connections | bytes of RSS per connection (0.5 s) | (4 s) |"
echo "|---|---|---|---|"
for s in "shardis(shards=$SHARDS) 23091 $spid" "redis-server 23092 $rpid"; do
    set -- $s
    line=$(python3 "$ROOT/scripts/conn-mem.py" "$2" "$3" "$N")
    per=$(echo "$line" | grep -o '[0-9]* bytes per' | grep -o '[0-9]*' | paste -sd'|')
    echo "| $1 | $N | ${per//|/ | } |"
done
