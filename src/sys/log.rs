//! Redis-style log lines: `pid:role dd Mon yyyy hh:mm:ss.mmm <level> msg`,
//! to the logfile or standard output.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Level {
    Debug = 0,
    Verbose = 1,
    Notice = 2,
    Warning = 3,
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Notice as u8);
static FILE: Mutex<Option<std::fs::File>> = Mutex::new(None);

pub fn set_level(name: &str) {
    let l = match name {
        "debug" => Level::Debug,
        "verbose" => Level::Verbose,
        "warning" => Level::Warning,
        _ => Level::Notice,
    };
    LEVEL.store(l as u8, Ordering::Relaxed);
}

/// Sends log lines to `path` (empty = standard output).
pub fn set_file(path: &str) -> std::io::Result<()> {
    let f = if path.is_empty() {
        None
    } else {
        Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        )
    };
    *FILE.lock().unwrap() = f;
    Ok(())
}

/// Whether lines go to a log file rather than standard output.
pub fn to_file() -> bool {
    FILE.lock().unwrap().is_some()
}

pub fn log(level: Level, msg: &str) {
    if (level as u8) < LEVEL.load(Ordering::Relaxed) {
        return;
    }
    write_out(&line(level, msg));
}

fn line(level: Level, msg: &str) -> String {
    let mark = match level {
        Level::Debug => '.',
        Level::Verbose => '-',
        Level::Notice => '*',
        Level::Warning => '#',
    };
    format!(
        "{}:M {} {} {}\n",
        std::process::id(),
        timestamp(),
        mark,
        msg
    )
}

/// To the logfile, or standard output when there is none.
fn write_out(text: &str) {
    write_to(&mut FILE.lock().unwrap(), text);
}

fn write_to(f: &mut Option<std::fs::File>, text: &str) {
    match f.as_mut() {
        Some(file) => {
            let _ = file.write_all(text.as_bytes());
        }
        None => {
            let _ = std::io::stdout().write_all(text.as_bytes());
        }
    }
}

/// A warning line of a crash report (sys/crash.rs), and the report's
/// other text as it is ([`crash_raw`]).
pub fn crash_line(msg: &str) {
    crash_raw(&line(Level::Warning, msg));
}

/// Writes while the process crashes: the thread that crashed may hold
/// the log's lock, so it is not waited for long; then the text goes to
/// standard error.
pub fn crash_raw(text: &str) {
    for _ in 0..100 {
        match FILE.try_lock() {
            Ok(mut f) => return write_to(&mut f, text),
            Err(std::sync::TryLockError::Poisoned(p)) => {
                return write_to(&mut p.into_inner(), text)
            }
            Err(std::sync::TryLockError::WouldBlock) => {
                std::thread::sleep(std::time::Duration::from_millis(1))
            }
        }
    }
    let _ = std::io::stderr().write_all(text.as_bytes());
}

/// Writes `text` as it is (no line prefix), at notice level.
fn raw(text: &str) {
    if (Level::Notice as u8) >= LEVEL.load(Ordering::Relaxed) {
        write_out(text);
    }
}

/// The start-up banner (`always-show-logo yes`, or a terminal with no
/// logfile, as Redis decides), with Redis's `Port:` and `PID:` fields that
/// tools and Redis's test harness read; otherwise Redis's one-line form.
pub fn banner(show: bool, mode: &str, port: u16, shards: usize) {
    let pid = std::process::id();
    if !show {
        crate::notice!("Running mode={mode}, port={port}.");
        return;
    }
    raw(&format!(
        "\n    Shardis {} (Redis 7.0 protocol), {shards} shard(s)\n    Running in {mode} mode\n    Port: {port}\n    PID: {pid}\n\n",
        env!("CARGO_PKG_VERSION")
    ));
}

fn timestamp() -> String {
    // SAFETY: localtime_r writes into the provided struct.
    unsafe {
        let mut tv: libc::timeval = std::mem::zeroed();
        libc::gettimeofday(&mut tv, std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&tv.tv_sec, &mut tm);
        const MON: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        format!(
            "{:02} {} {} {:02}:{:02}:{:02}.{:03}",
            tm.tm_mday,
            MON[tm.tm_mon as usize % 12],
            tm.tm_year + 1900,
            tm.tm_hour,
            tm.tm_min,
            tm.tm_sec,
            tv.tv_usec / 1000
        )
    }
}

#[macro_export]
macro_rules! notice { ($($t:tt)*) => { $crate::sys::log::log($crate::sys::log::Level::Notice, &format!($($t)*)) } }
#[macro_export]
macro_rules! warning { ($($t:tt)*) => { $crate::sys::log::log($crate::sys::log::Level::Warning, &format!($($t)*)) } }
#[macro_export]
macro_rules! verbose { ($($t:tt)*) => { $crate::sys::log::log($crate::sys::log::Level::Verbose, &format!($($t)*)) } }
