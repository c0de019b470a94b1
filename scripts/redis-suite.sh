#!/usr/bin/env bash
# Redis 7.0's own Tcl test suite, run against Shardis (and against
# redis-server 7.0 for the reference figures).
#
# The suite comes from Debian's `redis` source package (apt-get source;
# deb-src is enabled for the host's own Debian sources), unpacked once into
# $SUITE_DIR; only what the harness needs is kept. Every unit runs as its
# own `runtest --single` so an exception ends that unit only.
#
#   scripts/redis-suite.sh                       # the CI gate (see below)
#   scripts/redis-suite.sh --full                # every mode, both servers,
#                                                #   table into docs/compatibility.md
#   scripts/redis-suite.sh --mode external --shards 4 --units "unit/type/list"
#   scripts/redis-suite.sh --server redis --mode external
#
# Modes:
#   external  a running server (started here with the harness's external
#             settings), every unit of test_helper's list; tests tagged
#             external:skip are skipped by the harness.
#   full      the harness starts the server itself as its src/redis-server
#             (tests/assets/default.conf, replicas, restarts, DEBUG).
#
# The gate (the default, what CI runs): external mode at shards 1 and 4 and
# full mode at shards 1 for $GATE_FULL_UNITS, Shardis only; fails on a failing test not
# in tests/redis-suite/expected-failures.txt and on a listed test that
# passes (remove it: the list only shrinks). scripts/redis-suite-expected.py
# writes the list from a gate run's results.
#
# Output: results/<server>-<mode>[-shardsN]/<unit>.log and a summary per
# run; with --full also the ours-vs-Redis table.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SUITE_DIR=${SUITE_DIR:-$ROOT/target/redis-suite}
RESULTS=${RESULTS:-$SUITE_DIR/results}
EXPECTED=$ROOT/tests/redis-suite/expected-failures.txt
NEEDS_MISSING=$ROOT/tests/redis-suite/needs-missing.txt
ORDER_DEPENDENT=$ROOT/tests/redis-suite/order-dependent.txt
JOBS=${JOBS:-2}
# Below the kernel's ephemeral range (32768-60999) with the cluster bus
# ports (+10000) too: an outgoing connection's local port there would make
# a test server's bind fail with "Address already in use".
PORT_BASE=${PORT_BASE:-11000}
# Full-mode units the gate runs (the rest run with --full): a few that
# start, restart and reload servers, within CI's time.
GATE_FULL_UNITS=${GATE_FULL_UNITS:-unit/type/incr unit/expire unit/keyspace unit/info unit/multi unit/other}

log() { printf '==> %s\n' "$*" >&2; }

# --- obtaining the suite -------------------------------------------------

