#!/usr/bin/env bash
# Persistence side by side, Shardis (--shards 1) and redis-server, each
# pinned to one core with redis-benchmark on another:
#
#  1. SET throughput with the AOF off, appendfsync everysec and always
#     (all on the same disk: the directory under TMPDIR), servers taking
#     turns for every repeat;
#  2. BGSAVE of BGSAVE_KEYS keys: how long the save takes, and GET p99
#     latency while it runs against the same server idle;
#  3. (PARTS=fullsync) a replication full sync of BGSAVE_KEYS keys to an
#     empty redis-server replica: how long it takes, and the primary's GET
#     p99 meanwhile against idle.
#
# Usage: scripts/bench-persistence.sh                 (full run: ~10 minutes)
#        N=50000 R=1 BGSAVE_KEYS=200000 scripts/bench-persistence.sh  (quick)
#
# Environment (defaults in brackets):
#   N            SET requests per redis-benchmark run [1000000]
#   R            repeats; medians are reported [3]
#   PIPELINES    -P values for the SET runs [1 16]
#   CLIENTS      connections [50]
#   KEYSPACE     -r for SET [1000000]
#   DATA_SIZE    value bytes [16]
#   BGSAVE_KEYS  keys loaded before BGSAVE [5000000]
#   GET_N        GET requests of the idle latency run [1000000]
#   SERVER_CPU / BENCH_CPU  cores [0 / 1]
#   BG_CPU       core for the servers' background work [BENCH_CPU]: Shardis
#                is given SERVER_CPU and BG_CPU, pins its one shard to the
#                first and runs its writer threads on the other; redis-server
#                gets server_cpulist SERVER_CPU and bio_cpulist,
#                aof_rewrite_cpulist, bgsave_cpulist BG_CPU
#   PORT_BASE    first port; servers use PORT_BASE..+6 [6420]
#   SKIP_BUILD=1, SHARDIS_BIN  as in bench-vs-redis.sh
#   PARTS        which parts run ["aof bgsave"]; "fullsync" (below) on demand
#   BGSAVE_SERVERS  servers of the BGSAVE and full-sync parts ["shardis redis"]
#
# Output: progress on stderr; Markdown tables on stdout.
set -euo pipefail

N=${N:-1000000}
R=${R:-3}
PIPELINES=${PIPELINES:-"1 16"}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-1000000}
DATA_SIZE=${DATA_SIZE:-16}
BGSAVE_KEYS=${BGSAVE_KEYS:-5000000}
GET_N=${GET_N:-1000000}
SERVER_CPU=${SERVER_CPU:-0}
BENCH_CPU=${BENCH_CPU:-1}
BG_CPU=${BG_CPU:-$BENCH_CPU}
PORT_BASE=${PORT_BASE:-6420}
PARTS=${PARTS:-"aof bgsave"}
BGSAVE_SERVERS=${BGSAVE_SERVERS:-"shardis redis"}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CLK_TCK=$(getconf CLK_TCK)
log() { printf '%s\n' "$*" >&2; }
die() { log "bench-persistence: $*"; exit 1; }
for tool in redis-server redis-cli redis-benchmark taskset awk; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
(( $(nproc) >= 2 )) || { log "warning: one CPU: servers and client share it"; SERVER_CPU=0 BENCH_CPU=0 BG_CPU=0; }
(( SERVER_CPU < BG_CPU || SERVER_CPU == BG_CPU )) || die "SERVER_CPU must be below BG_CPU (Shardis pins its shard to the lowest core it may use)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-persistence.XXXXXX")
declare -A PID=() PORT=()
# shellcheck source=scripts/bench-lib.sh
source "$ROOT/scripts/bench-lib.sh"

find_shardis_bin

