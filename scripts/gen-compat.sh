#!/usr/bin/env bash
# Writes docs/compatibility.md: every command (and container subcommand)
# of the reference redis-server 7.0, whether Shardis implements it, and
# which piece of work plans it.
#
# It starts a reference redis-server and a shardis on loopback, asks the
# first for COMMAND DOCS (names, groups, summaries) and the second for
# COMMAND LIST. If this shardis does not answer COMMAND LIST yet, the
# command names are read from the CommandSpec entries in src/command/.
#
# Usage: scripts/gen-compat.sh [output file, default docs/compatibility.md]
# Environment:
#   REDIS_PORT [6409]  SHARDIS_PORT [6405]  ports to use on 127.0.0.1
#   SHARDIS_BIN        binary to use (default: cargo build, target/debug)
#   SKIP_BUILD=1       don't run cargo build
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/docs/compatibility.md}
REDIS_PORT=${REDIS_PORT:-6409}
SHARDIS_PORT=${SHARDIS_PORT:-6405}

die() { echo "gen-compat: $*" >&2; exit 1; }
command -v redis-server >/dev/null || die "redis-server not found"
command -v python3 >/dev/null || die "python3 not found"

if [[ -n ${SHARDIS_BIN:-} ]]; then
    BIN=$SHARDIS_BIN
else
    BIN=$ROOT/target/debug/shardis-server
    if [[ ${SKIP_BUILD:-0} != 1 ]]; then
        (cd "$ROOT" && cargo build --quiet --bin shardis-server)
    fi
fi
[[ -x $BIN ]] || die "no shardis binary at $BIN"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/gen-compat.XXXXXX")
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for p in "$REDIS_PORT" "$SHARDIS_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then die "port $p is in use"; fi
done
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$TMP" --logfile "$TMP/redis.log" &
PIDS+=($!)
"$BIN" --port "$SHARDIS_PORT" --bind 127.0.0.1 --shards 1 --dir "$TMP" --logfile "$TMP/shardis.log" &
PIDS+=($!)

REDIS_PORT=$REDIS_PORT SHARDIS_PORT=$SHARDIS_PORT ROOT=$ROOT OUT=$OUT python3 - <<'PY'
import os, re, socket, sys, time, glob

def connect(port):
    for _ in range(100):
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError:
            time.sleep(0.1)
    sys.exit(f"gen-compat: nothing answers on port {port}")

