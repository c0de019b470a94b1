//! Pausing clients, node-wide (Redis's `pauseClients`), for three
//! purposes kept apart as Redis keeps them: the master side of a manual
//! failover and the SIGTERM handover (writes only), a shutdown waiting
//! for its replicas (writes only, shutdown.rs), and CLIENT PAUSE
//! (writes, or every command). The effective pause is the union, so
//! CLIENT UNPAUSE never ends a failover's or a shutdown's pause.
//!
//! While a write pause is on, a batch from a normal client that holds a
//! write (a `write` or `may_replicate` command, or EXEC of a queue with
//! one) waits before it is planned; reads keep being served. CLIENT
//! PAUSE ALL holds every command. Waiting is not refusing: once the
//! pause ends the batch is planned as usual, so after a failover it gets
//! MOVED. Requests Redis refuses before its pause check (unknown
//! command, wrong arity, a write on a read-only replica) never wait. Replica connections are never
//! paused; a replica's master link is, as Redis 7.0 postpones its master
//! client (repl/replica/link.rs asks [`WritePause::holds`] before each
//! command): the stream is read on but not applied, so
//! `slave_repl_offset` stays.
//!
//! *Settled*: every batch counts itself in its shard's in-flight counter
//! from before the pause check until its replies are assembled (a batch
//! with a blocking command or WAIT stops counting once planned: it may
//! wait for ever, and a paused node feeds it no write). A pause is
//! settled when it is on and no batch is in flight: from then on no
//! client write reaches the replication stream, so the master offset is
//! the one a replica must reach. The expiry cron, the replication PING
//! and WAIT's GETACK stay out of the stream while a pause is on, and a
//! read that meets a key whose TTL passed reports it missing without
//! deleting it (ShardRt::exec_with), as Redis 7.0's expireIfNeeded.

use super::dispatch::Batch;
use super::shard::ShardRt;
use super::spec::{Behavior, CommandSpec, Flags};
use super::table;
use super::transaction::TxState;
use crate::sys::clock::unix_ms;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// One counter per shard, on its own cache line.
#[repr(align(64))]
#[derive(Default)]
struct Slot(AtomicUsize);

pub struct WritePause {
    /// Failover's write pause: unix ms it ends at; 0: none.
    until: AtomicU64,
    /// CLIENT PAUSE: end (unix ms) << 1 | 1 for ALL; 0: none.
    client: AtomicU64,
    /// A shutdown waits for its replicas (no end: until it is aborted).
    shutdown: AtomicBool,
    in_flight: Vec<Slot>,
}

impl WritePause {
    pub fn new(nshards: usize) -> WritePause {
        WritePause {
            until: AtomicU64::new(0),
            client: AtomicU64::new(0),
            shutdown: AtomicBool::new(false),
            in_flight: (0..nshards).map(|_| Slot::default()).collect(),
        }
    }

    /// Pauses writes for a failover until `until_ms` (or `unpause`).
    pub fn pause(&self, until_ms: u64) {
        self.until.store(until_ms, Ordering::SeqCst);
    }

    /// Ends the failover's pause (not a CLIENT PAUSE).
    pub fn unpause(&self) {
        self.until.store(0, Ordering::SeqCst);
    }

    /// Pauses writes for a shutdown waiting for its replicas (`on`), or
    /// ends that pause.
    pub fn shutdown_pause(&self, on: bool) {
        self.shutdown.store(on, Ordering::SeqCst);
    }

