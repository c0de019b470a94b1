#!/usr/bin/env bash
# A CPU flame graph of a server under redis-benchmark: perf samples the
# server's threads (user and kernel, DWARF call graphs) while
# `redis-benchmark -t TEST -P P` runs, and inferno draws the SVG.
#
# Usage: scripts/flamegraph.sh TEST P OUT.svg [SERVER_BIN]
#   scripts/flamegraph.sh get 1 docs/flamegraphs/get-p1.svg
#   scripts/flamegraph.sh get 16 /tmp/redis-get-p16.svg /usr/bin/redis-server
#
# Environment (defaults in brackets): N requests [2000000], CLIENTS [50],
# KEYSPACE [100000] (prefilled), DATA_SIZE value bytes [16], SAMPLE_SECONDS [4],
# FREQ samples per second [499], SERVER_CPU [0], BENCH_CPU [1],
# PORT [6470], SKIP_BUILD=1, FOLDED=path (keep the folded stacks).
# Needs perf (linux-perf) and inferno (`cargo install inferno`).
set -euo pipefail

TEST=${1:?usage: scripts/flamegraph.sh TEST P OUT.svg [SERVER_BIN]}
PIPELINE=${2:?pipeline depth}
OUT=${3:?output svg}
N=${N:-2000000}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
SECONDS_SAMPLED=${SAMPLE_SECONDS:-4}
FREQ=${FREQ:-499}
SERVER_CPU=${SERVER_CPU:-0}
BENCH_CPU=${BENCH_CPU:-1}
PORT=${PORT:-6470}
DATA_SIZE=${DATA_SIZE:-16}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CLK_TCK=$(getconf CLK_TCK)
log() { printf '%s\n' "$*" >&2; }
die() { log "flamegraph: $*"; exit 1; }
for tool in perf inferno-collapse-perf inferno-flamegraph redis-benchmark redis-cli taskset; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
TMP=$(mktemp -d "${TMPDIR:-/tmp}/flamegraph.XXXXXX")
declare -A PID=()
# shellcheck source=scripts/bench-lib.sh
source "$ROOT/scripts/bench-lib.sh"
if [[ -n ${4:-} ]]; then
    BIN=$4
else
    find_shardis_bin
fi

port_free "$PORT" || die "port $PORT is in use"
if [[ $(basename "$BIN") == shardis-server ]]; then
    taskset -c "$SERVER_CPU" "$BIN" --port "$PORT" --bind 127.0.0.1 --shards 1 --save '' \
        --appendonly no --logfile "$TMP/log" &
else
    taskset -c "$SERVER_CPU" "$BIN" --port "$PORT" --bind 127.0.0.1 --save '' \
        --appendonly no --logfile "$TMP/log" &
fi
PID[server]=$!
wait_ping "$PORT" || die "server did not start"
load_keys_at server "$PORT" "$KEYSPACE"

taskset -c "$BENCH_CPU" redis-benchmark -p "$PORT" -t "$TEST" -n "$N" -P "$PIPELINE" \
    -c "$CLIENTS" -r "$KEYSPACE" -d "$DATA_SIZE" -q >"$TMP/bench" 2>&1 &
bench=$!
sleep 1
perf record -F "$FREQ" --call-graph dwarf,16384 -p "${PID[server]}" -o "$TMP/perf.data" \
    -- sleep "$SECONDS_SAMPLED" >/dev/null 2>"$TMP/perf.err" || die "perf record: $(tail -2 "$TMP/perf.err")"
tail -1 "$TMP/perf.err" >&2
kill "$bench" 2>/dev/null || log "redis-benchmark ended early: $(tail -c 300 "$TMP/bench")"
wait "$bench" 2>/dev/null || true
mkdir -p "$(dirname "$OUT")"
perf script -i "$TMP/perf.data" 2>/dev/null | inferno-collapse-perf --all >"$TMP/folded"
title="$(basename "$BIN") $TEST -P $PIPELINE -c $CLIENTS (server pinned to core $SERVER_CPU)"
inferno-flamegraph --title "$title" --width 1200 <"$TMP/folded" >"$OUT"
[[ -n ${FOLDED:-} ]] && cp "$TMP/folded" "$FOLDED"
# User/kernel split of the samples, for the text beside the graph.
awk '{ n = $NF; total += n; if ($0 ~ /_\[k\]/ || $0 ~ /\[kernel/) k += n }
    END { if (total) printf "kernel %.0f%% of the samples\n", 100 * k / total }' "$TMP/folded" >&2
log "wrote $OUT"