# A server named <kind>-<policy>: kind shardis|redis, policy off|everysec|always.
NEXT_PORT=$PORT_BASE
start_server() { # name
    local name=$1 kind=${1%%-*} policy=${1#*-} dir=$TMP/$1 port=$NEXT_PORT
    NEXT_PORT=$((NEXT_PORT + 1))
    port_free "$port" || die "port $port is in use"
    mkdir -p "$dir"
    local aof=(--appendonly no)
    [[ $policy == off ]] || aof=(--appendonly yes --appendfsync "$policy")
    if [[ $kind == shardis ]]; then
        taskset -c "$SERVER_CPU,$BG_CPU" "$BIN" --port "$port" --bind 127.0.0.1 --shards 1 --save '' \
            "${aof[@]}" --dir "$dir" --logfile "$dir/log" &
    else
        taskset -c "$SERVER_CPU,$BG_CPU" redis-server --port "$port" --bind 127.0.0.1 --save '' \
            --server_cpulist "$SERVER_CPU" --bio_cpulist "$BG_CPU" --aof_rewrite_cpulist "$BG_CPU" \
            --bgsave_cpulist "$BG_CPU" "${aof[@]}" --dir "$dir" --logfile "$dir/log" &
    fi
    PID[$name]=$!
    PORT[$name]=$port
    wait_ping "$port" || die "$name did not start (log: $(tail -3 "$dir/log" 2>/dev/null))"
    log "started $name (pid ${PID[$name]}, port $port)"
}

stop_server() { # name
    kill "${PID[$1]}" 2>/dev/null || true
    wait "${PID[$1]}" 2>/dev/null || true
    unset "PID[$1]"
}

# One redis-benchmark run; prints "rps p50 p99".
bench() { # port test n pipeline keyspace
    local out
    out=$(taskset -c "$BENCH_CPU" redis-benchmark -p "$1" -t "$2" -n "$3" -P "$4" -r "$5" \
        -c "$CLIENTS" -d "$DATA_SIZE" --csv 2>"$TMP/bench.err") ||
        die "redis-benchmark on port $1 failed: $(cat "$TMP/bench.err")"
    printf '%s\n' "$out" | awk -F'"' 'NR == 2 { print $4, $10, $14; found = 1 }
        END { if (!found) exit 1 }' || die "unexpected redis-benchmark output: $out"
}

header() {
    printf 'Run %s on %s, %s; %s, shardis %s.\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)" \
        "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" "$(uname -r)" \
        "$(redis-server --version | awk '{ print $3 }')" \
        "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
}

# --- 1. SET with the AOF off / everysec / always ------------------------------------
aof_part() {
    local servers=(shardis-off shardis-everysec shardis-always redis-off redis-everysec redis-always)
    local s p r
    for s in "${servers[@]}"; do start_server "$s"; done
    declare -A RPS=() P50=() P99=()
    for p in $PIPELINES; do
        for r in $(seq 1 "$R"); do
            for s in "${servers[@]}"; do
                log "SET -P $p, $s, run $r/$R"
                read -r rps p50 p99 < <(bench "${PORT[$s]}" set "$N" "$p" "$KEYSPACE")
                RPS[$s/$p]+="$rps " P50[$s/$p]+="$p50 " P99[$s/$p]+="$p99 "
            done
        done
    done
    for s in "${servers[@]}"; do stop_server "$s"; done

    printf '### SET with the AOF: off, everysec, always\n\n'
    header
    printf 'redis-benchmark -t set -n %s -c %s -r %s -d %s, median of %s; servers on core %s (background threads on core %s), client on core %s.\n\n' \
        "$N" "$CLIENTS" "$KEYSPACE" "$DATA_SIZE" "$R" "$SERVER_CPU" "$BG_CPU" "$BENCH_CPU"
    printf '| P | server | appendfsync | ops/s | p50 ms | p99 ms |\n|---:|---|---|---:|---:|---:|\n'
    declare -A MED=()
    for p in $PIPELINES; do
        for s in "${servers[@]}"; do
            # shellcheck disable=SC2086
            MED[$s/$p]=$(median ${RPS[$s/$p]})
            # shellcheck disable=SC2086
            printf '| %s | %s | %s | %.0f | %s | %s |\n' "$p" "${s%%-*}" "${s#*-}" "${MED[$s/$p]}" \
                "$(median ${P50[$s/$p]})" "$(median ${P99[$s/$p]})"
        done
    done
    printf '\n| P | shardis everysec / shardis off | redis everysec / redis off | shardis always / redis always |\n|---:|---:|---:|---:|\n'
    for p in $PIPELINES; do
        awk -v a="${MED[shardis-everysec/$p]}" -v b="${MED[shardis-off/$p]}" \
            -v c="${MED[redis-everysec/$p]}" -v d="${MED[redis-off/$p]}" \
            -v e="${MED[shardis-always/$p]}" -v f="${MED[redis-always/$p]}" -v p="$p" \
            'BEGIN { printf "| %s | %.2f | %.2f | %.2f |\n", p, a / b, c / d, e / f }'
    done
    printf '\n'
}

# --- 2. BGSAVE of many keys under GET load ---------------------------------------------
in_progress() { # port
    redis-cli -p "$1" INFO persistence | awk -F: '/^rdb_bgsave_in_progress:/ { print $2 + 0 }'
}

start_bgsave() { # port
    [[ $(redis-cli -p "$1" BGSAVE) == "Background saving started" ]] || die "BGSAVE refused on $1"
}

# Waits for the BGSAVE to end (polling only now: a poller running during
# the measured load would disturb it); prints the seconds the last save
# took, from the server log's millisecond timestamps of its start and end
# lines (the same in redis-server and Shardis).
bgsave_seconds() { # port log
    while [[ $(in_progress "$1") == 1 ]]; do sleep 0.1; done
    [[ $(redis-cli -p "$1" INFO persistence | awk -F: '/^rdb_last_bgsave_status:/ { print $2 }' | tr -d '\r') == ok ]] ||
        die "BGSAVE failed on $1"
    awk '/Background saving started/ { s = $5 } /Background saving terminated with success/ { e = $5 }
        function secs(t, p) { split(t, p, ":"); return p[1] * 3600 + p[2] * 60 + p[3] }
        END { printf "%.2f\n", secs(e) - secs(s) }' "$2"
}

bgsave_part() {
    local rows=() s
    for s in $BGSAVE_SERVERS; do
        s=$s-off
        start_server "$s"
        local port=${PORT[$s]}
        log "$s: loading $BGSAVE_KEYS keys"
        load_keys_at "$s" "$port" "$BGSAVE_KEYS"
        log "$s: idle GET latency"
        read -r idle_rps _ idle_p99 < <(bench "$port" get "$GET_N" 1 "$BGSAVE_KEYS")
        log "$s: BGSAVE alone"
        local alone
        start_bgsave "$port"
        alone=$(bgsave_seconds "$port" "$TMP/$s/log")
        # GET load sized to last about as long as the save under load (about
        # twice the idle save), started just before it.
        local n
        n=$(awk -v r="$idle_rps" -v t="$alone" 'BEGIN { printf "%d\n", r * t * 2 }')
        (( n >= 10000 )) || n=10000
        log "$s: BGSAVE under $n GETs"
        bench "$port" get "$n" 1 "$BGSAVE_KEYS" >"$TMP/during" &
        local bpid=$!
        sleep 0.2
        start_bgsave "$port"
        wait "$bpid" || die "GET load during BGSAVE failed"
        local loaded
        loaded=$(bgsave_seconds "$port" "$TMP/$s/log")
        read -r during_rps _ during_p99 <"$TMP/during"
        local size
        size=$(stat -c %s "$TMP/$s/dump.rdb")
        rows+=("$(printf '| %s | %s | %s | %s | %.0f | %s | %.0f | %s | %.2f |' "${s%%-*}" "$BGSAVE_KEYS" \
            "$(awk -v b="$size" 'BEGIN { printf "%.0f", b / 1048576 }')" "$alone/$loaded" "$idle_rps" "$idle_p99" \
            "$during_rps" "$during_p99" "$(awk -v a="$during_p99" -v b="$idle_p99" 'BEGIN { print a / b }')")")
        stop_server "$s"
    done
    printf '### BGSAVE of %s keys under GET load\n\n' "$BGSAVE_KEYS"
    header
    printf 'Keys as bench-vs-redis.sh loads them (16-byte names, %s-byte values); GET load: redis-benchmark -t get -P 1 -c %s -r %s; servers on core %s, their background work (Shardis: snapshot writer thread; redis: the fork child) on core %s with the client.\n\n' \
        "$DATA_SIZE" "$CLIENTS" "$BGSAVE_KEYS" "$SERVER_CPU" "$BG_CPU"
    printf '| server | keys | file MiB | save s (alone / under load) | idle GET ops/s | idle p99 ms | GET ops/s during save | p99 ms during save | p99 during / idle |\n'
    printf '|---|---:|---:|---|---:|---:|---:|---:|---:|\n'
    printf '%s\n' "${rows[@]}"
    printf '\n'
}

# --- 3. Replication full sync of many keys under GET load ----------------------------
link_up() { # replica port
    redis-cli -p "$1" INFO replication | grep -q '^master_link_status:up'
}

# Starts an empty redis-server replica of port $2 on $1 and waits until its
# link is up (polling the replica only: the primary is being measured);
# prints the seconds from REPLICAOF to link up.
sync_seconds() { # replica-port primary-port
    local dir=$TMP/replica-$1
    rm -rf "$dir" && mkdir -p "$dir"
    taskset -c "$BG_CPU" redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$dir" --logfile "$dir/log" &
    local rpid=$!
    wait_ping "$1" || die "replica did not start"
    local t0 t1
    t0=$(date +%s.%N)
    redis-cli -p "$1" REPLICAOF 127.0.0.1 "$2" >/dev/null
    until link_up "$1"; do sleep 0.05; done
    t1=$(date +%s.%N)
    kill "$rpid" 2>/dev/null || true
    wait "$rpid" 2>/dev/null || true
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", b - a }'
}

fullsync_part() {
    local rows=() s
    for s in $BGSAVE_SERVERS; do
        s=$s-off
        start_server "$s"
        local port=${PORT[$s]} rport=$((PORT_BASE + 6))
        redis-cli -p "$port" CONFIG SET repl-diskless-sync-delay 0 >/dev/null
        log "$s: loading $BGSAVE_KEYS keys"
        load_keys_at "$s" "$port" "$BGSAVE_KEYS"
        log "$s: idle GET latency"
        read -r idle_rps _ idle_p99 < <(bench "$port" get "$GET_N" 1 "$BGSAVE_KEYS")
        log "$s: full sync alone"
        local alone
        alone=$(sync_seconds "$rport" "$port")
        local n
        n=$(awk -v r="$idle_rps" -v t="$alone" 'BEGIN { printf "%d\n", r * t * 2 }')
        (( n >= 10000 )) || n=10000
        log "$s: full sync under $n GETs"
        bench "$port" get "$n" 1 "$BGSAVE_KEYS" >"$TMP/during" &
        local bpid=$!
        sleep 0.2
        local loaded
        loaded=$(sync_seconds "$rport" "$port")
        wait "$bpid" || die "GET load during the full sync failed"
        read -r during_rps _ during_p99 <"$TMP/during"
        rows+=("$(printf '| %s | %s | %s | %.0f | %s | %.0f | %s | %.2f |' "${s%%-*}" "$BGSAVE_KEYS" \
            "$alone/$loaded" "$idle_rps" "$idle_p99" "$during_rps" "$during_p99" \
            "$(awk -v a="$during_p99" -v b="$idle_p99" 'BEGIN { print a / b }')")")
        stop_server "$s"
    done
    printf '### Replication full sync of %s keys under GET load\n\n' "$BGSAVE_KEYS"
    header
    printf 'Primary (diskless sync, delay 0) on core %s, its background work on core %s; the replica is an empty redis-server 7.0 on core %s; sync time from REPLICAOF to master_link_status:up; GET load as in the BGSAVE table, on core %s.\n\n' \
        "$SERVER_CPU" "$BG_CPU" "$BG_CPU" "$BENCH_CPU"
    printf '| primary | keys | sync s (alone / under load) | idle GET ops/s | idle p99 ms | GET ops/s during sync | p99 ms during sync | p99 during / idle |\n'
    printf '|---|---:|---|---:|---:|---:|---:|---:|\n'
    printf '%s\n' "${rows[@]}"
    printf '\n'
}

for part in $PARTS; do
    case $part in
    aof) aof_part ;;
    bgsave) bgsave_part ;;
    fullsync) fullsync_part ;;
    *) die "unknown part $part" ;;
    esac
done
