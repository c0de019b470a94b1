//! The operator moving one slot as `redis-cli --cluster reshard` does
//! (`clusterManagerMoveSlot`): SETSLOT IMPORTING on the target, SETSLOT
//! MIGRATING on the source, the keys (none here: the slot is empty, as
//! if MIGRATE had moved them at once), SETSLOT NODE target on the
//! target, on the source, and sometimes on the other masters. Each step
//! is a command run by `setslot::apply`, the server's code, a moment
//! after the previous one, so the faults interleave. A node that is
//! down or stopped does not answer: the operator tries again. A step
//! that fails, or an operator giving up midway, aborts: SETSLOT STABLE
//! on the target and the source (an error there means a replica, which
//! keeps no open slot).

use super::world::{Event, Sim};
use crate::cluster::bus::NodeId;
use crate::cluster::setslot::{self, SetSlot};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Importing,
    Migrating,
    Node,
    Stable,
}

/// One SETSLOT still to send: on node `on`, naming `arg`.
#[derive(Clone, Copy, Debug)]
pub struct Step {
    pub on: usize,
    pub action: Action,
    pub arg: usize,
}

pub struct Migration {
    pub slot: u16,
    pub source: usize,
    pub target: usize,
    /// What is left to do, first next.
    pub steps: Vec<Step>,
    /// Gives up (aborts) before the step with this many left.
    pub abort_at: Option<usize>,
    pub aborting: bool,
}

/// A migration whose SETSLOT NODE reached the target: the target then
/// owned the slot in its view with `epoch` (bumped, as Redis does after
/// importing, unless already the greatest it knows of).
#[derive(Clone, Copy, Debug)]
pub struct Moved {
    pub slot: u16,
    pub target: usize,
    pub epoch: u64,
    /// `epoch` was greater than that of every other master claiming the
    /// slot. When not (the target had not heard of a greater epoch, so
    /// did not bump), Redis 7.0 promises nothing about the slot: the
    /// source's claim, or an UPDATE from a node that has not yet seen
    /// the source let go, can take it back from the target while the
    /// source no longer claims it, and nobody claims it again.
    pub guarded: bool,
}

impl Sim {
    /// From a chaos round: the operator starts moving a slot, picked
    /// from what the source's CLUSTER NODES shows.
    pub(super) fn start_migration(&mut self, source: usize) {
        let st = self.nodes[source].state();
        if !st.me().is_master() || st.me().slot_count() == 0 {
            return;
        }
        let mine: Vec<u16> = (0..crate::slot::SLOTS as u16)
            .filter(|&s| st.slots[s as usize] == Some(st.myself))
            .collect();
        // redis-cli's picture of the cluster, taken once.
        let masters: Vec<NodeId> = st
            .nodes
            .values()
            .filter(|n| n.is_master() && !n.failing() && n.id != st.myself)
            .map(|n| n.id)
            .collect();
        if masters.is_empty() {
            return;
        }
        let slot = mine[self.rng.below(mine.len() as u64) as usize];
        let t = masters[self.rng.below(masters.len() as u64) as usize];
        let target = self.idx(&t).expect("known");
        let (s, t) = (source, target);
        let mut steps = vec![
            Step {
                on: t,
                action: Action::Importing,
                arg: s,
            },
            Step {
                on: s,
                action: Action::Migrating,
                arg: t,
            },
            Step {
                on: t,
                action: Action::Node,
                arg: t,
            },
            Step {
                on: s,
                action: Action::Node,
                arg: t,
            },
        ];
        // 7.0's redis-cli then tells the other masters it knows of
        // (older ones did not).
        if self.rng.chance(500) {
            for o in masters
                .iter()
                .filter_map(|m| self.idx(m))
                .filter(|&o| o != t)
            {
                steps.push(Step {
                    on: o,
                    action: Action::Node,
                    arg: t,
                });
            }
        }
        steps.reverse();
        let abort_at = self
            .rng
            .chance(200)
            .then(|| 1 + self.rng.below(steps.len() as u64 - 1) as usize);
        self.log(format!(
            "OPERATOR moves slot {slot} from n{s} to n{t}{}",
            if abort_at.is_some() {
                " (will give up)"
            } else {
                ""
            }
        ));
        self.migration = Some(Migration {
            slot,
            source: s,
            target: t,
            steps,
            abort_at,
            aborting: false,
        });
        self.next_operator_step();
    }

