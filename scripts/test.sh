#!/usr/bin/env bash
# The test command: installs what the tests need (on Debian/Ubuntu), then
# runs rustfmt, clippy, the layers check and the whole test suite. Exits non-zero on any failure.
#
#   scripts/test.sh                          # everything CI runs
#   scripts/test.sh --full                   # also Redis's whole Tcl suite
#                                            #   in every mode, both servers
#   SHARDIS_DIFF_FILTER=strings scripts/test.sh   # only some case files
set -euo pipefail
cd "$(dirname "$0")/.."
full=0
[ "${1:-}" = --full ] && full=1

log() { printf '\n==> %s\n' "$*"; }

# --- system packages -------------------------------------------------------
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
{ command -v redis-cli >/dev/null 2>&1 && command -v redis-benchmark >/dev/null 2>&1; } || missing+=(redis-tools)
command -v nc >/dev/null 2>&1 || missing+=(netcat-openbsd)
command -v ps >/dev/null 2>&1 || missing+=(procps)
command -v strace >/dev/null 2>&1 || missing+=(strace)
if [ "${#missing[@]}" -gt 0 ]; then
    if command -v apt-get >/dev/null 2>&1; then
        log "installing ${missing[*]}"
        $SUDO apt-get update
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
    else
        echo "missing ${missing[*]} and no apt-get to install them" >&2
        exit 1
    fi
fi
# The Debian package starts a redis-server on 6379; the tests start their
# own servers on free ports and need none running.
if command -v service >/dev/null 2>&1; then
    $SUDO service redis-server stop >/dev/null 2>&1 || true
fi

# --- Rust toolchain --------------------------------------------------------
for tool in cargo rustc; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "$tool not found: install a Rust toolchain (https://rustup.rs)" >&2
        exit 1
    fi
done
for comp in clippy rustfmt; do
    if ! cargo "${comp/rustfmt/fmt}" --version >/dev/null 2>&1; then
        if command -v rustup >/dev/null 2>&1; then
            rustup component add "$comp"
        else
            echo "cargo ${comp/rustfmt/fmt} not available: install the $comp component" >&2
            exit 1
        fi
    fi
done
log "$(rustc --version); $(redis-server --version | cut -d' ' -f1-3)"

# --- io_uring rings count against locked memory (src/sys/memlock.rs) ---
# Raise the soft limit to the hard one (allowed without privileges): the
# tests run many servers at once, each sizing its rings to the limit.
ulimit -l "$(ulimit -H -l)" 2>/dev/null || true

# --- checks ----------------------------------------------------------------
failed=()
step() {
    local name=$1
    shift
    log "$name: $*"
    if "$@"; then
        echo "--- $name: ok"
    else
        echo "--- $name: FAILED" >&2
        failed+=("$name")
    fi
}

step fmt cargo fmt --check
step clippy cargo clippy --all-targets -- -D warnings
step layers python3 scripts/check-layers.py
step test cargo test --all-targets --no-fail-fast
# The deterministic cluster simulation, 300 seeds in a release build
# (the debug run inside `cargo test` covers fewer in its budget).
step simulation scripts/simulate.sh --ci
# Coverage-guided fuzzing of the parsers of untrusted bytes, briefly.
step fuzz scripts/fuzz.sh "${SHARDIS_FUZZ_SECONDS:-30}"
# Redis 7.0's own Tcl suite against Shardis (external mode at shards 1
# and 4, some units in full mode), gated by
# tests/redis-suite/expected-failures.txt.
step redis-suite scripts/redis-suite.sh
if [ "$full" = 1 ]; then
    step redis-suite-full scripts/redis-suite.sh --full
fi

if [ "${#failed[@]}" -gt 0 ]; then
    log "FAILED: ${failed[*]}"
    exit 1
fi
log "all checks passed"
