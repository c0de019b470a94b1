//! Replica migration as Redis 7.0 (`clusterHandleSlaveMigration` and its
//! gate in `clusterCron`): when a master serving slots has lost all its
//! OK replicas although it was meant to have some (MIGRATE_TO), a spare
//! replica moves to it, so one more failure does not lose its slots.
//!
//! Spare means: my master has the most OK replicas in the cluster (at
//! least two), more than `cluster-migration-barrier` of them, and I have
//! the smallest id among them, so exactly one replica moves without any
//! agreement round. The orphan must stay orphaned for
//! [`MIGRATION_DELAY`], which lets the replicas of a just failed-over
//! master announce their new master first.
//!
//! Pure logic on [`ClusterState`], like `failover`: migrating only changes
//! the view (as CLUSTER REPLICATE does); `server::cluster_follow` then
//! moves the replication link.

use super::bus::{flags, NodeId};
use super::node::Node;
use super::state::ClusterState;
use super::ClusterSettings;

/// `CLUSTER_SLAVE_MIGRATION_DELAY`: how long (ms) a master must stay
/// orphaned before a replica migrates to it.
pub const MIGRATION_DELAY: u64 = 5000;

/// Replicas of `master` without the FAIL flag
/// (`clusterCountNonFailingSlaves`).
fn ok_replicas(st: &ClusterState, master: &NodeId) -> usize {
    st.replicas_of(master)
        .iter()
        .filter(|r| !r.has(flags::FAIL))
        .count()
}

/// Orphaned as 7.0 means it: a working master meant to have replicas
/// (MIGRATE_TO) with no OK one left (slots are checked by the callers).
fn orphaned(st: &ClusterState, n: &Node) -> bool {
    n.is_master() && !n.has(flags::FAIL) && n.has(flags::MIGRATE_TO) && ok_replicas(st, &n.id) == 0
}

/// From the 100 ms cron, after the election. True when I migrated (the
/// view now names my new master).
pub fn cron(st: &mut ClusterState, s: &ClusterSettings, now: u64) -> bool {
    let me = st.me();
    let Some(my_master) = me.master.filter(|_| me.is_replica()) else {
        return false;
    };
    // The gate in `clusterCron`: an orphan with slots exists and my
    // master is among those with the most OK replicas (at least two:
    // one must stay).
    let mut orphans = 0;
    let mut max_ok = 0;
    let mut mine_ok = 0;
    for n in st.nodes.values() {
        if n.flags & (flags::MYSELF | flags::NOADDR | flags::HANDSHAKE) != 0
            || !n.is_master()
            || n.has(flags::FAIL)
        {
            continue;
        }
        let ok = ok_replicas(st, &n.id);
        if ok == 0 && n.slot_count() > 0 && n.has(flags::MIGRATE_TO) {
            orphans += 1;
        }
        max_ok = max_ok.max(ok);
        if n.id == my_master {
            mine_ok = ok;
        }
    }
    if orphans == 0 || max_ok < 2 || mine_ok != max_ok || !s.allow_replica_migration {
        return false;
    }
    // Not 7.0: leaving now would silently abort my own manual failover;
    // it ends (or times out) within seconds.
    if st.election.mf_end != 0 {
        return false;
    }
    handle(st, s, my_master, max_ok, now)
}