enable_deb_src() {
    local d=/etc/apt/sources.list.d out=/etc/apt/sources.list.d/shardis-deb-src.sources
    [ -f "$out" ] && return 0
    local tmp
    tmp=$(mktemp)
    # deb822 files: the same stanzas with Types: deb-src.
    for f in "$d"/*.sources; do
        [ -f "$f" ] || continue
        [ "$f" = "$out" ] && continue
        sed -n 's/^Types:.*\bdeb\b.*$/Types: deb-src/;p' "$f" >>"$tmp"
        echo >>"$tmp"
    done
    # One-line sources: deb -> deb-src, as a .list beside it.
    if [ -f /etc/apt/sources.list ]; then
        sed -n 's/^deb \(.*\)$/deb-src \1/p' /etc/apt/sources.list >"${out%.sources}.list"
    fi
    $SUDO cp "$tmp" "$out"
    rm -f "$tmp"
    $SUDO apt-get update -qq
}

fetch_suite() {
    [ -x "$SUITE_DIR/src/runtest" ] && return 0
    command -v tclsh >/dev/null || missing_pkgs+=(tcl)
    command -v dpkg-source >/dev/null || missing_pkgs+=(dpkg-dev)
    if [ "${#missing_pkgs[@]}" -gt 0 ]; then
        log "installing ${missing_pkgs[*]}"
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing_pkgs[@]}" >/dev/null
    fi
    enable_deb_src
    local dl
    dl=$(mktemp -d)
    log "fetching Debian's redis source package"
    # The source of the redis-server package installed here (7.0.x).
    (cd "$dl" && apt-get source --download-only redis-server >/dev/null 2>&1 ||
        apt-get source --download-only redis >/dev/null)
    (cd "$dl" && dpkg-source -x ./*.dsc src >/dev/null)
    rm -rf "$SUITE_DIR/src"
    mkdir -p "$SUITE_DIR/src/src"
    cp -r "$dl/src/tests" "$dl/src/runtest" "$SUITE_DIR/src/"
    cp "$dl/src/redis.conf" "$SUITE_DIR/src/" 2>/dev/null || true
    mkdir -p "$SUITE_DIR/src/utils"
    cp -r "$dl/src/utils/"*.sh "$SUITE_DIR/src/utils/" 2>/dev/null || true
    rm -rf "$dl"
    for tool in redis-cli redis-benchmark redis-check-aof redis-check-rdb; do
        ln -sf "$(command -v $tool || echo /usr/bin/$tool)" "$SUITE_DIR/src/src/$tool"
    done
    log "suite in $SUITE_DIR/src"
}

# --- running -------------------------------------------------------------

units_of_helper() {
    # test_helper.tcl's ::all_tests list, in order.
    awk '/^set ::all_tests \{/{f=1;next} f&&/^\}/{exit} f{gsub(/^[ \t]+|[ \t]+$/,""); if($0!="") print}' \
        "$SUITE_DIR/src/tests/test_helper.tcl"
}

server_bin() {
    case $1 in
        shardis) echo "$SHARDIS_BIN" ;;
        redis) command -v redis-server ;;
    esac
}

# Starts the external server for a run; prints its pid.
start_external() {
    local server=$1 shards=$2 port=$3 dir=$4
    local args=(--port "$port" --save "" --dir "$dir" --logfile "$dir/server.log"
        --enable-debug-command yes --enable-protected-configs yes --enable-module-command yes)
    [ "$server" = shardis ] && args+=(--shards "$shards")
    # A leftover on the port would answer for the new server.
    if redis-cli -p "$port" ping >/dev/null 2>&1; then
        echo "port $port is busy" >&2
        return 1
    fi
    "$(server_bin "$server")" "${args[@]}" >"$dir/server.out" 2>&1 &
    local pid=$!
    for _ in $(seq 100); do
        redis-cli -p "$port" ping >/dev/null 2>&1 && { echo "$pid"; return 0; }
        sleep 0.1
    done
    echo "server $server did not start on $port: $(head -c 500 "$dir/server.out")" >&2
    return 1
}

# Stops a server and waits until it is gone (it is not our child).
stop_pid() {
    kill "$1" 2>/dev/null || return 0
    for _ in $(seq 100); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$1" 2>/dev/null || true
    sleep 0.2
}

# Runs one unit; writes its log. $1=server $2=mode $3=shards $4=unit $5=outdir $6=slot
run_unit() {
    local server=$1 mode=$2 shards=$3 unit=$4 out=$5 slot=$6
    local logf="$out/${unit//\//_}.log" work
    work=$(mktemp -d "$SUITE_DIR/work.XXXXXX")
    cp -r "$SUITE_DIR/src/." "$work/"
    mkdir -p "$work/tests/tmp"
    local baseport=$((PORT_BASE + 1000 + slot * 600))
    local args=(--single "$unit" --clients 1 --timeout 150 --baseport "$baseport" --portcount 500)
    # Tests needing a feature Shardis lacks are skipped, so their unit
    # runs on (tests/redis-suite/needs-missing.txt).
    if [ "$server" = shardis ]; then
        grep -v -E '^\s*(#|$|@|%|\[shards>1\])' "$NEEDS_MISSING" | sed 's/ \{1,\}# .*$//' >"$work/skip.txt"
        # "%unit: old => new" lines rewrite a statement of the unit that
        # needs a missing feature (unit/scripting's FUNCTION pass).
        local rewrites
        mapfile -t rewrites < <(grep -E "^%$unit: " "$NEEDS_MISSING" | sed -e "s|^%$unit: ||" -e 's/ \{1,\}# .*$//')
        local rw
        for rw in "${rewrites[@]}"; do
            OLD="${rw%% => *}" NEW="${rw#* => }" perl -0pi -e 's/\Q$ENV{OLD}\E/$ENV{NEW}/g' "$work/tests/$unit.tcl"
        done
        # Set-up statements outside any test that need such a feature
        # ("@unit: start" lines) are wrapped in catch: the skipfile skips
        # tests only, and their error would stop the unit.
        local starts
        mapfile -t starts < <(grep -E "^@$unit: " "$NEEDS_MISSING" | sed -e "s|^@$unit: ||" -e 's/ \{1,\}# .*$//')
        if [ "${#starts[@]}" -gt 0 ]; then
            "$ROOT/scripts/redis-suite-catch.py" "$work/tests/$unit.tcl" "${starts[@]}" 2>"$logf" || {
                sed -i 's/^/[exception]: /' "$logf"
                rm -rf "$work"
                return
            }
        fi
        # Tests that wait forever when two connections' commands run in
        # the other order: with shards > 1 different threads read them
        # (tests/redis-suite/order-dependent.txt).
        # "[shards>1] name" lines of needs-missing.txt: what Shardis has
        # only with one shard.
        if [ "$shards" -gt 1 ]; then
            grep -v -E '^\s*(#|$)' "$ORDER_DEPENDENT" | sed 's/ \{1,\}# .*$//' >>"$work/skip.txt"
            { grep -E '^\[shards>1\] ' "$NEEDS_MISSING" || true; } | sed -e 's/^\[shards>1\] //' -e 's/ \{1,\}# .*$//' >>"$work/skip.txt"
        fi
        args+=(--skipfile "$work/skip.txt")
    fi
    if [ "$mode" = external ]; then
        local port=$((PORT_BASE + slot)) pid
        pid=$(start_external "$server" "$shards" "$port" "$work/tests/tmp" 2>"$logf") || {
            echo "[exception]: server did not start" >>"$logf"
            rm -rf "$work"
            return
        }
        args+=(--host 127.0.0.1 --port "$port")
        (cd "$work" && TERM=dumb timeout 900 ./runtest "${args[@]}" >"$logf" 2>&1) || true
        stop_pid "$pid"
    else
        if [ "$server" = shardis ]; then
            # The harness starts src/redis-server: Shardis, at $shards,
            # keeping the name it was started as (argv[0], the {title}
            # of its process title, as redis-server's own).
            rm -f "$work/src/redis-server"
            printf '#!/usr/bin/env bash\nexec -a "$0" %q "$@" --shards %s\n' "$SHARDIS_BIN" "$shards" >"$work/src/redis-server"
            chmod +x "$work/src/redis-server"
        else
            ln -sf "$(server_bin redis)" "$work/src/redis-server"
        fi
        (cd "$work" && TERM=dumb timeout 1800 ./runtest "${args[@]}" >"$logf" 2>&1) || true
    fi
    rm -rf "$work"
}

# Runs units ($3...) of one configuration with $JOBS in parallel.
run_config() {
    local server=$1 mode=$2 shards=$3
    shift 3
    local name="$server-$mode"
    [ "$server" = shardis ] && name="$name-shards$shards"
    local out="$RESULTS/$name"
    rm -rf "$out"
    mkdir -p "$out"
    log "$name: ${#@} units, $JOBS at a time"
    # $JOBS workers, each with its own ports, take units off one queue.
    local queue="$out/.queue"
    printf '%s\n' "$@" >"$queue"
    echo 0 >"$queue.next"
    local slot
    for slot in $(seq 0 $((JOBS - 1))); do
        (
            while true; do
                unit=$(
                    exec 9>>"$queue.lock"
                    flock 9
                    n=$(cat "$queue.next")
                    echo $((n + 1)) >"$queue.next"
                    sed -n "$((n + 1))p" "$queue"
                )
                [ -n "$unit" ] || break
                run_unit "$server" "$mode" "$shards" "$unit" "$out" "$slot"
            done
        ) &
    done
    wait || true
    rm -f "$queue" "$queue.next" "$queue.lock"
    summarize "$out" >"$out/SUMMARY"
    cat "$out/SUMMARY" >&2
}

# One line per unit: unit ok err exception(0/1); then the failing tests.
summarize() {
    local out=$1
    # Plain text whatever TERM the harness saw.
    sed -i 's/\x1b\[[0-9;]*m//g' "$out"/*.log
    for f in "$out"/*.log; do
        local unit ok err exc
        unit=$(basename "$f" .log | tr _ /)
        ok=$(grep -c '^\[ok\]:' "$f" || true)
        err=$(grep -c '^\[err\]:' "$f" || true)
        exc=$(grep -c -E '^\[exception\]:|^\[TIMEOUT\]|Killing still running' "$f" || true)
        echo "UNIT $unit ok=$ok err=$err exception=$exc"
    done
    # Failing tests as "unit: name" (the harness says "name in tests/...").
    for f in "$out"/*.log; do
        local unit
        unit=$(basename "$f" .log | tr _ /)
        sed -n 's/^\[err\]: \(.*\) in tests\/.*$/\1/p; s/^\[err\]: \(.*\)$/\1/p' "$f" |
            sed "s|^|FAIL $unit: |"
        if grep -q -E '^\[exception\]:|^\[TIMEOUT\]' "$f"; then
            echo "FAIL $unit: (unit aborted)"
        fi
    done
}

# Checks a run's failures against the expected list. Prints what differs.
gate() {
    local out=$1 label=$2 status=0
    local failing expected
    # [flaky] entries (timing-dependent tests of the harness) may pass
    # or fail: they count neither way; [flaky-external-shards4] and the
    # like only in that run.
    local mode=${label%%-*}
    local flaky
    flaky=$(grep -v -E '^\s*(#|$)' "$EXPECTED" | sed 's/ *# .*$//' |
        sed -n "s/^\[flaky\] //p; s/^\[flaky-$label\] //p; s/^\[flaky-$mode\] //p" | sort -u)
    failing=$(grep '^FAIL ' "$out/SUMMARY" | sed 's/^FAIL //' | sort -u |
        comm -23 - <(echo "$flaky"))
    # [all], the mode ([external], [full]) or the mode and shard count
    # ([external-shards4]).
    expected=$(grep -v -E '^\s*(#|$)' "$EXPECTED" | sed 's/ *# .*$//' |
        sed -n "s/^\[$label\] //p; s/^\[$mode\] //p; s/^\[all\] //p" | sort -u)
    local unexpected fixed
    unexpected=$(comm -23 <(echo "$failing") <(echo "$expected") | grep -v '^$' || true)
    # Listed tests of units that ran and did not fail: fixed.
    local ran
    ran=$(sed -n 's/^UNIT \([^ ]*\) .*/\1/p' "$out/SUMMARY")
    fixed=$(comm -13 <(echo "$failing") <(echo "$expected") | grep -v '^$' |
        while IFS= read -r line; do
            u=${line%%: *}
            grep -qx "$u" <<<"$ran" && echo "$line"
        done || true)
    if [ -n "$unexpected" ]; then
        echo "--- $label: failing, not in $EXPECTED:" >&2
        echo "$unexpected" | sed 's/^/    /' >&2
        status=1
    fi
    if [ -n "$fixed" ]; then
        echo "--- $label: listed in $EXPECTED but passing now (remove them):" >&2
        echo "$fixed" | sed 's/^/    /' >&2
        status=1
    fi
    return $status
}

