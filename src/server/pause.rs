//! Pausing client writes, node-wide (Redis's `pauseClients` with
//! `PAUSE_ACTIONS_CLIENT_WRITE`), for the master side of a manual
//! failover and the SIGTERM handover.
//!
//! While a pause is on, a batch from a normal client that holds a write
//! (a `write` or `may_replicate` command, or EXEC) waits before it is
//! planned; reads keep being served. Waiting is not refusing: once the
//! pause ends the batch is planned as usual, so after a failover it gets
//! MOVED. The master link and replica connections are never paused.
//!
//! *Settled*: every batch counts itself in its shard's in-flight counter
//! from before the pause check until its replies are assembled (a batch
//! with a blocking command or WAIT stops counting once planned: it may
//! wait for ever, and a paused node feeds it no write). A pause is
//! settled when it is on and no batch is in flight: from then on no
//! client write reaches the replication stream, so the master offset is
//! the one a replica must reach. The expiry cron, the replication PING
//! and WAIT's GETACK stay out of the stream while a pause is on. (Lazy
//! expiry of a key a read touches still propagates its DEL; a replica
//! that then passes the advertised offset lets the manual failover time
//! out, with no write lost.)

use super::shard::ShardRt;
use super::shared::unix_ms;
use crate::command::{self, Flags};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// One counter per shard, on its own cache line.
#[repr(align(64))]
#[derive(Default)]
struct Slot(AtomicUsize);

pub struct WritePause {
    /// Unix ms the pause ends at; 0: no pause.
    until: AtomicU64,
    in_flight: Vec<Slot>,
}

impl WritePause {
    pub fn new(nshards: usize) -> WritePause {
        WritePause {
            until: AtomicU64::new(0),
            in_flight: (0..nshards).map(|_| Slot::default()).collect(),
        }
    }

    /// Pauses writes until `until_ms` (or `unpause`).
    pub fn pause(&self, until_ms: u64) {
        self.until.store(until_ms, Ordering::SeqCst);
    }

    pub fn unpause(&self) {
        self.until.store(0, Ordering::SeqCst);
    }

    #[inline]
    pub fn active(&self) -> bool {
        let until = self.until.load(Ordering::SeqCst);
        until != 0 && unix_ms() < until
    }

    /// On, and no client batch in flight: the stream no longer moves.
    pub fn settled(&self) -> bool {
        self.active()
            && self
                .in_flight
                .iter()
                .all(|s| s.0.load(Ordering::SeqCst) == 0)
    }

    /// Counts a batch of shard `rt` in flight; first waits while a pause
    /// is on and the batch holds a write.
    pub async fn enter(rt: &Rc<ShardRt>, cmds: &super::dispatch::Batch<'_>) -> InFlight {
        let me = &rt.shared.write_pause;
        let counter = &me.in_flight[rt.id].0;
        loop {
            if me.active() && has_writes(cmds) {
                glommio::timer::sleep(Duration::from_millis(2)).await;
                continue;
            }
            counter.fetch_add(1, Ordering::SeqCst);
            if me.active() && has_writes(cmds) {
                counter.fetch_sub(1, Ordering::SeqCst);
                continue;
            }
            return InFlight(Some(rt.clone()));
        }
    }
}

/// A batch counted in flight; stops counting when dropped or `leave`s.
pub struct InFlight(Option<Rc<ShardRt>>);

impl InFlight {
    pub fn leave(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shared.write_pause.in_flight[rt.id]
                .0
                .fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.leave();
    }
}

/// Whether a command is paused by a write pause (`is_may_replicate_command`).
pub fn pauses(spec: &command::CommandSpec) -> bool {
    spec.flags.has(Flags::WRITE) || spec.flags.has(Flags::MAY_REPLICATE) || spec.name == "exec"
}

/// Whether a command may wait indefinitely once planned.
pub fn may_block(spec: &command::CommandSpec) -> bool {
    spec.flags.has(Flags::BLOCKING) || spec.name == "wait" || spec.name == "waitaof"
}

fn has_writes(cmds: &super::dispatch::Batch<'_>) -> bool {
    (0..cmds.len()).any(|i| command::resolve(cmds.get(i)).is_ok_and(pauses))
}
