#!/usr/bin/env bash
# Server CPU per request of 10-key MGET and MSET: keys spread over every
# shard ("spread") and keys in one slot ("one slot", a {hash tag}), for
# shardis at several shard counts and redis-server, in the same run. The
# server is pinned to one core and redis-benchmark to another; the servers
# take turns per (test, pipeline) pair, and each figure is the median of R
# runs of N requests.
#
# Usage: scripts/bench-multikey.sh                 (N=200000 R=3)
#        N=50000 R=1 SHARDS="1 4" scripts/bench-multikey.sh
#
# Environment: N, R, SHARDS ["1 2 4"], PIPELINES ["1 16"], CLIENTS [50],
# SERVER_CPU [0], BENCH_CPU [1], SHARDIS_BIN / SKIP_BUILD=1, BINS (extra
# shardis binaries to compare, as name=path pairs, e.g. "old=/tmp/old").
# Output: a Markdown table on stdout (µs of server CPU per request).
set -euo pipefail

N=${N:-200000}
R=${R:-3}
SHARDS=${SHARDS:-"1 2 4"}
PIPELINES=${PIPELINES:-"1 16"}
CLIENTS=${CLIENTS:-50}
SERVER_CPU=${SERVER_CPU:-0}
BENCH_CPU=${BENCH_CPU:-1}
DATA_SIZE=16
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CLK_TCK=$(getconf CLK_TCK)
TMP=$(mktemp -d)
declare -A PID PORT
log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
# shellcheck source=bench-lib.sh
source "$ROOT/scripts/bench-lib.sh"
find_shardis_bin

# Ten keys on ten different slots (so on every shard at 2 and 4 shards,
# slot % shards spread), and ten keys of one slot.
SPREAD=(k:0 k:1 k:2 k:3 k:4 k:5 k:6 k:7 k:8 k:9)
ONE=("{t}0" "{t}1" "{t}2" "{t}3" "{t}4" "{t}5" "{t}6" "{t}7" "{t}8" "{t}9")

start() { # name port cmd...
    local name=$1 port=$2
    shift 2
    taskset -c "$SERVER_CPU" "$@" --port "$port" --save "" --dir "$TMP" >"$TMP/$name.log" 2>&1 &
    PID[$name]=$!
    PORT[$name]=$port
    wait_ping "$port" || die "$name did not start: $(tail -3 "$TMP/$name.log")"
}

port=6450
names=()
for n in $SHARDS; do
    start "shardis-$n" $port "$BIN" --shards "$n"
    names+=("shardis-$n")
    port=$((port + 1))
done
for pair in ${BINS:-}; do
    for n in $SHARDS; do
        start "${pair%%=*}-$n" $port "${pair#*=}" --shards "$n"
        names+=("${pair%%=*}-$n")
        port=$((port + 1))
    done
done
start redis $port redis-server --appendonly no
names+=(redis)

# Values for every key, so MGET reads real strings.
for name in "${names[@]}"; do
    for k in "${SPREAD[@]}" "${ONE[@]}"; do redis-cli -p "${PORT[$name]}" SET "$k" vvvvvvvvvvvvvvvv >/dev/null; done
done

cpu_per_req() { # name pipeline args...
    local name=$1 p=$2 pid
    shift 2
    pid=${PID[$name]}
    local before after
    before=$(cpu_ns "$pid")
    taskset -c "$BENCH_CPU" redis-benchmark -p "${PORT[$name]}" -c "$CLIENTS" -n "$N" -P "$p" -q "$@" >/dev/null
    after=$(cpu_ns "$pid")
    awk -v a="$after" -v b="$before" -v n="$N" 'BEGIN { printf "%.2f", (a - b) / n / 1000 }'
}

header="| request | P |"
rule="|---|---|"
for name in "${names[@]}"; do
    header="$header $name |"
    rule="$rule---|"
done
echo "$header"
echo "$rule"
for test in "MGET spread" "MGET one slot" "MSET spread" "MSET one slot"; do
    read -r cmd where <<<"$test"
    if [[ $where == spread ]]; then keys=("${SPREAD[@]}"); else keys=("${ONE[@]}"); fi
    args=("$cmd")
    for k in "${keys[@]}"; do
        args+=("$k")
        [[ $cmd == MSET ]] && args+=(vvvvvvvvvvvvvvvv)
    done
    for p in $PIPELINES; do
        row="| $test | $p |"
        for name in "${names[@]}"; do
            vals=()
            for _ in $(seq "$R"); do vals+=("$(cpu_per_req "$name" "$p" "${args[@]}")"); done
            row="$row $(median "${vals[@]}") |"
        done
        echo "$row"
        log "$row"
    done
done
