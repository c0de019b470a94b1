#!/usr/bin/env bash
# PUBLISH fan-out, Shardis (--shards SHARDS) and redis-server side by side:
# SUBSCRIBERS connections subscribe to one channel, one connection
# publishes MESSAGES pipelined PUBLISHes, and examples/pubsub_fanout.rs
# counts messages delivered per second at the subscribers. Servers on
# SERVER_CPU (Shardis may also use BG_CPU for background threads; with
# SHARDS=2 both cores hold shards), the load generator on BENCH_CPU.
#
# Usage: scripts/bench-pubsub.sh      (about a minute)
# Environment: SUBSCRIBERS [100] MESSAGES [20000] PIPELINE [16] PAYLOAD [16]
#   R repeats, median reported [5]  SHARDS [1]  SERVER_CPU [0] BENCH_CPU [1]
#   PORT_BASE [6440]  SKIP_BUILD=1  SHARDIS_BIN
set -euo pipefail

SUBSCRIBERS=${SUBSCRIBERS:-100}
MESSAGES=${MESSAGES:-20000}
PIPELINE=${PIPELINE:-16}
PAYLOAD=${PAYLOAD:-16}
R=${R:-5}
SHARDS=${SHARDS:-1}
SERVER_CPU=${SERVER_CPU:-0}
BENCH_CPU=${BENCH_CPU:-1}
PORT_BASE=${PORT_BASE:-6440}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
log() { printf '%s\n' "$*" >&2; }
die() { log "bench-pubsub: $*"; exit 1; }
for tool in redis-server redis-cli taskset; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-pubsub.XXXXXX")
declare -A PID=()
# shellcheck source=scripts/bench-lib.sh
source "$ROOT/scripts/bench-lib.sh"

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    log "building shardis and the load generator (release)..."
    (cd "$ROOT" && cargo build --release --quiet --bin shardis-server --example pubsub_fanout)
fi
BIN=${SHARDIS_BIN:-$ROOT/target/release/shardis-server}
GEN=$ROOT/target/release/examples/pubsub_fanout
[[ -x $BIN && -x $GEN ]] || die "build shardis-server and the pubsub_fanout example first"

SPORT=$PORT_BASE RPORT=$((PORT_BASE + 1))
port_free "$SPORT" && port_free "$RPORT" || die "ports $SPORT/$RPORT in use"
mkdir -p "$TMP/shardis" "$TMP/redis"
cpus=$SERVER_CPU
(( SERVER_CPU == BENCH_CPU )) || cpus="$SERVER_CPU,$BENCH_CPU"
taskset -c "$cpus" "$BIN" --port "$SPORT" --bind 127.0.0.1 --shards "$SHARDS" --save '' \
    --dir "$TMP/shardis" --logfile "$TMP/shardis/log" &
PID[shardis]=$!
taskset -c "$cpus" redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
    --server_cpulist "$SERVER_CPU" --dir "$TMP/redis" --logfile "$TMP/redis/log" &
PID[redis]=$!
wait_ping "$SPORT" || die "shardis did not start"
wait_ping "$RPORT" || die "redis-server did not start"

declare -A RATE=()
for r in $(seq 1 "$R"); do
    for name in shardis redis; do
        port=$SPORT
        [[ $name == redis ]] && port=$RPORT
        out=$(taskset -c "$BENCH_CPU" "$GEN" "$port" "$SUBSCRIBERS" "$MESSAGES" "$PIPELINE" "$PAYLOAD") ||
            die "$name: $out"
        rate=${out##*delivered_per_sec=}
        log "run $r/$R $name: $out"
        RATE[$name]+="$rate "
    done
done

printf '### PUBLISH fan-out to %s subscribers\n\n' "$SUBSCRIBERS"
printf 'Run %s; %s, shardis %s (--shards %s).\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)" \
    "$(redis-server --version | awk '{ print $3 }')" "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')" "$SHARDS"
printf '%s PUBLISHes of %s bytes, pipelined %s deep, median of %s; servers on core %s, load generator on core %s.\n\n' \
    "$MESSAGES" "$PAYLOAD" "$PIPELINE" "$R" "$SERVER_CPU" "$BENCH_CPU"
printf '| server | messages delivered/s |\n|---|---:|\n'
# shellcheck disable=SC2086
s=$(median ${RATE[shardis]})
# shellcheck disable=SC2086
d=$(median ${RATE[redis]})
printf '| shardis | %.0f |\n| redis | %.0f |\n\n' "$s" "$d"
awk -v a="$s" -v b="$d" 'BEGIN { printf "shardis / redis: %.2f\n\n", a / b }'
