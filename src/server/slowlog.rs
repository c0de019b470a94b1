//! The slow log (SLOWLOG GET/LEN/RESET): commands that ran at least
//! `slowlog-log-slower-than` microseconds, newest first, at most
//! `slowlog-max-len`. One log for the process, behind a lock taken only
//! when a command is slow enough to be logged (observe.rs) or by SLOWLOG.

use std::collections::VecDeque;
use std::sync::Mutex;

/// Redis's SLOWLOG_ENTRY_MAX_ARGC and SLOWLOG_ENTRY_MAX_STRING.
const MAX_ARGC: usize = 32;
const MAX_STRING: usize = 128;

pub struct Entry {
    pub id: u64,
    /// Unix seconds when it was logged.
    pub time: u64,
    pub usec: u64,
    pub argv: Vec<Vec<u8>>,
    pub addr: String,
    pub name: Vec<u8>,
}

#[derive(Default)]
struct Log {
    /// Newest first.
    entries: VecDeque<Entry>,
    next_id: u64,
}

#[derive(Default)]
pub struct SlowLog(Mutex<Log>);

impl SlowLog {
    /// Adds an entry (its id assigned here), then trims to `max_len`.
    pub fn push(&self, mut e: Entry, max_len: usize) {
        let mut log = self.0.lock().unwrap();
        e.id = log.next_id;
        log.next_id += 1;
        log.entries.push_front(e);
        log.entries.truncate(max_len);
    }

    /// Trims to `max_len` (Redis trims on every command while the log is
    /// on; here when the log is next looked at or added to).
    fn trimmed(&self, max_len: usize) -> std::sync::MutexGuard<'_, Log> {
        let mut log = self.0.lock().unwrap();
        log.entries.truncate(max_len);
        log
    }

    pub fn len(&self, max_len: usize) -> usize {
        self.trimmed(max_len).entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.lock().unwrap().entries.is_empty()
    }

    pub fn reset(&self) {
        self.0.lock().unwrap().entries.clear();
    }

    /// Runs `f` on the newest `count` entries.
    pub fn with_newest<R>(
        &self,
        max_len: usize,
        count: usize,
        f: impl FnOnce(&[&Entry]) -> R,
    ) -> R {
        let log = self.trimmed(max_len);
        let newest: Vec<&Entry> = log.entries.iter().take(count).collect();
        f(&newest)
    }
}

/// The arguments as Redis keeps them in an entry: at most 32 (the last
/// saying how many more there were), strings past 128 bytes cut with
/// "... (N more bytes)", arguments `redacted` says so as "(redacted)".
pub fn entry_argv(argv: &[&[u8]], redacted: impl Fn(usize) -> bool) -> Vec<Vec<u8>> {
    let n = argv.len().min(MAX_ARGC);
    (0..n)
        .map(|j| {
            if n != argv.len() && j == n - 1 {
                return format!("... ({} more arguments)", argv.len() - n + 1).into_bytes();
            }
            if redacted(j) {
                return b"(redacted)".to_vec();
            }
            let a = argv[j];
            if a.len() > MAX_STRING {
                let mut s = a[..MAX_STRING].to_vec();
                s.extend_from_slice(
                    format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes(),
                );
                s
            } else {
                a.to_vec()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_like_redis() {
        let long = vec![b'A'; 129];
        let argv: Vec<&[u8]> = vec![b"sadd", b"set", &long];
        let e = entry_argv(&argv, |_| false);
        assert_eq!(e[2].len(), 128 + "... (1 more bytes)".len());
        let many: Vec<Vec<u8>> = (0..34).map(|i| i.to_string().into_bytes()).collect();
        let argv: Vec<&[u8]> = many.iter().map(|a| a.as_slice()).collect();
        let e = entry_argv(&argv, |j| j == 1);
        assert_eq!(e.len(), 32);
        assert_eq!(e[1], b"(redacted)");
        assert_eq!(e[31], b"... (3 more arguments)");
    }

    #[test]
    fn newest_first_and_bounded() {
        let log = SlowLog::default();
        for i in 0..5 {
            let e = Entry {
                id: 0,
                time: 0,
                usec: i,
                argv: vec![],
                addr: String::new(),
                name: vec![],
            };
            log.push(e, 3);
        }
        assert_eq!(log.len(3), 3);
        let ids = log.with_newest(3, 10, |es| es.iter().map(|e| e.id).collect::<Vec<_>>());
        assert_eq!(ids, vec![4, 3, 2]);
        assert_eq!(log.len(1), 1);
    }
}