    fn next_operator_step(&mut self) {
        let at = self.now + self.rng.between(1, 300);
        self.push(at, Event::Operator);
    }

    fn abort_migration(&mut self) {
        let m = self.migration.as_mut().expect("running");
        m.aborting = true;
        m.steps = [m.source, m.target]
            .into_iter()
            .map(|on| Step {
                on,
                action: Action::Stable,
                arg: on,
            })
            .collect();
        let (slot, s, t) = (m.slot, m.source, m.target);
        self.log(format!(
            "OPERATOR aborts slot {slot} (n{s} -> n{t}): SETSLOT STABLE"
        ));
    }

    /// The greatest config epoch with which a master other than `me`
    /// owns `slot` in its own view (a crashed one as it stopped).
    fn greatest_other_claim(&self, me: usize, slot: u16) -> u64 {
        (0..self.nodes.len())
            .filter(|&j| j != me)
            .filter_map(|j| self.nodes[j].st.as_ref().or(self.at_crash[j].as_ref()))
            .filter(|st| st.me().is_master() && st.slots[slot as usize] == Some(st.myself))
            .map(|st| st.me().config_epoch)
            .max()
            .unwrap_or(0)
    }

    /// The operator's next command.
    pub(super) fn operator(&mut self) {
        let Some(m) = &self.migration else {
            return;
        };
        if !m.aborting && m.abort_at == Some(m.steps.len()) {
            self.abort_migration();
        }
        let m = self.migration.as_ref().expect("running");
        let Some(&step) = m.steps.last() else {
            self.migration = None;
            return;
        };
        let (slot, aborting) = (m.slot, m.aborting);
        // redis-cli stops at an error from the other masters (the slot
        // is closed by then), and takes the source's refusal as a
        // replica (it may have turned one, its last slot gone) as done.
        let other = step.on != m.source && step.on != m.target;
        let source_node = step.on == m.source && step.action == Action::Node;
        let i = step.on;
        if !self.nodes[i].alive() || self.nodes[i].paused(self.now) {
            // No answer: try again.
            let at = self.now + self.rng.between(100, 600);
            self.push(at, Event::Operator);
            return;
        }
        let arg = self.nodes[step.arg].id;
        let before = self.nodes[i].state().me().config_epoch;
        let r = self.on_node(i, false, |st, s, _, _| {
            let text = arg.as_str().as_bytes();
            let action = match step.action {
                Action::Importing => SetSlot::Importing(text),
                Action::Migrating => SetSlot::Migrating(text),
                Action::Node => SetSlot::Node(text),
                Action::Stable => SetSlot::Stable,
            };
            setslot::apply(st, slot, action, 0, s.allow_replica_migration)
        });
        let what = format!("n{i} SETSLOT {slot} {:?} n{}", step.action, step.arg);
        match r {
            Ok(()) => {
                self.migration.as_mut().expect("running").steps.pop();
                let target_node = step.action == Action::Node && step.on == step.arg;
                let st = self.nodes[i].state();
                let epoch = st.me().config_epoch;
                self.log(format!("{what}: OK (configEpoch {before} -> {epoch})"));
                if epoch != before {
                    self.without_consensus.insert(epoch);
                }
                if target_node {
                    let rival = self.greatest_other_claim(i, slot);
                    let guarded = epoch > rival;
                    if !guarded {
                        self.log(format!(
                            "n{i} owns slot {slot} with configEpoch {epoch}, not above {rival}: UNGUARDED"
                        ));
                    }
                    self.moved.retain(|x| x.slot != slot);
                    self.moved.push(Moved {
                        slot,
                        target: i,
                        epoch,
                        guarded,
                    });
                }
            }
            Err(e) => {
                self.log(format!("{what}: {e}"));
                let m = self.migration.as_mut().expect("running");
                if other {
                    m.steps.clear();
                } else if aborting || (source_node && e == setslot::NOT_MASTER) {
                    m.steps.pop();
                } else {
                    self.abort_migration();
                }
            }
        }
        self.next_operator_step();
    }
}
