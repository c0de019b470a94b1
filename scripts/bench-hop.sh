#!/usr/bin/env bash
# The cost of a cross-shard hop: server CPU per GET when the key lives on
# the connection's own shard ("local") and when it lives on the other
# shard ("hop": the request goes to the owning shard's thread over the
# mesh and the reply comes back), Shardis at --shards 2, same run.
#
# The client (Python, on BENCH_CPU) keeps only connections the kernel
# gave to shard 0 (DEBUG SHARD), and sends GETs of keys whose slot is
# on shard 0 or on shard 1, pipelined P deep. Server CPU is the process's
# CPU time (all threads) over the requests; INFO's cross_shard_requests
# confirms which requests hopped. The hop's cost is hop - local.
#
# Usage: scripts/bench-hop.sh                   (N=200000 R=3)
#        N=50000 R=1 scripts/bench-hop.sh
# Environment: N, R, PIPELINES ["1 16"], CLIENTS [8], SERVER_CPUS (the
# server's cores, taskset list) ["0"], BENCH_CPU [1], PORT [6431],
# SHARDIS_BIN / SKIP_BUILD=1.
# Output: a Markdown table on stdout.
set -euo pipefail

N=${N:-200000}
R=${R:-3}
PIPELINES=${PIPELINES:-"1 16"}
CLIENTS=${CLIENTS:-8}
SERVER_CPUS=${SERVER_CPUS:-0}
BENCH_CPU=${BENCH_CPU:-1}
PORT=${PORT:-6431}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CLK_TCK=$(getconf CLK_TCK)
TMP=$(mktemp -d)
declare -A PID
log() { printf '%s\n' "$*" >&2; }
die() { log "bench-hop: $*"; exit 1; }
# shellcheck source=bench-lib.sh
source "$ROOT/scripts/bench-lib.sh"
find_shardis_bin

port_free "$PORT" || die "port $PORT is in use"
taskset -c "$SERVER_CPUS" "$BIN" --port "$PORT" --bind 127.0.0.1 --shards 2 --save '' --enable-debug-command yes \
    --dir "$TMP" --logfile "$TMP/log" &
PID[shardis]=$!
wait_ping "$PORT" || die "shardis did not start (log: $(tail -3 "$TMP/log"))"

# The client: opens connections until CLIENTS landed on shard 0, sets the
# keys, prints START, waits for a line, runs, prints STOP, waits, prints
# the hops per request and the requests sent.
cat >"$TMP/client.py" <<'EOF'
import socket, sys, selectors
port, where, depth, n, clients = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])

def slot(key):
    # CRC16/XMODEM & 16383; keys here have no hash tag.
    crc = 0
    for b in key:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc & 16383

def enc(*args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)

def call(s, req):
    s.sendall(req)
    buf = b""
    while not buf.endswith(b"\r\n") or (buf.startswith(b"$") and buf.count(b"\r\n") < 2):
        buf += s.recv(65536)
    return buf

want = 0 if where == "local" else 1
keys = [k for k in (b"hop:%d" % i for i in range(4000)) if slot(k) % 2 == want][:64]
conns, tries = [], 0
while len(conns) < clients:
    tries += 1
    if tries > 200:
        sys.exit("no connection landed on shard 0")
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if call(s, enc(b"DEBUG", b"SHARD")) == b":0\r\n":
        conns.append(s)
    else:
        s.close()
for k in keys:
    call(conns[0], enc(b"SET", k, b"x" * 16))
info = lambda: int([l for l in call(conns[0], enc(b"INFO", b"stats")).split(b"\r\n") if l.startswith(b"cross_shard_requests:")][0].split(b":")[1])
batch = b"".join(enc(b"GET", keys[i % len(keys)]) for i in range(depth))
reply_len = len(b"$16\r\n" + b"x" * 16 + b"\r\n") * depth
hops0 = info()
print("START", flush=True)
sys.stdin.readline()
per = n // (clients * depth)
sel = selectors.DefaultSelector()
left = {}
for s in conns:
    s.setblocking(False)
    s.sendall(batch)
    left[s] = [per - 1, reply_len]
    sel.register(s, selectors.EVENT_READ)
while left:
    for key, _ in sel.select():
        s = key.fileobj
        st = left[s]
        st[1] -= len(s.recv(65536))
        if st[1] == 0:
            if st[0] == 0:
                sel.unregister(s)
                del left[s]
                continue
            st[0] -= 1
            st[1] = reply_len
            s.sendall(batch)
print("STOP", flush=True)
sys.stdin.readline()
for s in conns:
    s.setblocking(True)
done = per * clients * depth
print("HOPS %.3f %d" % ((info() - hops0) / done, done))
EOF

# The client prints START once ready and STOP when done; CPU is read
# around the requests only (coproc keeps the two in step).
measure() { # where pipeline -> "cpu_us hops_per_request"
    local where=$1 p=$2 line before after hops sent
    coproc CLIENT { taskset -c "$BENCH_CPU" python3 -u "$TMP/client.py" "$PORT" "$where" "$p" "$N" "$CLIENTS"; }
    read -r line <&"${CLIENT[0]}"; [[ $line == START ]] || die "client: $line"
    before=$(cpu_ns "${PID[shardis]}")
    echo >&"${CLIENT[1]}"
    read -r line <&"${CLIENT[0]}"; [[ $line == STOP ]] || die "client: $line"
    after=$(cpu_ns "${PID[shardis]}")
    echo >&"${CLIENT[1]}"
    read -r _ hops sent <&"${CLIENT[0]}"
    wait "$CLIENT_PID" 2>/dev/null || true
    awk -v t=$((after - before)) -v n="$sent" -v h="$hops" 'BEGIN { printf "%.2f %s\n", t / 1e3 / n, h }'
}

log "shardis --shards 2 on cores $SERVER_CPUS, client on core $BENCH_CPU; N=$N R=$R P=($PIPELINES) c=$CLIENTS"
echo "| P | local µs/req | hop µs/req | hop - local | hops/req (local, hop) |"
echo "|---:|---:|---:|---:|---|"
for p in $PIPELINES; do
    l=() h=() lh="" hh=""
    for ((i = 1; i <= R; i++)); do
        r=$(measure local "$p") && [[ -n $r ]] || die "local run failed"
        read -r c x <<<"$r"; l+=("$c"); lh=$x
        r=$(measure hop "$p") && [[ -n $r ]] || die "hop run failed"
        read -r c x <<<"$r"; h+=("$c"); hh=$x
    done
    ml=$(median "${l[@]}") mh=$(median "${h[@]}")
    log "P=$p local ${l[*]} hop ${h[*]}"
    awk -v p="$p" -v a="$ml" -v b="$mh" -v x="$lh" -v y="$hh" \
        'BEGIN { printf "| %s | %.2f | %.2f | %.2f | %s, %s |\n", p, a, b, b - a, x, y }'
done
