//! A running script's count hook (Redis's luaMaskCountHook and
//! scriptInterrupt): every 100,000 Lua instructions it compares the
//! script's run time with `busy-reply-threshold`. Past it, the script
//! becomes the node's busy script (`busy.rs`, logged as Redis logs it)
//! and, at each hook from then on, pauses (`fiber.rs`) so its shard
//! serves other clients, which get `-BUSY`. Once SCRIPT KILL or FUNCTION
//! KILL asked, the hook raises "Script killed by user with SCRIPT KILL..."
//! — on every line from then on, so a `pcall` in the script cannot keep it
//! alive.
//!
//! The watch is set by the caller that runs the script on its own stack
//! (`run.rs`), and by the AOF's loading (`replay.rs`: logged only);
//! elsewhere (a script inside EXEC) the hook does nothing.

use super::busy::Running;
use super::fiber;
use crate::server::shard::ShardRt;
use mlua::{HookTriggers, Lua, VmState};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Instant;

/// Instructions between two looks at the clock (Redis's count).
const HOOK_EVERY: u32 = 100_000;

const KILLED: &str = "Script killed by user with SCRIPT KILL...";

struct Watch {
    /// The shard it runs on; None while loading (logged, never busy).
    rt: Option<Rc<ShardRt>>,
    started: Instant,
    /// `busy-reply-threshold` in ms when the script started; 0: never busy.
    threshold_ms: u64,
    eval: bool,
    from_master: bool,
    /// The SHA or the function name.
    name: String,
    /// The command that runs the script (read only when it turns busy).
    argv: *const [Vec<u8>],
    wrote: bool,
    logged: bool,
    busy: bool,
}

thread_local! {
    static WATCH: RefCell<Option<Watch>> = const { RefCell::new(None) };
    /// The hook runs on every line (after a kill) rather than by count.
    static EVERY_LINE: Cell<bool> = const { Cell::new(false) };
}

/// Installs the count hook on a thread's Lua state (once, and again
/// after FUNCTION LOAD's own hook).
pub fn install(lua: &Lua) {
    let _ = lua.set_global_hook(
        HookTriggers::new().every_nth_instruction(HOOK_EVERY),
        |lua, _| on_hook(lua),
    );
    EVERY_LINE.with(|e| e.set(false));
}

/// After a script: the count hook again if a kill switched it.
pub fn after_run(lua: &Lua) {
    if EVERY_LINE.with(|e| e.get()) {
        install(lua);
    }
}

/// The script about to run on this thread (on its own stack), watched
/// until the returned guard drops.
pub struct Watching(());

/// Starts watching: `args` is the EVAL/FCALL command, `name` the SHA or
/// function name.
pub fn watch(
    rt: &Rc<ShardRt>,
    args: &[Vec<u8>],
    name: String,
    eval: bool,
    from_master: bool,
) -> Watching {
    let threshold_ms = rt.settings().exec.busy_reply_threshold_ms;
    start(
        Some(rt.clone()),
        threshold_ms,
        args,
        name,
        eval,
        from_master,
    )
}

/// Watches a script the AOF's loading runs: past the threshold it is
/// logged as slow (the node answers -LOADING meanwhile anyway).
pub fn watch_loading(threshold_ms: u64, args: &[Vec<u8>], name: String, eval: bool) -> Watching {
    start(None, threshold_ms, args, name, eval, true)
}

fn start(
    rt: Option<Rc<ShardRt>>,
    threshold_ms: u64,
    args: &[Vec<u8>],
    name: String,
    eval: bool,
    from_master: bool,
) -> Watching {
    WATCH.with(|w| {
        *w.borrow_mut() = Some(Watch {
            rt,
            started: Instant::now(),
            threshold_ms,
            eval,
            from_master,
            name,
            argv: args as *const [Vec<u8>],
            wrote: false,
            logged: false,
            busy: false,
        })
    });
    Watching(())
}

impl Drop for Watching {
    fn drop(&mut self) {
        if let Some(Watch {
            rt: Some(rt),
            busy: true,
            ..
        }) = WATCH.with(|w| w.borrow_mut().take())
        {
            rt.shared.busy.leave();
        }
    }
}

/// The watched script ran a write command (SCRIPT KILL refuses then).
pub fn note_write() {
    WATCH.with(|w| {
        if let Some(w) = w.borrow_mut().as_mut() {
            w.wrote = true;
        }
    });
}

enum Step {
    Go,
    /// Busy: let the shard run others, on this shard's node.
    Pause(Rc<ShardRt>),
    Kill,
}

fn on_hook(lua: &Lua) -> mlua::Result<VmState> {
    if fiber::abandoned() {
        return kill(lua);
    }
    match step() {
        Step::Go => Ok(VmState::Continue),
        Step::Kill => kill(lua),
        Step::Pause(rt) => {
            let held = crate::server::direct::park_locks(&rt);
            fiber::pause();
            crate::server::direct::unpark_locks(&rt, held);
            if rt.shared.busy.kill_requested() || fiber::abandoned() {
                return kill(lua);
            }
            Ok(VmState::Continue)
        }
    }
}

/// A script's command waited for other shards' threads (mesh.rs
/// `run_in_script`): a script that spends its time there runs few Lua
/// instructions, so the threshold is checked here too (it turns busy;
/// a kill is seen by the next hook).
pub fn after_wait() {
    let _ = step();
}

/// What the watched script does now: goes on, pauses (busy), or ends.
fn step() -> Step {
    WATCH.with(|w| {
        let mut w = w.borrow_mut();
        let Some(w) = w.as_mut() else {
            return Step::Go;
        };
        if !w.busy {
            let elapsed = w.started.elapsed().as_millis() as u64;
            if w.threshold_ms == 0 || elapsed < w.threshold_ms {
                return Step::Go;
            }
            if !w.logged {
                w.logged = true;
                crate::warning!(
                    "Slow script detected: still in execution after {elapsed} milliseconds. You can try killing the script using the {} command. Script name is: {}.",
                    if w.eval { "SCRIPT KILL" } else { "FUNCTION KILL" },
                    w.name
                );
            }
            let Some(rt) = w.rt.as_ref().filter(|_| fiber::can_pause()) else {
                return Step::Go;
            };
            // SAFETY: the command outlives the watch (run.rs holds both).
            let argv = unsafe { &*w.argv }.to_vec();
            let running = Running {
                name: w.name.clone(),
                argv,
                started: w.started,
            };
            rt.shared.busy.enter(w.eval, w.from_master, running);
            w.busy = true;
        }
        // Only a watch with a shard turns busy.
        let rt = w.rt.clone().expect("a busy script's shard");
        if rt.shared.busy.kill_requested() {
            return Step::Kill;
        }
        rt.shared.busy.set_wrote(w.wrote);
        Step::Pause(rt)
    })
}

/// Ends the script with SCRIPT KILL's error, raised again on every line
/// so that no `pcall` swallows it for good.
fn kill(lua: &Lua) -> mlua::Result<VmState> {
    if !EVERY_LINE.with(|e| e.replace(true)) {
        crate::warning!("Lua script killed by user with SCRIPT KILL.");
        let _ = lua.set_global_hook(HookTriggers::new().every_line(), |lua, _| on_hook(lua));
    }
    Err(mlua::Error::external(Killed))
}

/// SCRIPT KILL's error as the script's error handler reads it (a
/// RuntimeError would read "runtime error: ...").
#[derive(Debug)]
struct Killed;

impl std::fmt::Display for Killed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(KILLED)
    }
}

impl std::error::Error for Killed {}