class Conn:
    def __init__(self, port):
        self.s = connect(port)
        self.f = self.s.makefile("rb")

    def cmd(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        return self.read()

    def read(self):
        line = self.f.readline()
        if not line:
            raise EOFError("connection closed")
        t, rest = line[:1], line[1:-2]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return Exception(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data.decode(errors="replace")
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ValueError(f"unexpected reply {line!r}")

def pairs(flat):
    return dict(zip(flat[::2], flat[1::2]))

redis = Conn(int(os.environ["REDIS_PORT"]))
version = pairs([x for l in redis.cmd("INFO", "server").splitlines() if ":" in l for x in l.split(":", 1)])
docs = pairs(redis.cmd("COMMAND", "DOCS"))

# Reference commands: name -> (group, summary, parent)
ref = {}
for name, d in docs.items():
    d = pairs(d)
    ref[name] = (d.get("group", ""), d.get("summary", ""), None)
    for sub, sd in pairs(d.get("subcommands") or []).items():
        sd = pairs(sd)
        ref[sub] = (sd.get("group", ""), sd.get("summary", ""), name)

# What Shardis has.
source = "COMMAND LIST"
shardis = Conn(int(os.environ["SHARDIS_PORT"]))
have = shardis.cmd("COMMAND", "LIST")
if isinstance(have, list) and have:
    have = {n.lower() for n in have}
else:
    source = "the CommandSpec entries in src/command/ (this build does not answer COMMAND LIST)"
    have = set()
    for path in glob.glob(os.path.join(os.environ["ROOT"], "src/command/**/*.rs"), recursive=True):
        text = open(path).read()
        have |= set(re.findall(r'\bCommandSpec\s*\{\s*name:\s*"([a-z0-9_|\-]+)"', text))

PERSISTENCE = {"save", "bgsave", "bgrewriteaof", "lastsave", "dump", "restore"}
REPLICATION = {"replicaof", "slaveof", "sync", "psync", "replconf", "wait", "failover", "role"}
CLUSTER = {"cluster", "readonly", "readwrite", "asking", "migrate", "restore-asking"}
# Client-side caching: invalidations travel as pub/sub messages.
TRACKING = {"client|tracking", "client|trackinginfo", "client|getredir", "client|caching"}
TYPES_GROUPS = {"list", "hash", "set", "sorted-set", "hyperloglog", "geo", "stream"}

def plan(name, group):
    top = name.split("|")[0]
    if top in PERSISTENCE:
        return "persistence"
    if top in REPLICATION:
        return "replication"
    if top in CLUSTER:
        return "cluster"
    if group in TYPES_GROUPS or top in ("sort", "sort_ro"):
        return "types"
    if group in ("transactions", "pubsub") or name in TRACKING:
        return "transactions/pubsub"
    if group == "scripting":
        return "scripting"
    if top in ("acl", "module"):
        return "later"
    return "core"

def display(name):
    return name.replace("|", " ").upper()

rows = []
for name, (group, summary, parent) in ref.items():
    sort_key = (group, parent or name, "" if parent is None else name)
    rows.append((sort_key, name, group, summary, name in have))
rows.sort()

groups = {}
for _, name, group, _, ok in rows:
    g = groups.setdefault(group, [0, 0])
    g[1] += 1
    g[0] += ok
total_ok = sum(g[0] for g in groups.values())
extra = sorted(have - set(ref))

out = []
w = out.append
w("# Command compatibility")
w("")
w("<!-- Generated by scripts/gen-compat.sh; do not edit by hand. -->")
w("")
w(f"Every command of the reference redis-server {version.get('redis_version', '7.0')} "
  "(from its `COMMAND DOCS`), container subcommands included, and whether Shardis "
  f"implements it (from {source}). An implemented command is meant to answer with the "
  "same bytes as Redis 7.0; the differential tests in `tests/cases/` check that.")
w("")
w("**Planned in** names the piece of work that brings a missing command:")
w("")
w("- **core**: strings, bitmaps, generic key commands, connection and server commands;")
w("- **types**: lists, hashes, sets, sorted sets, HyperLogLog, geo, streams, SORT;")
w("- **persistence**: RDB/AOF (SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE, DUMP, RESTORE);")
w("- **transactions/pubsub**: MULTI/EXEC/WATCH, publish/subscribe, client-side caching (CLIENT TRACKING);")
w("- **cluster**: cluster mode and the cluster bus (CLUSTER, READONLY, ASKING, MIGRATE, …);")
w("- **replication**: REPLICAOF, PSYNC, WAIT, FAILOVER, ROLE, …;")
w("- **scripting**: EVAL, SCRIPT, FUNCTION, FCALL;")
w("- **ACL**: users, rules, selectors, enforcement of commands/keys/channels, ACL LOG;")
w("- **later**: modules (MODULE answers as a redis-server that loaded none).")
w("")
w(f"Implemented: **{total_ok} of {len(rows)}** commands and subcommands.")
w("")
w("| group | implemented | total |")
w("|---|---:|---:|")
for g in sorted(groups):
    w(f"| {g} | {groups[g][0]} | {groups[g][1]} |")
w("")
w("| command | group | status | planned in | summary |")
w("|---|---|---|---|---|")
for _, name, group, summary, ok in rows:
    status = "implemented" if ok else "not yet"
    planned = "" if ok else plan(name, group)
    summary = summary.replace("|", "\\|")
    w(f"| {display(name)} | {group} | {status} | {planned} | {summary} |")
if extra:
    w("")
    w("Commands Shardis has that Redis 7.0 does not: " + ", ".join(f"`{display(n)}`" for n in extra) + ".")
w("")
# The sections after the command table (the Redis suite's, written by
# scripts/redis-suite-table.py and by hand) are kept.
tail = ""
try:
    with open(os.environ["OUT"]) as f:
        prev = f.read()
    mark = prev.find("\n## ")
    if mark >= 0:
        tail = prev[mark:]
except FileNotFoundError:
    pass
with open(os.environ["OUT"], "w") as f:
    f.write("\n".join(out).rstrip("\n") + "\n" + tail)
print(f"gen-compat: wrote {os.environ['OUT']}: {total_ok}/{len(rows)} implemented (shardis list from {source.split(' (')[0]})", file=sys.stderr)
PY
