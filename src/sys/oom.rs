//! `oom-score-adj`: the process's /proc/self/oom_score_adj for its role,
//! as Redis 7.0's `setOOMScoreAdj`. The score the process had before
//! Shardis first changed it is kept, so `relative` adds to it and `no`
//! puts it back.
//!
//! The third value (`bgchild`) is never written: Redis gives it to its
//! forked save child, and Shardis's snapshot is a thread, whose score is
//! the process's (the kernel keeps one per process, not per thread).

use std::sync::Mutex;

/// The score before Shardis's first change, while Shardis controls it
/// (Redis's `oom_score_adjusted_by_redis` and `oom_score_adj_base`).
static BASE: Mutex<Option<i64>> = Mutex::new(None);

const PATH: &str = "/proc/self/oom_score_adj";

/// The error CONFIG SET gives when the score cannot be written.
pub const FAILED: &str = "Failed to set current oom_score_adj. Check server logs.";

/// Applies `mode` (`no`, `yes`, `relative`, `absolute`) with `values`
/// (`<master> <replica> <bgchild>`) for the role. Err (the line logged)
/// when the file cannot be read or written, e.g. an unprivileged process
/// lowering its score.
pub fn apply(mode: &str, values: &str, replica: bool) -> Result<(), String> {
    let mut base = BASE.lock().unwrap();
    let val = if mode != "no" {
        let b = match *base {
            Some(b) => b,
            None => {
                let read = std::fs::read_to_string(PATH);
                let text = read.map_err(|e| failed("read", &e))?;
                // atoi: a bad file reads as 0.
                let b = text.trim().parse().unwrap_or(0);
                *base = Some(b);
                b
            }
        };
        let class = usize::from(replica);
        let mut v: i64 = values
            .split_whitespace()
            .nth(class)
            .and_then(|w| w.parse().ok())
            .unwrap_or(0);
        if mode != "absolute" {
            v += b;
        }
        v.clamp(-1000, 1000)
    } else if let Some(b) = base.take() {
        b
    } else {
        return Ok(());
    };
    std::fs::write(PATH, format!("{val}\n")).map_err(|e| failed("write", &e))
}

/// Logs Redis's warning and returns it.
fn failed(what: &str, e: &std::io::Error) -> String {
    let line = format!(
        "Unable to {what} oom_score_adj: {}",
        super::errno::strerror(e)
    );
    crate::warning!("{line}");
    line
}
