//! Redis 7.0's graceful shutdown (server.c `prepareForShutdown`,
//! `isReadyToShutdown`, `finishShutdown`, `abortShutdown`): SHUTDOWN
//! without NOW, SIGTERM and SIGINT first let lagging replicas catch up,
//! for at most `shutdown-timeout` seconds. Meanwhile client writes are
//! paused (pause.rs), the replicas are asked for an ACK, SHUTDOWN callers
//! stay blocked, INFO shows `shutdown_in_milliseconds`, and SHUTDOWN
//! ABORT cancels it all (the blocked callers get an error).
//!
//! Redis's cron checks the wait every tick; here a thread started with
//! the wait does (`drive`), so the shards never block on it. The final
//! RDB save then runs on shard 0 (`rules::save_for_exit`).

use super::shared::Shared;
use crate::config::keys as conf;
use crate::persist::bgsave::rules;
use crate::repl::host::ReplShared;
use crate::repl::primary::{self, GETACK, ONLINE};
use crate::sys::clock::unix_ms;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// DEBUG PAUSE-CRON: of what Redis's cron does, Shardis holds back only
/// acting on a shutdown signal (probe.rs), which Redis does there.
pub static CRON_PAUSED: AtomicBool = AtomicBool::new(false);

/// How often the wait checks the replicas (Redis's cron at hz 100).
const TICK: Duration = Duration::from_millis(10);

/// SHUTDOWN's options; a signal's come from `shutdown-on-sig*`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Flags {
    pub save: bool,
    pub nosave: bool,
    pub now: bool,
    pub force: bool,
}

#[derive(Default)]
pub struct Shutdown {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Unix ms the wait for replicas ends at; 0: no shutdown initiated
    /// (Redis's `shutdown_mstime`).
    deadline_ms: u64,
    flags: Flags,
    /// A signal asked for a shutdown (Redis's `shutdown_asap`).
    signalled: bool,
    /// The final steps run (save, exit): a new request joins them, as
    /// Redis's one thread would not see it before they end.
    finishing: bool,
    /// Bumped when a shutdown is cancelled: the SHUTDOWN callers blocked
    /// on it answer with an error.
    cancelled: u64,
}

/// What `prepare` decided.
pub enum Prepared {
    /// The shutdown waits for replicas: block until `cancelled()` moves
    /// past this value (or the process exits).
    Wait(u64),
    /// Finish now (`finish_blocking`, or the caller's own save).
    Finish,
}

impl Shutdown {
    /// INFO `shutdown_in_milliseconds`, while a shutdown waits.
    pub fn in_milliseconds(&self) -> Option<i64> {
        let st = self.state.lock().unwrap();
        (st.deadline_ms != 0).then(|| st.deadline_ms as i64 - unix_ms() as i64)
    }

    pub fn cancelled(&self) -> u64 {
        self.state.lock().unwrap().cancelled
    }

    /// A signal asked for a shutdown not finished or aborted yet.
    pub fn signalled(&self) -> bool {
        self.state.lock().unwrap().signalled
    }

    pub fn set_signalled(&self) {
        self.state.lock().unwrap().signalled = true;
    }

    fn initiated(&self) -> bool {
        let st = self.state.lock().unwrap();
        st.deadline_ms != 0 || st.finishing
    }
}

/// Starts a shutdown (`prepareForShutdown`): waits for lagging replicas
/// unless NOW or `shutdown-timeout 0`. A shutdown already waiting is
/// joined.
pub fn prepare(shared: &Arc<Shared>, flags: Flags) -> Prepared {
    let mut st = shared.shutdown.state.lock().unwrap();
    if st.deadline_ms != 0 || st.finishing {
        return Prepared::Wait(st.cancelled);
    }
    st.flags = flags;
    crate::warning!("User requested shutdown...");
    let timeout = shared.read_config(|c| c.int(conf::SHUTDOWN_TIMEOUT)).max(0) as u64;
    if flags.now || timeout == 0 || ready(shared) {
        st.finishing = true;
        return Prepared::Finish;
    }
    st.deadline_ms = unix_ms() + timeout * 1000;
    // As Redis: no GETACK while paused (it would move the offset a
    // failover waits for); replicas ACK every second anyway.
    if !shared.write_pause.active() {
        shared.log().feed_repl_only(GETACK);
    }
    shared.write_pause.shutdown_pause(true);
    crate::notice!("Waiting for replicas before shutting down.");
    let cancelled = st.cancelled;
    drop(st);
    let sh = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("shutdown-wait".into())
        .spawn(move || drive(&sh));
    if let Err(e) = spawned {
        // Nothing can wait: shut down without waiting.
        crate::warning!("Can't wait for replicas before shutting down: {e}");
        shared.shutdown.state.lock().unwrap().deadline_ms = 0;
        shared.write_pause.shutdown_pause(false);
        return Prepared::Finish;
    }
    Prepared::Wait(cancelled)
}

/// Every replica acknowledged the master offset (`isReadyToShutdown`).
fn ready(shared: &Shared) -> bool {
    let offset = primary::master_offset(shared);
    shared
        .repl
        .primary
        .replicas()
        .iter()
        .all(|r| r.ack_offset == offset)
}

