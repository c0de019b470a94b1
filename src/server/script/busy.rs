//! A script running past `busy-reply-threshold` (Redis's busy script),
//! as the whole node sees it.
//!
//! While one runs, every shard answers other clients' commands with
//! `-BUSY` except those flagged allow_busy (SCRIPT KILL, FUNCTION KILL,
//! SHUTDOWN NOSAVE, MULTI, AUTH, HELLO, ...), and no other task touches
//! the data: [`Busy::wait_idle`] holds them at the shard's gate. The
//! running script itself (its thread's `timeout.rs` hook) lets its shard
//! serve those clients between slices of Lua and ends with SCRIPT KILL's
//! error once [`Busy::kill`] asked for it.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What FUNCTION STATS shows of the running script.
#[derive(Clone)]
pub struct Running {
    /// The function's name, or the script's SHA.
    pub name: String,
    /// The command that runs it (FCALL name numkeys ...).
    pub argv: Vec<Vec<u8>>,
    pub started: Instant,
}

#[derive(Default)]
pub struct Busy {
    /// What a running script does to the node's gates ([`ACTIVE`],
    /// [`LENDING`], [`LOCKS`]): one load tells every gate it is open.
    state: AtomicU8,
    /// It was run by EVAL/EVALSHA (not FCALL): the BUSY text names SCRIPT KILL.
    eval: AtomicBool,
    /// It came from our master's link: SCRIPT KILL may not end it.
    from_master: AtomicBool,
    /// It has run a write command: SCRIPT KILL may not end it.
    wrote: AtomicBool,
    /// SCRIPT KILL or FUNCTION KILL asked it to end.
    killed: AtomicBool,
    running: Mutex<Option<Running>>,
}

/// A script is past the threshold and still running: commands not
/// flagged allow_busy are refused, other tasks wait at the gates.
const ACTIVE: u8 = 1;
/// A script waits for other shards' threads (`script/lend.rs`) with its
/// data locks let go: tasks wait at the gates, commands are not refused.
const LENDING: u8 = 2;
/// A script at shards > 1 holds every shard's data lock: a task about to
/// touch its own shard's data waits at the gate (asynchronously) rather
/// than spin on the lock inside its step, so that its thread stays free
/// to serve what the script may ask of it, and never runs in the middle
/// of the script should the script let its locks go.
const LOCKS: u8 = 4;

const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

impl Busy {
    /// Whether a script holds the node (one relaxed load: every command's
    /// planning asks).
    #[inline]
    pub fn is_active(&self) -> bool {
        self.state.load(Ordering::Relaxed) & ACTIVE != 0
    }

    /// The reply to a command that may not run now, if any.
    pub fn refusal(&self) -> Option<&'static str> {
        if !self.is_active() {
            return None;
        }
        Some(self.busy_text())
    }

    /// Whether the running script came from EVAL/EVALSHA (not FCALL).
    pub fn runs_eval(&self) -> bool {
        self.eval.load(Ordering::Relaxed)
    }

    /// `-BUSY`, naming the command that ends the running script.
    pub fn busy_text(&self) -> &'static str {
        if self.runs_eval() {
            BUSY_EVAL
        } else {
            BUSY_FUNCTION
        }
    }

    /// The running script passed the threshold.
    pub fn enter(&self, eval: bool, from_master: bool, running: Running) {
        *self.running.lock().unwrap() = Some(running);
        self.eval.store(eval, Ordering::Relaxed);
        self.from_master.store(from_master, Ordering::Relaxed);
        self.killed.store(false, Ordering::Relaxed);
        self.state.fetch_or(ACTIVE, Ordering::Release);
    }

    /// The busy script ended (returned, failed or killed).
    pub fn leave(&self) {
        *self.running.lock().unwrap() = None;
        self.wrote.store(false, Ordering::Relaxed);
        self.killed.store(false, Ordering::Relaxed);
        self.state.fetch_and(!ACTIVE, Ordering::Release);
    }

    /// The running script wrote (kept current by its thread before it
    /// lets others run).
    pub fn set_wrote(&self, wrote: bool) {
        self.wrote.store(wrote, Ordering::Relaxed);
    }

    /// Whether SCRIPT KILL or FUNCTION KILL asked the script to end.
    pub fn kill_requested(&self) -> bool {
        self.killed.load(Ordering::Relaxed)
    }

    /// SCRIPT KILL (`eval`) or FUNCTION KILL: Ok once the script is asked
    /// to end, else the error reply (Redis's scriptKill).
    pub fn kill(&self, eval: bool) -> Result<(), &'static str> {
        if !self.is_active() {
            return Err("NOTBUSY No scripts in execution right now.");
        }
        if self.from_master.load(Ordering::Relaxed) {
            return Err("UNKILLABLE The busy script was sent by a master instance in the context of replication and cannot be killed.");
        }
        if self.wrote.load(Ordering::Relaxed) {
            return Err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.");
        }
        if eval != self.runs_eval() {
            return Err(self.busy_text());
        }
        self.killed.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// The running script, for FUNCTION STATS.
    pub fn running(&self) -> Option<Running> {
        if !self.is_active() {
            return None;
        }
        self.running.lock().unwrap().clone()
    }

    /// Whether a running script concerns the gates at all (one relaxed
    /// load: every gate asks).
    #[inline]
    pub fn gates_shut(&self) -> bool {
        self.state.load(Ordering::Relaxed) != 0
    }

    /// Whether a script has the node to itself right now, its locks let
    /// go or not (busy, or waiting for another shard's thread): a task
    /// that took a data lock must give it back and wait.
    pub fn holds_node(&self) -> bool {
        self.state.load(Ordering::Acquire) & (ACTIVE | LENDING) != 0
    }

    /// The running script starts or stops waiting for other shards'
    /// threads (`lend.rs`).
    pub fn set_lending(&self, on: bool) {
        self.set(LENDING, on);
    }

    /// A script at shards > 1 took (true) or is about to give back every
    /// shard's data lock.
    pub fn set_script_locks(&self, on: bool) {
        self.set(LOCKS, on);
    }

    fn set(&self, bit: u8, on: bool) {
        if on {
            self.state.fetch_or(bit, Ordering::SeqCst);
        } else {
            self.state.fetch_and(!bit, Ordering::SeqCst);
        }
    }

    /// Waits while a script holds the node: a task about to touch data
    /// (at the shard's gate) must not run in the middle of it, nor spin
    /// on a data lock a script holds (`own_locked`: another thread holds
    /// the caller's own shard's lock). A script's wait for another thread
    /// lasts a round trip: checked more often than a busy script.
    pub async fn wait_idle(&self, own_locked: impl Fn() -> bool) {
        loop {
            let state = self.state.load(Ordering::Acquire);
            let pause = if state & ACTIVE != 0 {
                Duration::from_millis(1)
            } else if state & LENDING != 0 || (state & LOCKS != 0 && own_locked()) {
                Duration::from_micros(20)
            } else {
                return;
            };
            glommio::timer::sleep(pause).await;
        }
    }
}
