//! FAILOVER: a coordinated switch of roles between this primary and one
//! of its replicas (Redis 7.0's `failoverCommand`, standalone only).
//!
//! 1. FAILOVER pauses client writes (the failover's own pause: CLIENT
//!    UNPAUSE does not end it) and waits (`waiting-for-sync`).
//! 2. A watcher checks every few ms: once the pause is settled (no client
//!    batch still in flight, so the master offset no longer moves) and
//!    the target replica (or, without TO, any replica) acknowledged that
//!    offset, this node becomes a replica of it (`failover-in-progress`).
//!    With TIMEOUT the wait ends there: with FORCE the failover goes on
//!    anyway, else it is aborted.
//! 3. The master link then sends `PSYNC <replid> <offset> FAILOVER`; the
//!    replica, if it follows the same history, turns primary first and
//!    answers the PSYNC (+CONTINUE). Either sync answer ends the failover
//!    and the pause; an error aborts it (this node turns primary again).
//!
//! FAILOVER ABORT ends it in either phase. Meanwhile REPLICAOF, SYNC and
//! PSYNC are refused, as in Redis.

use super::host::{ReplHost, ReplShared, SyncRequester};
use crate::sys::clock::unix_ms;
use std::rc::Rc;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Writes paused, waiting for a replica to acknowledge the offset.
    WaitForSync,
    /// Following the target, whose answer to PSYNC FAILOVER is awaited.
    InProgress,
}

#[derive(Clone, Debug)]
struct Plan {
    /// Tells the watcher of an older failover to stop.
    serial: u64,
    phase: Phase,
    /// TO host port, or the replica found caught up.
    target: Option<(String, u16)>,
    /// TIMEOUT's deadline, Unix ms (0: none).
    end_ms: u64,
    force: bool,
}

/// The node's failover, if one is going on (in `Repl`).
#[derive(Default)]
pub struct Failover {
    plan: Mutex<Option<Plan>>,
    serials: std::sync::atomic::AtomicU64,
}

impl Failover {
    /// `master_failover_state` of INFO replication.
    pub fn state_name(&self) -> &'static str {
        match self.plan.lock().unwrap().as_ref().map(|p| p.phase) {
            None => "no-failover",
            Some(Phase::WaitForSync) => "waiting-for-sync",
            Some(Phase::InProgress) => "failover-in-progress",
        }
    }

    pub fn active(&self) -> bool {
        self.plan.lock().unwrap().is_some()
    }

    /// The master link must send PSYNC with FAILOVER.
    pub fn in_progress(&self) -> bool {
        self.plan
            .lock()
            .unwrap()
            .as_ref()
            .is_some_and(|p| p.phase == Phase::InProgress)
    }

    /// Moves failover `serial`, still waiting, to `InProgress` towards
    /// `target`; false if it ended meanwhile.
    fn start(&self, serial: u64, target: (String, u16)) -> bool {
        let mut plan = self.plan.lock().unwrap();
        match plan.as_mut() {
            Some(p) if p.serial == serial && p.phase == Phase::WaitForSync => {
                p.phase = Phase::InProgress;
                p.target = Some(target);
                true
            }
            _ => false,
        }
    }
}

/// Ends the failover, if any, and its pause (`clearFailoverState`).
fn clear<S: ReplShared + ?Sized>(shared: &S) {
    if shared.repl().failover.plan.lock().unwrap().take().is_some() {
        shared.unpause_writes();
    }
}

/// Redis's `abortFailover`: a node already following the target turns
/// primary again (a new history, as REPLICAOF NO ONE), writes resume.
pub async fn abort<H: ReplHost>(rt: &Rc<H>, why: &str) {
    let shared = rt.shared();
    // Taken at once: a PSYNC answer arriving meanwhile finds no failover.
    let Some(plan) = shared.repl().failover.plan.lock().unwrap().take() else {
        return;
    };
    match &plan.target {
        Some((host, port)) => crate::notice!("FAILOVER to {host}:{port} aborted: {why}"),
        None => crate::notice!("FAILOVER to any replica aborted: {why}"),
    }
    if plan.phase == Phase::InProgress {
        promote(rt, "failover aborted").await;
    }
    shared.unpause_writes();
}

/// The master link's PSYNC FAILOVER was answered: a sync (`accepted`)
/// completes the failover, anything else aborts it.
pub async fn psync_answered<H: ReplHost>(rt: &Rc<H>, accepted: bool) {
    if !rt.shared().repl().failover.in_progress() {
        return;
    }
    if accepted {
        clear(rt.shared());
    } else {
        abort(rt, "Failover target rejected psync request").await;
    }
}

