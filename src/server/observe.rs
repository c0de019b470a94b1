//! The one place a completed command is observed: INFO commandstats and
//! errorstats, the latency histograms (INFO latencystats, LATENCY
//! HISTOGRAM), the slow log, the latency monitor and MONITOR's feed.
//! Called where a shard command's step ends (effects.rs) and where a
//! connection-level or multi-shard command ends (`ShardRt::count_call`).
//!
//! With the slow log and the latency monitor off and no monitor, a
//! command costs the counters, one histogram bucket and three tests.

use super::shard::{ShardRt, Stats};
use super::spec::{CommandSpec, Flags};
use crate::config::keys as conf;
use std::collections::HashMap;
use std::sync::Mutex;

/// The settings the observers consult, from the configuration.
#[derive(Clone, Debug)]
pub struct Thresholds {
    /// `slowlog-log-slower-than` in µs; negative: off.
    pub slowlog_slower_than: i64,
    pub slowlog_max_len: usize,
    /// `latency-monitor-threshold` in ms; 0: off.
    pub latency_ms: u64,
    /// `latency-tracking`: per-command histograms.
    pub tracking: bool,
}

impl Thresholds {
    pub fn from_config(c: &crate::config::Config) -> Thresholds {
        Thresholds {
            slowlog_slower_than: c.int(conf::SLOWLOG_LOG_SLOWER_THAN),
            slowlog_max_len: c.int(conf::SLOWLOG_MAX_LEN).max(0) as usize,
            latency_ms: {
                let ms = c.int(conf::LATENCY_MONITOR_THRESHOLD).max(0) as u64;
                crate::sys::latency::set_threshold(ms);
                ms
            },
            tracking: c.flag(conf::LATENCY_TRACKING),
        }
    }
}

/// The process's introspection state, shared by every shard.
#[derive(Default)]
pub struct Introspect {
    pub slowlog: super::slowlog::SlowLog,
    pub monitors: super::monitor::Monitors,
    /// Client id → (address, name), for the entries and feed lines of
    /// commands that ran on another shard than their client's. Touched
    /// on connect, close and rename; read only for logged commands.
    directory: Mutex<HashMap<u64, (String, Vec<u8>)>>,
}

impl Introspect {
    pub fn register(&self, id: u64, addr: &str) {
        let mut d = self.directory.lock().unwrap();
        d.insert(id, (addr.to_string(), Vec::new()));
    }

    pub fn rename(&self, id: u64, name: &[u8]) {
        if let Some(e) = self.directory.lock().unwrap().get_mut(&id) {
            e.1 = name.to_vec();
        }
    }

    pub fn forget(&self, id: u64) {
        self.directory.lock().unwrap().remove(&id);
    }

    /// (address, name) of client `id`; empty for internal work.
    fn client(&self, id: u64) -> (String, Vec<u8>) {
        self.directory
            .lock()
            .unwrap()
            .get(&id)
            .cloned()
            .unwrap_or_default()
    }
}

/// A command that completed.
pub struct Done<'a> {
    pub spec: &'static CommandSpec,
    pub argv: &'a [&'a [u8]],
    /// The database selected once it ran.
    pub db: usize,
    pub ns: u64,
    /// The client's id (0: none).
    pub client: u64,
    /// Called by the client's script (MONITOR's `lua`).
    pub script: bool,
    /// Its reply, when that is an error.
    pub error: Option<&'a [u8]>,
}

thread_local! {
    /// Clients whose running command replies with errors counted already
    /// (Redis's ERR_REPLY_FLAG_NO_STATS_UPDATE), and how many: a script
    /// returning or raising the error of a command it called, counted
    /// when that command failed.
    static COUNTED_ERRORS: std::cell::RefCell<Vec<(u64, u64)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Client `client`'s command is about to reply with `n` errors counted in
/// INFO errorstats already: its completion counts `n` failed calls and
/// no error (Redis counts each such error as a failure of the command).
/// Called on the thread that counts the command.
pub fn errors_counted_already(client: u64, n: u64) {
    COUNTED_ERRORS.with(|c| c.borrow_mut().push((client, n)));
}

fn take_counted_errors(client: u64) -> u64 {
    COUNTED_ERRORS.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_empty() {
            return 0;
        }
        let at = c.iter().position(|&(id, _)| id == client);
        at.map_or(0, |i| c.swap_remove(i).1)
    })
}

/// Observes a completed command; `rt` is the running thread's shard,
/// `stats` those of the data it ran on.
#[inline]
pub fn command_done(rt: &ShardRt, stats: &mut Stats, th: &Thresholds, d: Done<'_>) {
    let usec = d.ns / 1000;
    stats.commands += 1;
    let st = stats.cmd.entry(d.spec.name).or_default();
    st.calls += 1;
    st.usec += usec;
    if th.tracking {
        st.hist.record(d.ns);
    }
    let counted = take_counted_errors(d.client);
    if counted > 0 {
        st.failed += counted;
    } else if let Some(reply) = d.error {
        st.failed += 1;
        super::shard::record_error(stats, reply);
    }
    let intro = &rt.shared.introspect;
    if th.latency_ms > 0 {
        let event = if d.spec.flags.has(Flags::FAST) {
            "fast-command"
        } else {
            "command"
        };
        crate::sys::latency::monitor().add_if_needed(th.latency_ms, event, usec / 1000);
    }
    if th.slowlog_slower_than >= 0
        && usec as i64 >= th.slowlog_slower_than
        && !d.spec.flags.has(Flags::SKIP_SLOWLOG)
    {
        slowlog(intro, th, &d, usec);
    }
    if intro.monitors.active()
        && !d.spec.flags.has(Flags::SKIP_MONITOR)
        && !d.spec.flags.has(Flags::ADMIN)
    {
        let addr = if d.script {
            "lua".to_string()
        } else {
            intro.client(d.client).0
        };
        feed_monitors(rt, d.db, &addr, d.spec, d.argv);
    }
}

fn feed_monitors(rt: &ShardRt, db: usize, addr: &str, spec: &'static CommandSpec, argv: &[&[u8]]) {
    let line = super::monitor::line(db, addr, argv, redactor(spec, argv));
    rt.shared.introspect.monitors.feed(rt, &line);
}

/// MONITOR's line of an EVAL or FCALL (`client`'s), which Redis feeds
/// itself before the script runs, so the script's commands follow it
/// (the command's spec skips the usual feed once it ran).
pub fn monitor_script(rt: &ShardRt, db: usize, client: u64, args: &[Vec<u8>]) {
    let intro = &rt.shared.introspect;
    if !intro.monitors.active() {
        return;
    }
    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
    if let Some(spec) = super::table::lookup(&argv) {
        feed_monitors(rt, db, &intro.client(client).0, spec, &argv);
    }
}

#[cold]
fn slowlog(intro: &Introspect, th: &Thresholds, d: &Done<'_>, usec: u64) {
    let (addr, name) = intro.client(d.client);
    let entry = super::slowlog::Entry {
        id: 0,
        time: crate::sys::clock::unix_ms() / 1000,
        usec,
        argv: super::slowlog::entry_argv(d.argv, redactor(d.spec, d.argv)),
        addr,
        name,
    };
    intro.slowlog.push(entry, th.slowlog_max_len);
}

/// Which arguments the command's spec says to hide ("(redacted)").
fn redactor<'a>(spec: &'static CommandSpec, argv: &'a [&'a [u8]]) -> impl Fn(usize) -> bool + 'a {
    move |i| spec.redact.is_some_and(|r| r(argv, i))
}