/// The wait: finishes once every replica caught up or the deadline
/// passed; returns if the shutdown was aborted.
fn drive(shared: &Arc<Shared>) {
    loop {
        std::thread::sleep(TICK);
        let flags = {
            let mut st = shared.shutdown.state.lock().unwrap();
            if st.deadline_ms == 0 {
                return;
            }
            if unix_ms() < st.deadline_ms && !ready(shared) {
                continue;
            }
            st.finishing = true;
            st.flags
        };
        finish_blocking(shared, flags);
        return;
    }
}

/// Finishes from a thread outside the shards: exits, or returns after
/// a failure was logged and the shutdown cancelled.
pub fn finish_blocking(shared: &Arc<Shared>, flags: Flags) {
    let Some(save) = finish_begins(shared, flags) else {
        return;
    };
    if save {
        crate::notice!("Saving the final RDB snapshot before exiting.");
        if !rules::save_for_exit() && !save_failed(shared, flags) {
            return;
        }
    }
    super::probe::shutdown(shared)
}

/// `finishShutdown` up to the RDB save: logs the replicas left behind;
/// whether an RDB must be saved, or None when the server cannot exit
/// (logged, the shutdown cancelled).
pub fn finish_begins(shared: &Shared, flags: Flags) -> Option<bool> {
    log_replicas(shared);
    // The AOF just turned on has no base yet: exiting now would lose
    // the data from before it.
    if shared.aof.enabled() && shared.aof.awaiting_base.load(Ordering::SeqCst) {
        if !flags.force {
            crate::warning!("Writing initial AOF, can't exit.");
            fail(shared);
            return None;
        }
        crate::warning!("Writing initial AOF. Exit anyway.");
    }
    // While a dataset loads there is nothing whole to save: Redis's
    // SHUTDOWN and a signal then always act as NOSAVE.
    if shared.repl.replica.loading.flags().0 {
        return Some(false);
    }
    Some((rules::rules_set(shared) && !flags.nosave) || flags.save)
}

/// After a failed final save: whether to exit anyway (FORCE). If not,
/// the shutdown is cancelled and the server keeps running.
pub fn save_failed(shared: &Shared, flags: Flags) -> bool {
    if flags.force {
        crate::warning!("Error trying to save the DB. Exit anyway.");
        return true;
    }
    crate::warning!("Error trying to save the DB, can't exit.");
    fail(shared);
    false
}

/// The final steps failed: the server keeps running.
fn fail(shared: &Shared) {
    crate::warning!("Errors trying to shut down the server. Check the logs for more information.");
    cancel(shared);
}

fn log_replicas(shared: &Shared) {
    let offset = primary::master_offset(shared);
    let replicas = shared.repl.primary.replicas();
    let now = unix_ms() / 1000;
    let mut lagging = 0;
    for r in replicas.iter().filter(|r| r.ack_offset != offset) {
        lagging += 1;
        let lag = match r.state {
            ONLINE => now.saturating_sub(r.ack_ms / 1000),
            _ => 0,
        };
        crate::warning!(
            "Lagging replica {}:{} reported offset {} behind master, lag={lag}, state={}.",
            r.ip,
            r.port,
            offset - r.ack_offset,
            r.state
        );
    }
    if !replicas.is_empty() {
        crate::notice!(
            "{} of {} replicas are in sync when shutting down.",
            replicas.len() - lagging,
            replicas.len()
        );
    }
}

/// Ends a shutdown that will not happen (`cancelShutdown`): blocked
/// callers get their error, writes go on.
fn cancel(shared: &Shared) {
    let mut st = shared.shutdown.state.lock().unwrap();
    st.deadline_ms = 0;
    st.flags = Flags::default();
    st.signalled = false;
    st.finishing = false;
    st.cancelled += 1;
    drop(st);
    shared.write_pause.shutdown_pause(false);
}

/// SHUTDOWN ABORT (`abortShutdown`): false when nothing was in progress.
/// The final steps, once begun, are not stopped (Redis runs them without
/// serving clients).
pub fn abort(shared: &Shared) -> bool {
    let mut st = shared.shutdown.state.lock().unwrap();
    if st.finishing || (st.deadline_ms == 0 && !st.signalled) {
        return false;
    }
    if st.deadline_ms != 0 {
        drop(st);
        cancel(shared);
    } else {
        st.signalled = false;
    }
    crate::notice!("Shutdown manually aborted.");
    true
}

/// From the signal thread, after SIGTERM/SIGINT: starts the shutdown
/// unless one already runs or it was aborted meanwhile. The final save
/// runs on another thread, so a second SIGINT is heard during it.
pub fn on_signal(shared: &Arc<Shared>, flags: Flags) {
    if !shared.shutdown.signalled() || shared.shutdown.initiated() {
        return;
    }
    if let Prepared::Finish = prepare(shared, flags) {
        let sh = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("shutdown".into())
            .spawn(move || finish_blocking(&sh, flags));
        if spawned.is_err() {
            finish_blocking(shared, flags);
        }
    }
}

impl Flags {
    /// A signal's options: `shutdown-on-sigint` / `shutdown-on-sigterm`
    /// ("default" sets none).
    pub fn from_setting(value: &str) -> Flags {
        let has = |o: &str| value.split(' ').any(|w| w == o);
        Flags {
            save: has("save"),
            nosave: has("nosave"),
            now: has("now"),
            force: has("force"),
        }
    }
}
