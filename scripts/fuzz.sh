#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz / libFuzzer) of the parsers that read
# untrusted bytes. Each target runs for a fixed time, starting from its
# corpus in fuzz/corpus/<target>; a crash or failed check stops the run with
# a non-zero exit and leaves the input in fuzz/artifacts/<target>/ (replay
# it with `cargo fuzz run -s none <target> <file>`, then make it a test).
#
#   scripts/fuzz.sh                 # every target, 60 s each
#   scripts/fuzz.sh 600 resp_request
#   KEEP=1 scripts/fuzz.sh 300      # merge what was found into the corpus
#
# Runs on stable Rust with no sanitizer (-s none): the targets are safe
# Rust, so what they find is panics, failed assertions, hangs and
# allocation past libFuzzer's -rss_limit_mb.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    for f in fuzz/fuzz_targets/*.rs; do targets+=("$(basename "$f" .rs)"); done
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    cargo install cargo-fuzz --locked --quiet
fi

cargo fuzz build -s none >/dev/null
status=0
for t in "${targets[@]}"; do
    new=$(mktemp -d)
    log=$(mktemp)
    echo "==> fuzz $t for ${seconds}s"
    if cargo fuzz run -s none "$t" "$new" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1; then
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
        echo "--- $t: $runs executions, no crash"
    else
        status=1
        echo "--- $t: FAILED" >&2
        grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$log" >&2 || tail -30 "$log" >&2
    fi
    if [ "${KEEP:-0}" = 1 ]; then
        cp -n "$new"/* "fuzz/corpus/$t/" 2>/dev/null || true
        cargo fuzz cmin -s none "$t" "fuzz/corpus/$t" >/dev/null 2>&1
    fi
    rm -rf "$new" "$log"
done
exit $status
