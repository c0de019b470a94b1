#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz / libFuzzer) of the parsers that read
# untrusted bytes. Each target runs for a fixed time, starting from its
# corpus in fuzz/corpus/<target>; a crash or failed check stops the run with
# a non-zero exit and leaves the input in fuzz/artifacts/<target>/ (replay
# it with `cargo fuzz run -s none <target> <file>`, then make it a test).
#
#   scripts/fuzz.sh                     # 300 s split among every target
#   scripts/fuzz.sh 30                  # CI: 30 s in all
#   scripts/fuzz.sh --each 600 rdb_load # 600 s for one target
#   KEEP=1 scripts/fuzz.sh --each 300   # merge what was found into the corpus
#
# Targets: resp_request (client requests), bus_packet (cluster bus
# frames), rdb_load (RDB files, DUMP payloads), aof_load (manifest, AOF
# files replayed), repl_stream (a master's PSYNC reply, RDB transfer and
# command stream). Each gets at least 2 s.
#
# Runs on stable Rust with no sanitizer (-s none): the targets are safe
# Rust, so what they find is panics, failed assertions, hangs and
# allocation past libFuzzer's -rss_limit_mb (a length field claiming
# gigabytes must not allocate them).
set -euo pipefail
cd "$(dirname "$0")/.."

each="" total=300
if [ "${1:-}" = "--each" ]; then
    each=${2:?--each needs seconds}
    shift 2
elif [ $# -gt 0 ]; then
    total=$1
    shift
fi
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    for f in fuzz/fuzz_targets/*.rs; do targets+=("$(basename "$f" .rs)"); done
fi
seconds=${each:-$((total / ${#targets[@]}))}
[ "$seconds" -ge 2 ] || seconds=2

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    cargo install cargo-fuzz --locked --quiet
fi

cargo fuzz build -s none >/dev/null
status=0
summary=()
for t in "${targets[@]}"; do
    new=$(mktemp -d)
    log=$(mktemp)
    echo "==> fuzz $t for ${seconds}s"
    if cargo fuzz run -s none "$t" "$new" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1; then
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
        echo "--- $t: $runs executions, no crash"
        summary+=("$t: $runs executions in ${seconds}s")
    else
        status=1
        echo "--- $t: FAILED" >&2
        summary+=("$t: CRASH (fuzz/artifacts/$t/)")
        grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$log" >&2 || tail -30 "$log" >&2
    fi
    if [ "${KEEP:-0}" = 1 ]; then
        cp -n "$new"/* "fuzz/corpus/$t/" 2>/dev/null || true
        cargo fuzz cmin -s none "$t" "fuzz/corpus/$t" >/dev/null 2>&1
    fi
    rm -rf "$new" "$log"
done
echo "==> fuzz summary"
printf '    %s\n' "${summary[@]}"
exit $status
