//! Redis's `server.loading` / `server.async_loading` while a replica
//! loads its master's RDB, and while any node loads its own RDB or AOF at
//! start-up (server/startup_load.rs): INFO's `loading` and
//! `async_loading` (and the `loading_*` lines), and the `-LOADING`
//! refusal of commands without the `loading` flag (without
//! `no-async-loading` for async loading).
//!
//! Loading (`repl-diskless-load disabled`, `on-empty-db`, and `swapdb`
//! with another master's history): the RDB is parsed and installed.
//! Async loading (`swapdb` continuing the same history): the old data
//! is served meanwhile, as Redis does.

use crate::sys::clock::unix_ms;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering};

/// The error of a command refused while loading.
pub const LOADING_ERR: &str = "LOADING Redis is loading the dataset in memory";

/// How long a request waits at most for a load's first
/// `interval` bytes (Redis reads 2 MiB in a few milliseconds).
pub const FIRST_EVENTS_MS: u64 = 100;

const NONE: u8 = 0;
const LOADING: u8 = 1;
const ASYNC: u8 = 2;

#[derive(Default)]
pub struct Loading {
    phase: AtomicU8,
    started_ms: AtomicU64,
    /// Bytes of the RDB (0 when the master did not say: EOF-marked).
    total: AtomicI64,
    loaded: AtomicI64,
}

impl Loading {
    /// Starts loading (async: the old data keeps being served).
    pub fn start(&self, asynchronous: bool, total: Option<usize>) {
        self.started_ms.store(unix_ms(), Ordering::Relaxed);
        self.total
            .store(total.map_or(0, |n| n as i64), Ordering::Relaxed);
        self.loaded.store(0, Ordering::Relaxed);
        let phase = if asynchronous { ASYNC } else { LOADING };
        self.phase.store(phase, Ordering::SeqCst);
    }

    /// The size of what is being loaded, once known.
    pub fn sized(&self, total: usize) {
        self.total.store(total as i64, Ordering::Relaxed);
    }

    /// Bytes read so far.
    pub fn progress(&self, loaded: usize) {
        self.loaded.store(loaded as i64, Ordering::Relaxed);
    }

    pub fn stop(&self) {
        self.phase.store(NONE, Ordering::SeqCst);
    }

    /// (loading, async_loading) as INFO shows them.
    pub fn flags(&self) -> (bool, bool) {
        let p = self.phase.load(Ordering::Relaxed);
        (p == LOADING, p == ASYNC)
    }

    /// Whether a (not async) load is in progress: one relaxed load, asked
    /// before every batch of requests.
    #[inline]
    pub fn is_loading(&self) -> bool {
        self.phase.load(Ordering::Relaxed) == LOADING
    }

    /// Whether a request must wait rather than be answered -LOADING:
    /// Redis loads on its event loop's thread and serves clients only
    /// every `interval` bytes loaded (loading-process-events-interval-
    /// bytes), so a small load is never seen. Held while the load is short
    /// of `interval`, and for at most [`FIRST_EVENTS_MS`] where the
    /// loader reports no progress (a replica's or an AOF's parse).
    pub fn holds_requests(&self, interval: i64) -> bool {
        self.is_loading()
            && self.loaded.load(Ordering::Relaxed) < interval
            && unix_ms().saturating_sub(self.started_ms.load(Ordering::Relaxed)) < FIRST_EVENTS_MS
    }

    /// processCommand's checks: while loading, commands without the
    /// `loading` flag; while async loading, those flagged
    /// `no-async-loading`.
    #[inline]
    pub fn refuses(&self, has_loading_flag: bool, no_async_loading: bool) -> bool {
        match self.phase.load(Ordering::Relaxed) {
            NONE => false,
            LOADING => !has_loading_flag,
            _ => no_async_loading,
        }
    }

    /// The `loading_*` lines of INFO persistence, while loading either
    /// way (Redis prints them when `server.loading`).
    pub fn info_lines(&self, s: &mut String) {
        use std::fmt::Write as _;
        if self.phase.load(Ordering::Relaxed) == NONE {
            return;
        }
        let start_ms = self.started_ms.load(Ordering::Relaxed);
        let total = self.total.load(Ordering::Relaxed);
        let loaded = self.loaded.load(Ordering::Relaxed);
        let (perc, remaining) = if total > 0 {
            (loaded as f64 / total as f64 * 100.0, total - loaded)
        } else {
            (0.0, 1)
        };
        let elapsed = (unix_ms() / 1000).saturating_sub(start_ms / 1000) as i64;
        let eta = if elapsed == 0 {
            1
        } else {
            elapsed * remaining / (loaded + 1)
        };
        let _ = write!(
            s,
            "loading_start_time:{}\r\nloading_total_bytes:{total}\r\nloading_rdb_used_mem:0\r\nloading_loaded_bytes:{loaded}\r\nloading_loaded_perc:{perc:.2}\r\nloading_eta_seconds:{eta}\r\n",
            start_ms / 1000
        );
    }
}
