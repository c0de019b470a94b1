#!/usr/bin/env bash
# redis-benchmark --cluster against two three-master clusters side by side:
# Shardis nodes (--shards 1 each) and redis-server 7.0 nodes, same shape,
# all server processes on SERVER_CPU, redis-benchmark on BENCH_CPU. Runs
# redis-benchmark's default test set (--csv) R times per cluster,
# alternating, and prints the median requests/s per test and the ratio.
#
# Usage: scripts/bench-cluster.sh      (a few minutes)
# Environment: REQUESTS [100000] CLIENTS [50] PIPELINE [1] R [3]
#   SERVER_CPU [0] BENCH_CPU [1] PORT_BASE [7460] SKIP_BUILD=1 SHARDIS_BIN
set -euo pipefail

REQUESTS=${REQUESTS:-100000}
CLIENTS=${CLIENTS:-50}
PIPELINE=${PIPELINE:-1}
R=${R:-3}
SERVER_CPU=${SERVER_CPU:-0}
BENCH_CPU=${BENCH_CPU:-1}
PORT_BASE=${PORT_BASE:-7460}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
log() { printf '%s\n' "$*" >&2; }
die() { log "bench-cluster: $*"; exit 1; }
for tool in redis-server redis-cli redis-benchmark taskset; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-cluster.XXXXXX")
declare -A PID=()
# shellcheck source=scripts/bench-lib.sh
source "$ROOT/scripts/bench-lib.sh"
find_shardis_bin

# start_cluster name prog port... : three masters, formed by redis-cli.
start_cluster() {
    local name=$1 prog=$2; shift 2
    local addrs=()
    for port in "$@"; do
        port_free "$port" || die "port $port is taken"
        port_free $((port + 10000)) || die "port $((port + 10000)) is taken"
        local dir="$TMP/$name-$port"
        mkdir -p "$dir"
        local extra=()
        [[ $prog == "$BIN" ]] && extra=(--shards 1)
        (cd "$dir" && taskset -c "$SERVER_CPU" "$prog" --port "$port" --cluster-enabled yes \
            --cluster-node-timeout 15000 --save '' --appendonly no --dir "$dir" \
            "${extra[@]}" >"$dir/log" 2>&1 &
         echo $! >"$dir/pid")
        sleep 0.2
        PID[$name-$port]=$(cat "$dir/pid")
        wait_ping "$port"
        addrs+=("127.0.0.1:$port")
    done
    redis-cli --cluster create "${addrs[@]}" --cluster-yes >"$TMP/$name-create.log" 2>&1 ||
        die "$name: cluster create failed (see $TMP/$name-create.log)"
    for port in "$@"; do
        for _ in $(seq 100); do
            redis-cli -p "$port" cluster info | grep -q 'cluster_state:ok' && break
            sleep 0.1
        done
    done
}

start_cluster shardis "$BIN" "$PORT_BASE" $((PORT_BASE + 1)) $((PORT_BASE + 2))
start_cluster redis "$(command -v redis-server)" $((PORT_BASE + 3)) $((PORT_BASE + 4)) $((PORT_BASE + 5))

declare -A RPS=()
for round in $(seq "$R"); do
    for name in shardis redis; do
        port=$PORT_BASE
        [[ $name == redis ]] && port=$((PORT_BASE + 3))
        redis-cli -p "$port" flushall >/dev/null 2>&1 || true
        log "round $round: $name"
        out=$(taskset -c "$BENCH_CPU" redis-benchmark --cluster -p "$port" -n "$REQUESTS" \
            -c "$CLIENTS" -P "$PIPELINE" --csv 2>&1) || die "$name: redis-benchmark failed: $out"
        if grep -qiE '(^|[^a-z])(err|error)[^a-z]' <<<"$out"; then
            die "$name: redis-benchmark saw errors: $out"
        fi
        while IFS=, read -r test rps _; do
            test=${test//\"/}
            rps=${rps//\"/}
            [[ $test == test || -z $rps ]] && continue
            RPS[$name|$test]+="$rps "
        done <<<"$out"
    done
done

printf '| test | shardis req/s | redis-server req/s | ratio |\n|---|---:|---:|---:|\n'
mapfile -t tests < <(for k in "${!RPS[@]}"; do echo "${k#*|}"; done | sort -u)
for test in "${tests[@]}"; do
    # shellcheck disable=SC2086
    s=$(median ${RPS[shardis|$test]:-0})
    # shellcheck disable=SC2086
    r=$(median ${RPS[redis|$test]:-0})
    ratio=$(awk -v a="$s" -v b="$r" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
    printf '| %s | %.0f | %.0f | %s× |\n' "$test" "$s" "$r" "$ratio"
done
