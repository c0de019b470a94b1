//! INFO commandstats and errorstats of a script's own calls, as Redis
//! 7.0 keeps them: a call refused before it runs (scriptCall's checks)
//! counts its error and the command's `rejected_calls`; a call that ran
//! counts as any command (its error once, when it failed). That error
//! reaches the script as a table marked `ignore_error_stats_update`, and
//! a script ending with such an error counts only as a failed call
//! (`observe::errors_counted_already`), one failure per such error in
//! its reply.

use crate::server::shard::{record_error, ShardRt};
use mlua::{Table, Value};

/// The mark Redis puts on an error table whose error was counted.
pub const COUNTED_MARK: &str = "ignore_error_stats_update";

/// A call refused before it ran with `err` (a message without a leading
/// '-' is an ERR, as Redis's afterErrorReply reads it); `name`: the
/// command, None when unknown.
pub fn rejected(rt: &ShardRt, name: Option<&'static str>, err: &str) {
    let reply = if err.starts_with('-') {
        err.to_string()
    } else {
        format!("-ERR {err}")
    };
    let mut core = rt.core.borrow_mut();
    if let Some(name) = name {
        core.stats.cmd.entry(name).or_default().rejected += 1;
    }
    record_error(&mut core.stats, reply.as_bytes());
}

/// A call the engine answers itself (SELECT) that ran, failing with
/// `err` when Some (a message with its '-').
pub fn answered(rt: &ShardRt, name: &'static str, err: Option<&str>) {
    let mut core = rt.core.borrow_mut();
    let stats = &mut core.stats;
    stats.commands += 1;
    let st = stats.cmd.entry(name).or_default();
    st.calls += 1;
    if let Some(err) = err {
        st.failed += 1;
        record_error(stats, err.as_bytes());
    }
}

thread_local! {
    /// Marked errors written into the running script's reply.
    static IN_REPLY: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// A marked error went into the script's reply.
pub fn note_in_reply() {
    IN_REPLY.with(|n| n.set(n.get() + 1));
}

/// Takes the count of marked errors in the reply (0 before a script).
pub fn take_in_reply() -> u64 {
    IN_REPLY.with(|n| n.replace(0))
}

/// Whether `v`, a script's error value, carries the counted mark.
pub fn marked(v: &Value) -> bool {
    match v {
        Value::Table(t) => is_marked(t),
        _ => false,
    }
}

pub fn is_marked(t: &Table) -> bool {
    matches!(t.raw_get::<Value>(COUNTED_MARK), Ok(Value::Boolean(true)))
}
