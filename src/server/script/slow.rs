//! A script still running past `busy-reply-threshold` is logged once,
//! as Redis's "Slow script detected". Redis then also answers other
//! clients with BUSY and takes SCRIPT KILL; Shardis does neither yet, so
//! its line leaves out Redis's hint to kill the script.

use mlua::{HookTriggers, Lua, VmState};
use std::cell::Cell;
use std::time::Instant;

/// Watches the script about to run on `lua` (named `name` in the log):
/// every 100,000 instructions, as Redis's count hook, its running time
/// is checked. A threshold of 0 watches nothing (Redis sets no hook).
/// Returns whether a watch was set, for [`unwatch`].
pub fn watch(lua: &Lua, threshold_ms: u64, name: String) -> bool {
    if threshold_ms == 0 {
        return false;
    }
    let started = Instant::now();
    let logged = Cell::new(false);
    let set = lua.set_hook(
        HookTriggers::new().every_nth_instruction(100_000),
        move |_, _| {
            let elapsed = started.elapsed().as_millis() as u64;
            if !logged.get() && elapsed >= threshold_ms {
                logged.set(true);
                crate::warning!(
                    "Slow script detected: still in execution after {elapsed} milliseconds. Script name is: {name}."
                );
            }
            Ok(VmState::Continue)
        },
    );
    set.is_ok()
}

/// Ends the watch [`watch`] set.
pub fn unwatch(lua: &Lua, watched: bool) {
    if watched {
        lua.remove_hook();
    }
}
