#!/usr/bin/env bash
# Builds a release shardis and runs it in the foreground (standalone).
# Uses conf/shardis.conf when present; extra arguments are directives:
#   scripts/run.sh --port 7000 --shards 4
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release
bin=target/release/shardis-server

args=()
port=6379
if [ -f conf/shardis.conf ]; then
    args+=(conf/shardis.conf)
    p=$(awk 'tolower($1) == "port" { p = $2 } END { print p }' conf/shardis.conf)
    [ -n "$p" ] && port=$p
fi
prev=""
for a in "$@"; do
    [ "$prev" = "--port" ] && port=$a
    prev=$a
done

echo "Starting shardis on port $port (Ctrl-C to stop)."
echo "Connect with:   redis-cli -p $port"
echo "Benchmark with: redis-benchmark -p $port -q"
exec "$bin" "${args[@]}" "$@"
