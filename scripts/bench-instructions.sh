#!/usr/bin/env bash
# Server instructions per request (user space, counted by valgrind's
# callgrind), for builds side by side. Wall-clock CPU on a shared VM
# spreads by ±15% run to run; an instruction count repeats to within a
# few tenths of a per cent, so it settles "is the new build cheaper than
# the old one" where /proc CPU time cannot. It counts instructions, not
# cycles: cache misses and syscall cost are not in it (the kernel's share
# is the same for both builds when their syscalls per request are; check
# with `perf stat -e raw_syscalls:sys_enter`).
#
# Usage: scripts/bench-instructions.sh NEW_BIN [OLD_BIN ...]
#
# Environment (defaults in brackets):
#   N          requests measured per run [100000]
#   PIPELINES  pipeline depths (-P) [1 16 64]
#   TESTS      redis-benchmark tests [get set]
#   KEYSPACE   -r for the prefill and the run [10000]
#   SHARDS     --shards of the server [1]
#
# Each run starts the server under callgrind with instrumentation off,
# prefills KEYSPACE keys (16-byte values), switches instrumentation on,
# runs redis-benchmark -c 50 -P p -n N, switches it off and divides the
# instructions collected by N. Needs valgrind (apt-get install valgrind).
set -euo pipefail

[[ $# -ge 1 ]] || { sed -n '2,22p' "$0"; exit 2; }
N=${N:-100000}
PIPELINES=${PIPELINES:-1 16 64}
TESTS=${TESTS:-get set}
KEYSPACE=${KEYSPACE:-10000}
SHARDS=${SHARDS:-1}
PORT=${PORT:-7190}
for tool in valgrind callgrind_control redis-benchmark redis-cli; do
    command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }
done

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# instructions_per_request BIN TEST P
instructions_per_request() {
    local bin=$1 test=$2 p=$3 dir="$WORK/run" pid
    rm -rf "$dir"
    mkdir -p "$dir"
    valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" --instr-atstart=no \
        "$bin" --port "$PORT" --shards "$SHARDS" --save "" --appendonly no --dir "$dir" \
        >"$dir/log" 2>&1 &
    pid=$!
    for _ in $(seq 1 240); do
        redis-cli -p "$PORT" ping >/dev/null 2>&1 && break
        sleep 0.5
    done
    redis-benchmark -p "$PORT" -t set -r "$KEYSPACE" -n $((KEYSPACE * 2)) -P 16 -c 50 -d 16 -q >/dev/null
    callgrind_control -i on "$pid" >/dev/null
    redis-benchmark -p "$PORT" -t "$test" -r "$KEYSPACE" -n "$N" -P "$p" -c 50 -d 16 -q >/dev/null
    callgrind_control -i off "$pid" >/dev/null
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    # "Collected : <n>": every instruction executed while instrumented.
    awk -v n="$N" '/Collected/ { gsub(",", "", $4); printf "%d", $4 / n }' "$dir/log"
}

printf '| test | P |'
for bin in "$@"; do printf ' %s |' "$(basename "$bin")"; done
[[ $# -ge 2 ]] && printf ' first/second |'
echo
printf '|---|---:|'
for _ in "$@"; do printf -- '---:|'; done
[[ $# -ge 2 ]] && printf -- '---:|'
echo
for p in $PIPELINES; do
    for t in $TESTS; do
        row=()
        for bin in "$@"; do row+=("$(instructions_per_request "$bin" "$t" "$p")"); done
        printf '| %s | %s |' "${t^^}" "$p"
        for v in "${row[@]}"; do printf ' %s |' "$v"; done
        if [[ $# -ge 2 ]]; then
            awk -v a="${row[0]}" -v b="${row[1]}" 'BEGIN { printf " %.3f |", a / b }'
        fi
        echo
    done
done
