//! Cluster mode: a client blocked on a key whose slot this node stops
//! serving (SETSLOT ... NODE, a failover, the cluster going down) is
//! answered MOVED / CLUSTERDOWN and unblocked, as Redis's clientsCron does
//! with `clusterRedirectBlockedClientIfNeeded`; otherwise it would wait
//! for a write that can no longer come here.
//!
//! Each shard checks its own waiters (a waiter lives on the shard owning
//! its slot) from a cron at `hz`, only when the routing snapshot changed
//! since its last look. A waiter registering after that look, from a
//! request planned before the change, is caught by [`refusal`] at
//! registration.

use super::blocking;
use super::shard::ShardRt;
use crate::slot::key_slot;
use std::rc::Rc;
use std::time::Duration;

/// The error a client blocking (or blocked) on `key` must get instead,
/// if this node no longer serves the key's slot. None in standalone mode.
pub fn refusal(rt: &ShardRt, key: &[u8]) -> Option<String> {
    rt.with_routing(|r| r.blocked_redirect(key_slot(key)))
        .flatten()
}

/// The shard's check, every 1/hz s (Redis checks each blocked client
/// about once a second).
pub async fn cron(rt: Rc<ShardRt>) {
    let Some(cluster) = rt.shared.cluster.clone() else {
        return;
    };
    let mut seen = 0;
    loop {
        let hz = rt.settings().hz;
        glommio::timer::sleep(Duration::from_millis(1000 / hz)).await;
        rt.wait_gate().await;
        let version = cluster.routing_version();
        if version == seen {
            continue;
        }
        seen = version;
        if rt.blocked.has_waiters() {
            blocking::refuse_waiters(&rt, |key| refusal(&rt, key));
        }
    }
}
