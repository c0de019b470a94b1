#!/usr/bin/env bash
# Replays one seed of the deterministic cluster simulation
# (src/cluster/sim) and prints its event trace; the same seed prints the
# same trace.
#
#   scripts/simulate.sh SEED [--steps N] [--quiet]   one seed
#   scripts/simulate.sh --ci                         300 seeds, release build
#   scripts/simulate.sh --nightly [FIRST] [COUNT]    many seeds, no budget
#
# --steps N: events in the fault phase (default 1500, as CI runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--ci" ]]; then
    # What scripts/test.sh runs: 300 seeds in a release build (about 20 s
    # here), within a 180 s budget on a slower machine.
    export SIM_FIRST=1 SIM_SEEDS=300 SIM_BUDGET_SECS=180
    exec cargo test --release --test cluster_sim seeds_hold_the_invariants -- --nocapture
fi
if [[ "${1:-}" == "--nightly" ]]; then
    export SIM_FIRST="${2:-1000}" SIM_SEEDS="${3:-20000}" SIM_BUDGET_SECS=864000
    exec cargo test --release --test cluster_sim seeds_hold_the_invariants -- --nocapture
fi
seed="${1:?usage: scripts/simulate.sh SEED [--steps N] [--quiet] | --ci | --nightly [FIRST] [COUNT]}"
shift
export SIM_SEED="$seed" SIM_TRACE=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --steps) export SIM_STEPS="$2"; shift 2 ;;
        --quiet) export SIM_TRACE=0; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
exec cargo test --test cluster_sim replay -- --ignored --nocapture
