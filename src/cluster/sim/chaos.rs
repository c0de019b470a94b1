//! The faults the seed injects while the fault phase lasts: partitions
//! and their healing, pauses (some longer than the node timeout),
//! crashes with restarts from nodes.conf, CLUSTER FAILOVER in its three
//! modes, SIGTERM handovers, and an operator moving a slot
//! (`reshard`). Message loss, delay, duplication and
//! reordering are the network's (`world::Sim::send`).

use super::world::{Event, Sim};
use crate::cluster::failover::{self, Manual};

impl Sim {
    /// One chaos round: maybe a fault, then the next round.
    pub(super) fn chaos(&mut self) {
        if !self.faults_on {
            return;
        }
        let next = self.now + self.rng.between(200, 900);
        self.push(next, Event::Chaos);
        let n = self.nodes.len();
        let nt = self.opts.node_timeout;
        let down = self.nodes.iter().filter(|x| !x.alive()).count();
        let i = self.rng.below(n as u64) as usize;
        match self.rng.below(100) {
            0..=7 if self.partition.is_none() => {
                let sides: Vec<bool> = if self.rng.chance(500) {
                    (0..n).map(|j| j == i).collect()
                } else {
                    (0..n).map(|_| self.rng.chance(500)).collect()
                };
                let heal = self.now + self.rng.between(nt / 2, nt * 4);
                let side: Vec<usize> = (0..n).filter(|&j| sides[j]).collect();
                self.log(format!(
                    "PARTITION {side:?} | rest until +{}",
                    heal - self.now
                ));
                self.partition = Some(sides);
                self.push(heal, Event::Heal);
                self.faults += 1;
            }
            8..=13 if self.nodes[i].alive() && !self.nodes[i].paused(self.now) => {
                let ms = if self.rng.chance(600) {
                    self.rng.between(nt + nt / 10, nt * 3)
                } else {
                    self.rng.between(nt / 5, nt)
                };
                self.log(format!("n{i} PAUSE for {ms} ms"));
                self.nodes[i].paused_until = self.now + ms;
                self.faults += 1;
            }
            14..=19 if self.nodes[i].alive() && down < 2 => {
                let ms = self.rng.between(200, 5000);
                self.crash(i, ms);
                self.faults += 1;
            }
            20..=27 if self.nodes[i].alive() && self.nodes[i].state().me().is_replica() => {
                let mode = match self.rng.below(100) {
                    0..=49 => Manual::Default,
                    50..=84 => Manual::Force,
                    _ => Manual::Takeover,
                };
                self.manual_failover(i, mode);
                self.faults += 1;
            }
            28..=31 if self.nodes[i].alive() && !self.nodes[i].paused(self.now) => {
                self.handover(i);
                self.faults += 1;
            }
            32..=49 if self.opts.reshard && self.migration.is_none() && self.nodes[i].alive() => {
                self.start_migration(i);
            }
            _ => {}
        }
    }

    /// CLUSTER FAILOVER [FORCE|TAKEOVER] on node `i`, as the command
    /// runs it (`failover::manual_start` under the state lock).
    pub(super) fn manual_failover(&mut self, i: usize, mode: Manual) {
        if self.nodes[i].paused(self.now) {
            return; // A stopped process takes no command.
        }
        let takeover = mode == Manual::Takeover;
        let r = self.on_node(i, takeover, |st, _, _, now| {
            failover::manual_start(st, mode, now).map(|_| st.me().config_epoch)
        });
        match r {
            Ok(epoch) => {
                if takeover {
                    self.without_consensus.insert(epoch);
                }
                self.log(format!("n{i} CLUSTER FAILOVER {mode:?}: OK"));
            }
            Err(e) => self.log(format!("n{i} CLUSTER FAILOVER {mode:?}: {e}")),
        }
    }

    /// SIGTERM on node `i` (server/handover.rs): a master serving slots
    /// asks its best replica for CLUSTER FAILOVER over a client
    /// connection, then exits once its slots are taken, or after 10 s.
    fn handover(&mut self, i: usize) {
        let candidate = failover::handover_candidate(self.nodes[i].state()).map(|n| n.id);
        let Ok(id) = candidate else {
            let down = self.rng.between(500, 3000);
            self.log(format!("n{i} SIGTERM, no handover"));
            return self.crash(i, down);
        };
        let r = self.idx(&id).expect("known");
        self.log(format!("n{i} SIGTERM, hands over to n{r}"));
        // The client connection to the replica must get through.
        if self.nodes[r].alive() && !self.partitioned(i, r) {
            self.manual_failover(r, Manual::Default);
        }
        let life = self.nodes[i].life;
        let deadline = self.now + 10_000;
        self.push(
            self.now + 10,
            Event::HandoverExit {
                node: i,
                life,
                deadline,
            },
        );
    }
}
