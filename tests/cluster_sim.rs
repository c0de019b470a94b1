//! The deterministic cluster simulation (src/cluster/sim): a fixed set
//! of seeds within a time budget, determinism, and the regression seeds.
//! `scripts/simulate.sh SEED` replays one seed with its trace.

use shardis::cluster::sim::{run, Options};
use std::time::{Duration, Instant};

fn quiet() {
    // The cluster code logs as the server does; not here.
    let _ = shardis::sys::log::set_file("/dev/null");
}

fn env(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Seeds SIM_FIRST.. (default 1001), SIM_SEEDS of them (default 300),
/// stopping at the time budget (SIM_BUDGET_SECS, default 20): a slow
/// machine runs fewer seeds, never a longer job.
#[test]
fn seeds_hold_the_invariants() {
    quiet();
    let seeds = env("SIM_SEEDS").unwrap_or(300);
    // Seeds 1..=300 run in release (scripts/simulate.sh --ci); the debug
    // run of `cargo test` covers others for its 20 s.
    let first = env("SIM_FIRST").unwrap_or(1001);
    let budget = Duration::from_secs(env("SIM_BUDGET_SECS").unwrap_or(20));
    let opts = Options::default();
    let started = Instant::now();
    let (mut ran, mut steps) = (0u64, 0u64);
    for seed in first..first + seeds {
        if started.elapsed() > budget {
            break;
        }
        match run(seed, &opts) {
            Ok(r) => steps += r.steps,
            Err(f) => panic!("{f}"),
        }
        ran += 1;
    }
    eprintln!(
        "cluster simulation: {ran} seeds, {steps} steps in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(ran >= 10, "only {ran} seeds within the budget");
}

#[test]
fn a_seed_replays_the_same_trace() {
    quiet();
    let opts = Options::default();
    let a = run(7, &opts).unwrap();
    let b = run(7, &opts).unwrap();
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(a.steps, b.steps);
    let c = run(8, &opts).unwrap();
    assert_ne!(a.trace_hash, c.trace_hash);
}

/// Seeds that found bugs, run with the options they failed with.
#[test]
fn regression_seeds() {
    quiet();
    // Seed 8: a restarted replica came back with an older currentEpoch
    // (adopted from a header, not yet saved); the restart invariant now
    // checks what nodes.conf persists, as Redis 7.0 saves it.
    // (It predates the slot migrations, which change its history.)
    let before_reshard = Options {
        reshard: false,
        ..Options::default()
    };
    let regressions: &[(u64, Options)] = &[(8, before_reshard)];
    for (seed, opts) in regressions {
        if let Err(f) = run(*seed, opts) {
            panic!("{f}");
        }
    }
}

/// `scripts/simulate.sh`: SIM_SEED, SIM_STEPS, SIM_TRACE=1.
#[test]
#[ignore]
fn replay() {
    let seed = env("SIM_SEED").expect("SIM_SEED");
    let mut opts = Options::default();
    if let Some(steps) = env("SIM_STEPS") {
        opts.fault_steps = steps;
    }
    opts.print_trace = env("SIM_TRACE") == Some(1);
    quiet();
    let started = Instant::now();
    match run(seed, &opts) {
        Ok(r) => println!(
            "seed {seed}: ok, {} steps, {} messages, {} faults, {} virtual ms ({} to converge), trace {:016x}, {:.2} s",
            r.steps,
            r.messages,
            r.faults,
            r.virtual_ms,
            r.heal_ms,
            r.trace_hash,
            started.elapsed().as_secs_f64()
        ),
        Err(f) => panic!("{f}"),
    }
}