/// `clusterHandleSlaveMigration`.
fn handle(
    st: &mut ClusterState,
    s: &ClusterSettings,
    my_master: NodeId,
    max_ok: usize,
    now: u64,
) -> bool {
    // A failing cluster first needs its failovers, not migrations.
    if !st.ok {
        return false;
    }
    // My master must keep more than the barrier of reachable replicas
    // (myself counted: it is the count before I leave).
    let reachable = st
        .replicas_of(&my_master)
        .iter()
        .filter(|r| !r.failing())
        .count() as u64;
    if reachable <= s.migration_barrier {
        return false;
    }
    // The target (an orphan with slots; the smallest id, for a stable
    // choice where Redis takes its dict order), each orphan's start
    // time, and the candidate: the smallest id among the replicas of
    // every master with the most OK replicas (all of their replicas, as
    // 7.0: a failed one recovers and clears FAIL eventually).
    let mut ids: Vec<NodeId> = st.nodes.keys().copied().collect();
    ids.sort();
    let mut target: Option<NodeId> = None;
    let mut candidate = st.myself;
    for id in ids {
        let n = &st.nodes[&id];
        let is_orphan = orphaned(st, n);
        if is_orphan && target.is_none() && n.slot_count() > 0 {
            target = Some(id);
        }
        if n.is_master() && ok_replicas(st, &id) == max_ok {
            for r in st.replicas_of(&id) {
                if r.id < candidate {
                    candidate = r.id;
                }
            }
        }
        let n = st.nodes.get_mut(&id).expect("listed");
        if !is_orphan {
            n.orphaned_time = 0;
        } else if n.orphaned_time == 0 {
            n.orphaned_time = now;
        }
    }
    let Some(target) = target else {
        return false;
    };
    if candidate != st.myself
        || now.saturating_sub(st.nodes[&target].orphaned_time) <= MIGRATION_DELAY
    {
        return false;
    }
    crate::notice!("Migrating to orphaned master {}", target.as_str());
    // `clusterSetMaster`, as CLUSTER REPLICATE: the view changes here, the
    // link follows (`follow`).
    st.set_my_master(target);
    super::failover::reset_manual(st);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slot::SLOTS;

    fn id(c: u8) -> NodeId {
        NodeId([c; 40])
    }

    fn settings() -> ClusterSettings {
        let mut s = crate::cluster::ClusterSettings::from_config(&crate::config::Config::default());
        s.node_timeout = 2000;
        s
    }

    /// Masters a (slots 0..8000) and b (the rest); a has replicas c, d,
    /// e's... me among them; b had replica f, now failed.
    fn cluster(me: u8) -> ClusterState {
        let mut st = ClusterState::fresh(id(me), 1);
        for m in [b'a', b'b'] {
            if m != me {
                st.add_node(Node::new(id(m), flags::MASTER, 1));
            }
        }
        for r in [b'c', b'd', b'f'] {
            if r != me {
                st.add_node(Node::new(id(r), flags::SLAVE, 1));
            }
        }
        for s in 0..SLOTS as u16 {
            st.set_slot(s, Some(id(if s < 8000 { b'a' } else { b'b' })));
        }
        st.set_as_replica(&id(b'c'), id(b'a'));
        st.set_as_replica(&id(b'd'), id(b'a'));
        st.set_as_replica(&id(b'f'), id(b'b'));
        st.update_state(100_000, true, 2000);
        assert!(st.ok);
        st
    }

    fn fail(st: &mut ClusterState, n: u8) {
        st.nodes.get_mut(&id(n)).unwrap().flags |= flags::FAIL;
    }

    #[test]
    fn smallest_replica_of_the_richest_master_migrates_after_the_delay() {
        let s = settings();
        let mut st = cluster(b'c');
        assert!(!cron(&mut st, &s, 100_000), "nobody orphaned");
        fail(&mut st, b'f');
        assert!(!cron(&mut st, &s, 100_000));
        assert_eq!(st.nodes[&id(b'b')].orphaned_time, 100_000);
        assert!(!cron(&mut st, &s, 105_000), "delay not over");
        assert!(cron(&mut st, &s, 105_001));
        assert_eq!(st.me().master, Some(id(b'b')));
        // d, the larger id, stays.
        let mut st = cluster(b'd');
        fail(&mut st, b'f');
        cron(&mut st, &s, 100_000);
        assert!(!cron(&mut st, &s, 110_000));
        assert_eq!(st.me().master, Some(id(b'a')));
    }

    #[test]
    fn barrier_switch_and_cluster_state_hold_it_back() {
        let mut s = settings();
        let mut st = cluster(b'c');
        fail(&mut st, b'f');
        s.migration_barrier = 2;
        cron(&mut st, &s, 100_000);
        assert!(
            !cron(&mut st, &s, 110_000),
            "a has 2 reachable replicas, not more than 2"
        );
        s.migration_barrier = 1;
        s.allow_replica_migration = false;
        assert!(!cron(&mut st, &s, 110_000));
        s.allow_replica_migration = true;
        st.ok = false;
        assert!(!cron(&mut st, &s, 110_000));
        st.ok = true;
        // The orphan clock starts when the checks first pass.
        assert!(!cron(&mut st, &s, 110_000));
        assert!(cron(&mut st, &s, 115_001));
    }

    #[test]
    fn a_master_never_meant_to_have_replicas_is_no_target() {
        let s = settings();
        let mut st = cluster(b'c');
        st.del_node(&id(b'f'));
        st.nodes.get_mut(&id(b'b')).unwrap().flags &= !flags::MIGRATE_TO;
        cron(&mut st, &s, 100_000);
        assert!(!cron(&mut st, &s, 110_000));
    }

    #[test]
    fn a_replica_promoted_by_failover_is_a_target() {
        let mut st = cluster(b'c');
        st.set_as_master(&id(b'f'));
        assert!(st.nodes[&id(b'f')].has(flags::MIGRATE_TO));
    }
}