# The gate for one run, with one retry: the units where the run differs
# from the list run again (a timing-dependent test of the harness can
# fail once on a loaded machine), and only a difference that stays fails.
# $1=server $2=mode $3=shards $4=label
gate_with_retry() {
    local server=$1 mode=$2 shards=$3 label=$4
    local out="$RESULTS/$server-$mode-shards$shards"
    gate "$out" "$label" 2>"$out/.gate" && return 0
    local units
    units=$(sed -n 's/^    \([^:]*\): .*$/\1/p' "$out/.gate" | sort -u)
    log "$label: running again: $(echo $units)"
    local unit
    for unit in $units; do
        run_unit "$server" "$mode" "$shards" "$unit" "$out" 0
    done
    summarize "$out" >"$out/SUMMARY"
    gate "$out" "$label"
}

# --- main ----------------------------------------------------------------

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
missing_pkgs=()
what=gate
servers="shardis"
modes=""
shard_counts=""
units=""
while [ $# -gt 0 ]; do
    case $1 in
        --full) what=full ;;
        --fetch) what=fetch ;;
        --server) servers=$2; shift ;;
        --mode) modes=$2; shift ;;
        --shards) shard_counts=$2; shift ;;
        --units) units=$2; shift ;;
        --run) what=run ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

fetch_suite
[ "$what" = fetch ] && exit 0
if [ -z "${SHARDIS_BIN:-}" ]; then
    (cd "$ROOT" && cargo build --release --quiet --bin shardis-server)
    SHARDIS_BIN=$ROOT/target/release/shardis-server