    /// CLIENT PAUSE: until `end_ms`, every command (`all`) or writes. As
    /// Redis's `pauseClients`, a pause still on keeps the later end and
    /// the stricter mode; one that has ended is replaced.
    pub fn pause_clients(&self, end_ms: u64, all: bool) {
        let now = unix_ms();
        let _ = self
            .client
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |cur| {
                let (cur_end, cur_all) = (cur >> 1, cur & 1 == 1);
                Some(if cur_end <= now {
                    end_ms << 1 | all as u64
                } else {
                    cur_end.max(end_ms) << 1 | (all || cur_all) as u64
                })
            });
    }

    /// CLIENT UNPAUSE: ends the CLIENT PAUSE, not a failover's.
    pub fn unpause_clients(&self) {
        self.client.store(0, Ordering::SeqCst);
    }

    /// The CLIENT PAUSE on now, if any: whether it holds every command.
    #[inline]
    fn client_pause(&self) -> Option<bool> {
        let cur = self.client.load(Ordering::SeqCst);
        if cur == 0 {
            return None;
        }
        if unix_ms() < cur >> 1 {
            return Some(cur & 1 == 1);
        }
        // Ended: clear it so later checks skip the clock.
        let _ = self
            .client
            .compare_exchange(cur, 0, Ordering::SeqCst, Ordering::SeqCst);
        None
    }

    /// The failover's pause is on (replication PINGs stay out of the
    /// stream only then, as Redis's replicationCron).
    #[inline]
    pub fn failover_active(&self) -> bool {
        let until = self.until.load(Ordering::SeqCst);
        until != 0 && unix_ms() < until
    }

    /// Client writes are paused, for any purpose.
    #[inline]
    pub fn active(&self) -> bool {
        self.failover_active() || self.shutdown_active() || self.client_pause().is_some()
    }

    #[inline]
    fn shutdown_active(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    /// Whether a batch (of a connection with transaction state `tx`)
    /// must wait now. `writes_refused`: the node is a read-only replica
    /// and the batch a normal client's, whose writes get READONLY at once
    /// (Redis checks that before its pause).
    pub fn holds(&self, cmds: &Batch<'_>, tx: &TxState, writes_refused: bool) -> bool {
        let refused = |spec: &CommandSpec| writes_refused && spec.flags.has(Flags::WRITE);
        match self.client_pause() {
            Some(true) => (0..cmds.len()).any(|i| paused_request(cmds.get(i), |s| !refused(s))),
            Some(false) => has_writes(cmds, tx, refused),
            None => {
                (self.failover_active() || self.shutdown_active()) && has_writes(cmds, tx, refused)
            }
        }
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
    /// holds one of its requests.
    pub async fn enter(
        rt: &Rc<ShardRt>,
        cmds: &Batch<'_>,
        tx: &TxState,
        writes_refused: bool,
    ) -> InFlight {
        let me = &rt.shared.write_pause;
        let counter = &me.in_flight[rt.id].0;
        // A held client counts in INFO blocked_clients, as Redis 7.0's
        // postponed clients do, until it goes on (or goes away).
        let mut held = None;
        loop {
            if me.holds(cmds, tx, writes_refused) {
                held.get_or_insert_with(super::blocking::CountBlocked::new);
                glommio::timer::sleep(Duration::from_millis(2)).await;
                continue;
            }
            counter.fetch_add(1, Ordering::SeqCst);
            if me.holds(cmds, tx, writes_refused) {
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

/// Whether a command is paused by a write pause (`is_may_replicate_command`;
/// EXEC: see `has_writes`). A script that declares flags is paused only
/// when it may write: declared flags replace EVAL's and FCALL's `write`
/// and `may_replicate` (Redis's scriptFlagsToCmdFlags).
pub fn pauses(spec: &CommandSpec, argv: &[&[u8]]) -> bool {
    if spec.behavior.has(Behavior::RUNS_SCRIPT) {
        if let Some(declared) = super::script::declared_flags(spec, argv) {
            return !declared.no_writes;
        }
    }
    spec.flags.has(Flags::WRITE) || spec.flags.has(Flags::MAY_REPLICATE)
}

/// Whether a command may wait indefinitely once planned.
pub fn may_block(spec: &CommandSpec) -> bool {
    spec.flags.has(Flags::BLOCKING) || spec.behavior.has(Behavior::WAITS)
}

fn has_writes(cmds: &Batch<'_>, tx: &TxState, refused: impl Fn(&CommandSpec) -> bool) -> bool {
    let exec_writes = || tx.queue_has(pauses);
    (0..cmds.len()).any(|i| {
        let argv = cmds.get(i);
        paused_request(argv, |spec| {
            (pauses(spec, argv) && !refused(spec))
                || spec.behavior.has(Behavior::RUNS_TRANSACTION) && exec_writes()
        })
    })
}

/// A request a pause holds: Redis checks the pause after the lookup and
/// arity checks, so those errors are answered at once.
fn paused_request(argv: &[&[u8]], which: impl Fn(&CommandSpec) -> bool) -> bool {
    table::resolve(argv).is_ok_and(|spec| table::arity_ok(spec, argv.len()) && which(spec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_unpause_leaves_a_failover_pause_on() {
        let p = WritePause::new(1);
        let later = unix_ms() + 60_000;
        p.pause(later);
        p.pause_clients(later, true);
        assert!(p.client_pause() == Some(true));
        p.unpause_clients();
        assert!(p.client_pause().is_none());
        assert!(p.active(), "the failover's pause ended with CLIENT UNPAUSE");
        p.unpause();
        assert!(!p.active());
    }

    #[test]
    fn a_later_client_pause_keeps_the_later_end_and_stricter_mode() {
        let p = WritePause::new(1);
        let now = unix_ms();
        p.pause_clients(now + 60_000, false);
        p.pause_clients(now + 1_000, true);
        let cur = p.client.load(Ordering::SeqCst);
        assert_eq!((cur >> 1, cur & 1), (now + 60_000, 1));
        // An ended pause is replaced, not merged.
        p.client.store((now - 1) << 1 | 1, Ordering::SeqCst);
        p.pause_clients(now + 1_000, false);
        assert_eq!(p.client_pause(), Some(false));
    }
}
