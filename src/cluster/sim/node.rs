//! One simulated server: its cluster state (the real `ClusterState`),
//! its nodes.conf text as last saved, its outbound bus links, and the
//! small model of the engine the bus reads (replication offset, data
//! age, the write pause of a manual failover).

use crate::cluster::bus::NodeId;
use crate::cluster::failover::ReplView;
use crate::cluster::state::ClusterState;
use crate::cluster::ClusterSettings;
use std::collections::BTreeMap;

/// Our outbound link to a peer (`OutLink` in control.rs). Messages sent
/// before `connected` are dropped, as the real link's placeholder sink
/// drops them.
pub struct OutLink {
    /// Unique over the run: messages in flight on a closed link carry
    /// its serial and are lost on arrival.
    pub serial: u64,
    pub created: u64,
    pub connected: bool,
}

pub struct SimNode {
    pub id: NodeId,
    pub ip: String,
    pub settings: ClusterSettings,
    /// None while the process is down.
    pub st: Option<ClusterState>,
    /// nodes.conf as last written (`nodes_conf::render`), what a restart
    /// loads.
    pub conf: String,
    /// Outbound links by peer index.
    pub links: BTreeMap<usize, OutLink>,
    /// The cron's iteration counter (`clusterCron`'s `iteration`).
    pub iteration: u64,
    /// SIGSTOP until then: no cron, no message handled (they queue).
    pub paused_until: u64,
    /// Bumped at each crash: events of an older life are dropped.
    pub life: u64,
    /// Engine model: the replication offset (a master's grows with
    /// client writes, a replica's follows its master while it can
    /// reach it), kept across restarts as an RDB/AOF would keep it.
    pub offset: u64,
    /// Engine model: when the replica last heard from its master; None
    /// until the first sync of this process life (data not electable).
    pub synced_at: Option<u64>,
    /// Engine model: client writes paused until then (manual failover).
    pub writes_paused_until: u64,
    /// (state version, time) of the last `update_state`.
    pub evaluated: (u64, u64),
}

impl SimNode {
    pub fn alive(&self) -> bool {
        self.st.is_some()
    }

    pub fn paused(&self, now: u64) -> bool {
        self.paused_until > now
    }

    pub fn state(&self) -> &ClusterState {
        self.st.as_ref().expect("a live node")
    }

    /// What the bus cron reads from the engine (`ReplView::read`, and a
    /// master's `master_offset`): a master takes client writes unless
    /// paused; a replica copies its master's offset when `master_offset`
    /// says the master is reachable.
    pub fn repl_view(&mut self, now: u64, master_offset: Option<u64>) -> ReplView {
        let replica = self.state().me().is_replica();
        if !replica {
            self.synced_at = None;
            if self.writes_paused_until <= now {
                self.offset += 1;
            }
            return ReplView {
                offset: self.offset,
                data_age: None,
            };
        }
        if let Some(off) = master_offset {
            self.offset = off;
            self.synced_at = Some(now);
        }
        ReplView {
            offset: self.offset,
            data_age: self.synced_at.map(|t| now.saturating_sub(t)),
        }
    }
}