fi
mapfile -t every_unit < <(units_of_helper)

case $what in
    gate)
        status=0
        for n in 1 4; do
            run_config shardis external "$n" "${every_unit[@]}"
            gate_with_retry shardis external "$n" "external-shards$n" || status=1
        done
        if [ -n "$GATE_FULL_UNITS" ]; then
            # shellcheck disable=SC2086
            run_config shardis full 1 $GATE_FULL_UNITS
            gate_with_retry shardis full 1 "full-shards1" || status=1
        fi
        exit $status
        ;;
    run | full)
        [ "$what" = full ] && { servers="redis shardis"; modes="external full"; }
        [ -n "$modes" ] || modes=external
        [ -n "$shard_counts" ] || shard_counts="1 4"
        if [ -n "$units" ]; then read -r -a sel <<<"$units"; else sel=("${every_unit[@]}"); fi
        for server in $servers; do
            for mode in $modes; do
                if [ "$server" = redis ]; then
                    run_config redis "$mode" 1 "${sel[@]}"
                else
                    for n in $shard_counts; do
                        run_config shardis "$mode" "$n" "${sel[@]}"
                    done
                fi
            done
        done
        [ "$what" = full ] && "$ROOT/scripts/redis-suite-table.py" "$RESULTS" --write "$ROOT/docs/compatibility.md"
        ;;
esac
