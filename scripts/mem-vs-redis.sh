#!/usr/bin/env bash
# Memory per element of big collections, of many small hashes and of many
# small strings: shardis (--shards SHARDS) against redis-server 7.0, loaded
# with the same data in the same run. The figure is the growth of the process's resident set
# (VmRSS) while loading, divided by the number of elements (or keys).
#
# Usage: scripts/mem-vs-redis.sh                 (1M elements per case)
#        M=100000 scripts/mem-vs-redis.sh        (a quick check)
#
# Environment: M elements per collection and small-hash count [1000000],
# SHARDIS_PORT [6415], REDIS_PORT [6416], SHARDIS_BIN (skip the build),
# SHARDS [1], CASES ["set hash zset list small-hashes strings"].
# strings: M keys key:<12 digits> with 16-byte values (SET), as
# scripts/bench-vs-redis.sh loads them for its memory figure.
#
# Before each measurement both servers get one throw-away key of the same
# type with 1000 elements, deleted again, so one-time allocations (argument
# vectors, first table of a kind) are not charged to the data.
# Output: a Markdown table on stdout; progress on stderr.
set -euo pipefail

M=${M:-1000000}
SHARDIS_PORT=${SHARDIS_PORT:-6415}
REDIS_PORT=${REDIS_PORT:-6416}
CASES=${CASES:-"set hash zset list small-hashes strings"}
SHARDS=${SHARDS:-1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)

log() { printf '%s\n' "$*" >&2; }
for tool in redis-server redis-cli awk; do
    command -v "$tool" >/dev/null || { log "$tool not found"; exit 1; }
done

if [ -z "${SHARDIS_BIN:-}" ]; then
    log "building shardis (release)..."
    (cd "$ROOT" && cargo build --release --quiet)
    SHARDIS_BIN=$ROOT/target/release/shardis-server
fi

WORK=$(mktemp -d /tmp/mem-vs-redis.XXXXXX)
pids=()
cleanup() {
    stop_servers
    rm -rf "$WORK"
}
trap cleanup EXIT

# Fresh servers for every case, so memory freed by an earlier case is not
# reused by a later one.
start_servers() {
    "$SHARDIS_BIN" --port "$SHARDIS_PORT" --bind 127.0.0.1 --shards "$SHARDS" --save '' \
        --dir "$WORK" >"$WORK/shardis.log" 2>&1 &
    shardis_pid=$!
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$WORK" >"$WORK/redis.log" 2>&1 &
    redis_pid=$!
    pids=("$shardis_pid" "$redis_pid")
    for port in "$SHARDIS_PORT" "$REDIS_PORT"; do
        for _ in $(seq 100); do
            redis-cli -p "$port" ping >/dev/null 2>&1 && break
            sleep 0.05
        done
    done
}
stop_servers() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pids=()
}

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# RESP for the commands of one case, elements FROM..TO-1, into key KEY.
# Big collections go in commands of 1000 elements.
commands() {
    local kind=$1 key=$2 from=$3 to=$4
    awk -v kind="$kind" -v key="$key" -v from="$from" -v to="$to" '
    function bulk(s) { printf "$%d\r\n%s\r\n", length(s), s }
    BEGIN {
        for (i = from; i < to; i += 1000) {
            end = (i + 1000 < to) ? i + 1000 : to
            n = end - i
            if (kind == "strings") {
                for (j = i; j < end; j++) {
                    printf "*3\r\n"; bulk("SET"); bulk(sprintf("key:%012d", j))
                    bulk(sprintf("%016d", j))
                }
                continue
            }
            if (kind == "small-hashes") {
                for (j = i; j < end; j++) {
                    printf "*22\r\n"; bulk("HSET"); bulk(key ":" j)
                    for (f = 0; f < 10; f++) { bulk("field" f); bulk("value:" j) }
                }
                continue
            }
            if (kind == "set") { printf "*%d\r\n", 2 + n; bulk("SADD") }
            if (kind == "list") { printf "*%d\r\n", 2 + n; bulk("RPUSH") }
            if (kind == "hash") { printf "*%d\r\n", 2 + 2 * n; bulk("HSET") }
            if (kind == "zset") { printf "*%d\r\n", 2 + 2 * n; bulk("ZADD") }
            bulk(key)
            for (j = i; j < end; j++) {
                if (kind == "zset") bulk(j)
                bulk("element:" j)
                if (kind == "hash") bulk("value:" j)
            }
        }
    }'
}

load() { commands "$@" | redis-cli -p "$port" --pipe >/dev/null; }

measure() {
    local kind=$1 port=$2 pid=$3
    # Warm-up key, then the baseline.
    load "$kind" warmup 0 1000
    if [ "$kind" = small-hashes ] || [ "$kind" = strings ]; then
        redis-cli -p "$port" flushall >/dev/null
    else
        redis-cli -p "$port" del warmup >/dev/null
    fi
    sleep 0.2
    local before after
    before=$(rss_kib "$pid")
    load "$kind" data 0 "$M"
    sleep 0.2
    after=$(rss_kib "$pid")
    awk -v a="$after" -v b="$before" -v m="$M" 'BEGIN { printf "%.1f", (a - b) * 1024 / m }'
}

printf '%s elements per collection (small hashes: %s keys of 10 fields; strings: %s keys of 16 bytes, 16-byte values); shardis --shards %s; RSS growth per element (per key for small hashes and strings).\n\n' "$M" "$M" "$M" "$SHARDS"
printf '| case | shardis bytes | redis bytes | shardis/redis |\n|---|---:|---:|---:|\n'
for kind in $CASES; do
    start_servers
    log "$kind: shardis..."
    s=$(port=$SHARDIS_PORT measure "$kind" "$SHARDIS_PORT" "$shardis_pid")
    log "$kind: redis..."
    r=$(port=$REDIS_PORT measure "$kind" "$REDIS_PORT" "$redis_pid")
    ratio=$(awk -v s="$s" -v r="$r" 'BEGIN { printf "%.2f", s / r }')
    printf '| %s | %s | %s | %s |\n' "$kind" "$s" "$r" "$ratio"
    stop_servers
done