/// Redis's `replicationUnsetMaster`: primary with a new history; its
/// replicas are disconnected so that they learn it (they continue with
/// PSYNC under the previous id).
async fn promote<H: ReplHost>(rt: &Rc<H>, why: &str) {
    super::replica::unset_master(rt.shared(), why);
    super::primary::disconnect_replicas(rt).await;
}

/// PSYNC/SYNC on this node: `PSYNC <replid> <offset> FAILOVER` promotes
/// a replica that follows history `replid` (Redis's syncCommand). Then
/// the refusals Redis answers before any synchronization. Err is the
/// error reply.
pub async fn check_sync<C: SyncRequester>(conn: &C, args: &[Vec<u8>]) -> Result<(), String> {
    let shared = conn.host().shared();
    if args.len() > 3
        && args[0].eq_ignore_ascii_case(b"psync")
        && args[3].eq_ignore_ascii_case(b"failover")
    {
        let replid = String::from_utf8_lossy(&args[1]).into_owned();
        crate::warning!("Failover request received for replid {replid}.");
        if !shared.repl().replica.is_replica() {
            return Err("ERR PSYNC FAILOVER can't be sent to a master.".into());
        }
        let mine = shared.repl().identity.lock().unwrap().replid.clone();
        if !replid.eq_ignore_ascii_case(&mine) {
            return Err("ERR PSYNC FAILOVER replid must match my replid.".into());
        }
        let from = conn.describe(unix_ms());
        promote(conn.host(), &format!("failover request from '{from}'")).await;
    }
    if shared.repl().failover.active() {
        return Err("NOMASTERLINK Can't SYNC while failing over".into());
    }
    let st = &shared.repl().replica;
    if st.is_replica() && st.link_state() != super::replica::LinkState::Connected {
        return Err("NOMASTERLINK Can't SYNC while not connected with my master".into());
    }
    Ok(())
}

/// Starts a failover (FAILOVER's checks passed): pauses client writes
/// and watches for the target, or any replica, to catch up. `timeout_ms`
/// 0 waits without a deadline.
pub fn begin<H: ReplHost>(rt: &Rc<H>, target: Option<(String, u16)>, timeout_ms: u64, force: bool) {
    let shared = rt.shared();
    let fo = &shared.repl().failover;
    let serial = fo
        .serials
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    *fo.plan.lock().unwrap() = Some(Plan {
        serial,
        phase: Phase::WaitForSync,
        target,
        end_ms: if timeout_ms > 0 {
            unix_ms() + timeout_ms
        } else {
            0
        },
        force,
    });
    shared.pause_writes(u64::MAX);
    crate::sys::exec::spawn(watch(rt.clone(), serial)).detach();
}

/// How often the watcher looks (Redis: before every event loop sleep).
const TICK: Duration = Duration::from_millis(10);

/// Redis's `updateFailoverStatus`, for failover `serial` while it waits.
async fn watch<H: ReplHost>(rt: Rc<H>, serial: u64) {
    let shared = rt.shared().clone();
    loop {
        glommio::timer::sleep(TICK).await;
        let plan = match shared.repl().failover.plan.lock().unwrap().as_ref() {
            Some(p) if p.serial == serial && p.phase == Phase::WaitForSync => p.clone(),
            _ => return,
        };
        if plan.end_ms != 0 && plan.end_ms <= unix_ms() {
            match (plan.force, plan.target) {
                (true, Some((host, port))) => {
                    crate::notice!("FAILOVER to {host}:{port} time out exceeded, failing over.");
                    follow(&rt, serial, host, port);
                }
                _ => abort(&rt, "Replica never caught up before timeout").await,
            }
            return;
        }
        // Until no write is in flight the offset may still move: a
        // replica that reached it now could miss an acknowledged write.
        if !shared.writes_settled() {
            continue;
        }
        let offset = super::primary::master_offset(&shared);
        let replicas = shared.repl().primary.replicas();
        let found = match &plan.target {
            Some((host, port)) => replicas
                .iter()
                .find(|r| r.ip.eq_ignore_ascii_case(host) && r.port == *port),
            None => replicas.iter().find(|r| r.ack_offset == offset),
        };
        if let Some(r) = found.filter(|r| r.ack_offset == offset) {
            let (host, port) = plan.target.unwrap_or_else(|| (r.ip.clone(), r.port));
            crate::notice!("Failover target {host}:{port} is synced, failing over.");
            follow(&rt, serial, host, port);
            return;
        }
    }
}

/// Becomes a replica of the target; its link sends PSYNC FAILOVER.
fn follow<H: ReplHost>(rt: &Rc<H>, serial: u64, host: String, port: u16) {
    if rt
        .shared()
        .repl()
        .failover
        .start(serial, (host.clone(), port))
    {
        crate::notice!("Connecting to MASTER {host}:{port}");
        super::replica::set_master(rt, host, port);
    }
}
