//! The replication link follows the cluster's view of my role, as Redis
//! does from `clusterSetMaster` / `clusterFailoverReplaceYourMaster` and
//! the cron's "replica without masterhost" check: whenever the view says
//! I replicate a master with a known address, the replica side
//! (`repl::replica`, the same link REPLICAOF starts; masterauth and
//! masteruser apply) follows that address; when the view says I am a
//! master while the link still runs (a won election), replication stops
//! as REPLICAOF NO ONE would: the data stays, the replication id shifts.
//!
//! Runs on shard 0 every 100 ms, and at once after CLUSTER REPLICATE. The
//! view changes on the bus executor (gossip, UPDATE, elections) and at
//! start-up from nodes.conf; polling keeps the two executors decoupled.

use super::shard::ShardRt;
use crate::cluster::bus::flags;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// What the cluster view asks of replication.
#[derive(Debug, PartialEq, Eq)]
enum Want {
    /// I am a master: no replication link.
    Master,
    /// A replica of the master at this address.
    Replica(String, u16),
    /// A replica whose master's address is unknown yet: wait.
    Unknown,
}

/// Shard 0's loop.
pub async fn run(rt: Rc<ShardRt>) {
    loop {
        glommio::timer::sleep(Duration::from_millis(100)).await;
        if rt.shared.shutting_down.load(Ordering::Relaxed) {
            return;
        }
        sync(&rt);
    }
}

/// Brings the replication link in line with the cluster view.
pub fn sync(rt: &Rc<ShardRt>) {
    let Some(cluster) = &rt.shared.cluster else {
        return;
    };
    let want = cluster.read(|st| {
        let me = st.me();
        if !me.is_replica() {
            return Want::Master;
        }
        match me.master.and_then(|m| st.nodes.get(&m)) {
            Some(m)
                if !m.ip.is_empty()
                    && m.port != 0
                    && !m.has(flags::NOADDR)
                    && !m.in_handshake() =>
            {
                Want::Replica(m.ip.clone(), m.port)
            }
            _ => Want::Unknown,
        }
    });
    let shared = &rt.shared;
    let replica = &shared.repl.replica;
    match want {
        Want::Master => {
            if replica.is_replica() {
                crate::repl::replica::unset_master(shared, "cluster failover");
            }
        }
        Want::Replica(host, port) => {
            let current = replica.inner.lock().unwrap().master.clone();
            if !replica.is_replica() || current.as_ref() != Some(&(host.clone(), port)) {
                crate::notice!("Connecting to MASTER {host}:{port}");
                crate::repl::replica::set_master(rt, host, port);
            }
        }
        Want::Unknown => {}
    }
}
