//! The ACL log: denied commands, keys, channels and failed logins, with
//! similar entries within a minute folded into one (Redis's ACL LOG).

use std::collections::VecDeque;

/// Entries this close in time (ms) with the same facts are one.
const GROUPING_MS: u64 = 60_000;
/// How many recent entries a new one is compared with.
const SCAN: usize = 10;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Reason {
    Command,
    Key,
    Channel,
    Auth,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Channel => "channel",
            Reason::Auth => "auth",
        }
    }
}

pub struct Entry {
    pub count: u64,
    pub reason: Reason,
    /// "toplevel" or "multi".
    pub context: &'static str,
    /// The command, key or channel denied, or `AUTH`'s name as sent.
    pub object: Vec<u8>,
    pub username: Vec<u8>,
    /// Unix ms of the last occurrence.
    pub ctime_ms: u64,
    /// The client's CLIENT LIST line at the last occurrence.
    pub client_info: String,
}

/// Newest first.
#[derive(Default)]
pub struct Log {
    pub entries: VecDeque<Entry>,
}

impl Log {
    /// Adds an entry, or bumps a similar recent one to the front;
    /// `max_len` is `acllog-max-len`.
    pub fn add(&mut self, e: Entry, max_len: usize) {
        let similar = self.entries.iter().take(SCAN).position(|old| {
            old.reason == e.reason
                && old.context == e.context
                && old.ctime_ms.abs_diff(e.ctime_ms) <= GROUPING_MS
                && old.object == e.object
                && old.username == e.username
        });
        if let Some(at) = similar {
            let mut old = self.entries.remove(at).expect("found");
            old.count += 1;
            old.ctime_ms = e.ctime_ms;
            old.client_info = e.client_info;
            self.entries.push_front(old);
            return;
        }
        self.entries.push_front(e);
        self.entries.truncate(max_len);
    }
}
