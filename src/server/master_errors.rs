//! Errors sent where nobody reads them, logged as Redis's afterErrorReply
//! does: a replica's commands from its master (the master client's
//! replies are dropped; an error there means the replica's data may now
//! differ from its master's: an unknown command, a write on a key a
//! writable replica changed), a master's reply to a replica's link (the
//! replica is disconnected for it: replica_link.rs), a command of the AOF
//! being loaded. Each is a `== CRITICAL == This <from> is sending an
//! error to its <to>` warning counted in INFO `unexpected_error_replies`;
//! `propagation-error-behavior` `panic` (or `panic-on-replicas`) makes a
//! read-only replica crash on its master's, `panic` the AOF's loading.

use crate::config::keys as conf;
use crate::config::Config;
use crate::resp::{array_items, reply_len};
use std::sync::atomic::{AtomicU64, Ordering};

/// INFO `unexpected_error_replies` (CONFIG RESETSTAT clears it).
pub static UNEXPECTED_ERROR_REPLIES: AtomicU64 = AtomicU64::new(0);

/// Who sent the error to whom, in Redis's words.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// A replica's reply to its master's stream.
    ToMaster,
    /// A master's reply to its replica's link.
    ToReplica,
    /// The reply to a command of the AOF being loaded.
    ToAofLoading,
}

impl Link {
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Link::ToMaster => ("replica", "master"),
            Link::ToReplica => ("master", "replica"),
            Link::ToAofLoading => ("server", "AOF-loading-client"),
        }
    }

    /// Whether `propagation-error-behavior` makes an error here a crash
    /// (Redis: on a read-only replica for its master's errors, in the
    /// AOF's loading with `panic` only).
    pub fn panics(self, config: &Config) -> bool {
        let behavior = config.text(conf::PROPAGATION_ERROR_BEHAVIOR);
        let behavior = behavior.as_str();
        match self {
            Link::ToMaster => {
                config.flag(conf::REPLICA_READ_ONLY)
                    && matches!(behavior, "panic" | "panic-on-replicas")
            }
            Link::ToReplica => false,
            Link::ToAofLoading => behavior == "panic",
        }
    }
}

/// Logs the errors among `replies`, the replies of a batch of the
/// master's commands (`argv` their arguments in order, `argcs` how many
/// each has), one top-level reply per command.
pub fn report(config: &std::sync::RwLock<Config>, argv: &[&[u8]], argcs: &[usize], replies: &[u8]) {
    // Most batches have no error at all: no parse then.
    if memchr::memchr(b'-', replies).is_none() {
        return;
    }
    let (mut pos, mut first) = (0, 0);
    for &argc in argcs {
        let Some(len) = reply_len(&replies[pos..]) else {
            return;
        };
        let reply = &replies[pos..pos + len];
        let cmd = &argv[first..first + argc];
        let name = super::table::lookup(cmd).map(|s| s.name);
        if reply.first() == Some(&b'-') {
            log_error(config, Link::ToMaster, reply, name.unwrap_or("<unknown>"));
        } else if name == Some("exec") {
            // The queued commands' errors: Redis names EXEC for them, the
            // command it was running (its lastcmd).
            for item in array_items(reply).unwrap_or_default() {
                if item.first() == Some(&b'-') {
                    log_error(config, Link::ToMaster, item, "exec");
                }
            }
        }
        pos += len;
        first += argc;
    }
}

/// Logs one error reply (`-...\r\n`) `cmd` made on `link`, counts it, and
/// crashes when `propagation-error-behavior` says so.
pub fn log_error(config: &std::sync::RwLock<Config>, link: Link, reply: &[u8], cmd: &str) {
    log_error_then(link, reply, cmd, || link.panics(&config.read().unwrap()));
}

/// [`log_error`], `panics` deciding the crash.
pub fn log_error_then(link: Link, reply: &[u8], cmd: &str, panics: impl FnOnce() -> bool) {
    let (from, to) = link.names();
    // The error as sent, without its `-` and CRLF, at most 4096 bytes
    // (Redis's cut).
    let text = reply.strip_prefix(b"-").unwrap_or(reply);
    let text = text.strip_suffix(b"\r\n").unwrap_or(text);
    let text = String::from_utf8_lossy(&text[..text.len().min(4096)]);
    crate::warning!(
        "== CRITICAL == This {from} is sending an error to its {to}: '{text}' after processing the command '{cmd}'"
    );
    UNEXPECTED_ERROR_REPLIES.fetch_add(1, Ordering::Relaxed);
    if panics() {
        crate::sys::crash::server_panic(&format!(
            "This {from} panicked sending an error to its {to} after processing the command '{cmd}'"
        ));
    }
}
