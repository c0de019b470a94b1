//! Errors a replica's commands from its master answer: never sent (the
//! master client's replies are dropped), but logged as Redis's
//! afterErrorReply does, since an error there means the replica's data
//! may now differ from its master's (an unknown command, a write on a key
//! a writable replica changed). Each is a `== CRITICAL ==` warning and
//! counts in INFO `unexpected_error_replies`.

use crate::resp::{array_items, reply_len};
use std::sync::atomic::{AtomicU64, Ordering};

/// INFO `unexpected_error_replies` (CONFIG RESETSTAT clears it).
pub static UNEXPECTED_ERROR_REPLIES: AtomicU64 = AtomicU64::new(0);

/// Logs the errors among `replies`, the replies of a batch of the
/// master's commands (`argv` their arguments in order, `argcs` how many
/// each has), one top-level reply per command.
pub fn report(argv: &[&[u8]], argcs: &[usize], replies: &[u8]) {
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
            log_error(reply, name.unwrap_or("<unknown>"));
        } else if name == Some("exec") {
            // The queued commands' errors: Redis names EXEC for them, the
            // command it was running (its lastcmd).
            for item in array_items(reply).unwrap_or_default() {
                if item.first() == Some(&b'-') {
                    log_error(item, "exec");
                }
            }
        }
        pos += len;
        first += argc;
    }
}

fn log_error(reply: &[u8], cmd: &str) {
    // The error as sent, without its `-` and CRLF, at most 4096 bytes
    // (Redis's cut).
    let text = reply[1..].strip_suffix(b"\r\n").unwrap_or(&reply[1..]);
    let text = String::from_utf8_lossy(&text[..text.len().min(4096)]);
    crate::warning!(
        "== CRITICAL == This replica is sending an error to its master: '{text}' after processing the command '{cmd}'"
    );
    UNEXPECTED_ERROR_REPLIES.fetch_add(1, Ordering::Relaxed);
}
