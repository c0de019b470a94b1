//! Replication, Redis 7.0's PSYNC2 (spec: cluster-bus-replication-rdb-aof.md §3).
//!
//! - `primary/`: serving replicas — the backlog (`persist/aof/backlog.rs`)
//!   fed by the same write records as the AOF, the PSYNC/REPLCONF
//!   handshake, full sync streamed from the fork-less snapshot, partial
//!   resync, WAIT.
//! - `failover.rs`: FAILOVER, the coordinated switch of roles.
//! - `replica/`: following a primary — REPLICAOF, the handshake, loading
//!   the RDB, applying the command stream as the master client, ACKs.
//!
//! - `oom.rs`: the process's OOM score follows the role.
//! - `rdb_info.rs`: the history an RDB file records (`repl-id`,
//!   `repl-offset`), written by saves and continued after a restart.
//! - `host.rs`: what replication asks of the engine (traits the server
//!   implements): repl reaches the engine only through them.
//!
//! Both sides share the node's replication identity: the replication id
//! and offset a replica asks for in PSYNC, and the previous id kept
//! after a role change so sub-replicas can continue (PSYNC2).

pub mod failover;
pub mod host;
pub mod oom;
pub mod primary;
pub mod rdb_info;
pub mod replica;

use std::sync::Mutex;

/// `master_replid`, `master_replid2`, `master_repl_offset` and
/// `second_repl_offset` as INFO replication shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplIdentity {
    /// 40 hex characters, the history this node's data belongs to.
    pub replid: String,
    /// The previous history (all zeros when none).
    pub replid2: String,
    /// Bytes of replication stream in this history so far.
    pub offset: i64,
    /// Up to which offset `replid2` is valid (-1 when none).
    pub second_offset: i64,
}

/// The id Redis shows when there is no previous history.
pub const NO_REPLID: &str = "0000000000000000000000000000000000000000";

impl ReplIdentity {
    /// A fresh history, as a node starts with.
    pub fn new() -> ReplIdentity {
        ReplIdentity {
            replid: crate::sys::random::random_hex(40),
            replid2: NO_REPLID.to_string(),
            offset: 0,
            second_offset: -1,
        }
    }

    /// Starts a new history, remembering the current one as the
    /// previous, valid up to the current offset (Redis's
    /// `shiftReplicationId`, done when a replica becomes a primary).
    pub fn shift(&mut self) {
        self.replid2 = std::mem::replace(&mut self.replid, crate::sys::random::random_hex(40));
        self.second_offset = self.offset + 1;
    }

    /// Whether a PSYNC for `replid` at `offset` continues this history
    /// (the backlog must still hold `offset` too — the caller checks).
    pub fn continues(&self, replid: &str, offset: i64) -> bool {
        replid == self.replid || (replid == self.replid2 && offset <= self.second_offset)
    }
}

impl Default for ReplIdentity {
    fn default() -> Self {
        ReplIdentity::new()
    }
}

/// The node's replication state, shared by every executor.
#[derive(Default)]
pub struct Repl {
    pub identity: Mutex<ReplIdentity>,
    /// The replica side: who the master is, the link, offsets.
    pub replica: replica::ReplicaState,
    /// Serving replicas: who is attached, sync counters, WAIT.
    pub primary: primary::Primary,
    /// FAILOVER, while one is going on.
    pub failover: failover::Failover,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_keeps_the_previous_history_up_to_the_next_offset() {
        let mut id = ReplIdentity::new();
        id.offset = 100;
        let old = id.replid.clone();
        id.shift();
        assert_ne!(id.replid, old);
        assert_eq!(id.replid2, old);
        assert_eq!(id.second_offset, 101);
        assert!(id.continues(&old, 101));
        assert!(!id.continues(&old, 102));
        assert!(id.continues(&id.replid.clone(), 5000));
        assert!(!id.continues(NO_REPLID, 0));
        assert!(!ReplIdentity::new().continues(NO_REPLID, 0));
    }
}
