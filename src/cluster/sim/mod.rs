//! A deterministic simulation of the cluster bus (issue 23), after
//! TigerBeetle's VOPR and FoundationDB's simulation testing: N nodes,
//! each a real [`ClusterState`](crate::cluster::state::ClusterState)
//! driven by the code the server runs (`gossip::process`,
//! `tick::tick_state`, `tick::choose_pings`, `gossip::ping`,
//! `failover::manual_start`, `setslot::apply`, `nodes_conf::render`/
//! `parse`, the wire codec), on a virtual clock, over a simulated network, with faults
//! drawn from one seed. No sockets, no threads, no wall clock: a seed
//! replays the same history, event for event.
//!
//! A run is a fault phase (`Options::fault_steps` events) then a healing
//! phase without new faults, which must end with every view converged.
//! The invariants (`check`) are checked after every event, and the
//! slot migrations' outcome once converged.

pub mod chaos;
pub mod check;
pub mod node;
pub mod reshard;
pub mod rng;
pub mod trace;
pub mod world;

use std::fmt;
use world::Sim;

#[derive(Clone, Debug)]
pub struct Options {
    pub masters: usize,
    pub replicas_per_master: usize,
    /// `cluster-node-timeout` of every node, virtual ms.
    pub node_timeout: u64,
    /// Events in the fault phase.
    pub fault_steps: u64,
    /// How long (virtual ms) the views may take to converge once the
    /// faults stop.
    pub heal_ms: u64,
    /// An operator moves slots (`reshard`) among the faults.
    pub reshard: bool,
    /// Print every trace line (replaying one seed).
    pub print_trace: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            masters: 3,
            replicas_per_master: 1,
            node_timeout: 1000,
            fault_steps: 1500,
            heal_ms: 60_000,
            reshard: true,
            print_trace: false,
        }
    }
}

/// A run that held every invariant.
#[derive(Clone, Copy, Debug)]
pub struct Report {
    pub seed: u64,
    pub steps: u64,
    pub virtual_ms: u64,
    pub messages: u64,
    pub faults: u64,
    /// Virtual ms from the end of the faults to converged views.
    pub heal_ms: u64,
    pub trace_hash: u64,
}

/// A broken invariant: the seed, when, what, and how it came to it.
pub struct Failure {
    pub seed: u64,
    pub step: u64,
    pub what: String,
    pub trace_tail: Vec<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "cluster simulation seed {} failed at step {}: {}",
            self.seed, self.step, self.what
        )?;
        writeln!(f, "replay: scripts/simulate.sh {}", self.seed)?;
        writeln!(f, "-- last events --")?;
        for l in &self.trace_tail {
            writeln!(f, "{l}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Runs one seed to the end.
pub fn run(seed: u64, opts: &Options) -> Result<Report, Failure> {
    let mut sim = Sim::new(seed, opts.clone());
    let failure = |sim: &Sim, what: String| Failure {
        seed,
        step: sim.steps,
        what,
        trace_tail: sim.trace_tail(),
    };
    let start = sim.now;
    while sim.steps < opts.fault_steps && sim.step() {
        if let Some(v) = sim.violation.take() {
            return Err(failure(&sim, v));
        }
    }
    sim.faults_on = false;
    sim.partition = None;
    sim.log("FAULTS STOP, network healed".into());
    let healing = sim.now;
    let mut next_look = sim.now;
    loop {
        if !sim.step() {
            return Err(failure(&sim, "no event left".into()));
        }
        if let Some(v) = sim.violation.take() {
            return Err(failure(&sim, v));
        }
        if sim.now < next_look {
            continue;
        }
        next_look = sim.now + 250;
        match sim.views_converged() {
            Ok(()) => break,
            Err(e) if sim.now > healing + opts.heal_ms => {
                return Err(failure(
                    &sim,
                    format!(
                        "views did not converge {} ms after the faults stopped: {e}",
                        opts.heal_ms
                    ),
                ))
            }
            Err(_) => {}
        }
    }
    sim.log("CONVERGED".into());
    if let Err(e) = sim.moves_settled() {
        return Err(failure(&sim, e));
    }
    Ok(Report {
        seed,
        steps: sim.steps,
        virtual_ms: sim.now - start,
        messages: sim.messages,
        faults: sim.faults,
        heal_ms: sim.now - healing,
        trace_hash: sim.trace_hash(),
    })
}
