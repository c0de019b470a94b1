//! Keys a writable replica's own clients gave a TTL (Redis 7.0's
//! `slaveKeysWithExpire`). A replica leaves expiry to its master's DELs,
//! which never come for keys the master does not have: these the
//! replica expires itself ([`super::Db::expire_replica_written`]).

use std::collections::BTreeSet;

/// One database's such keys, by the time they are due.
#[derive(Default)]
pub struct ReplicaTtls {
    /// Whether TTLs set now are a writable replica's clients' (set for
    /// each command, as `Db::keep_expired`).
    pub on: bool,
    due: BTreeSet<(u64, Vec<u8>)>,
}

impl ReplicaTtls {
    /// Notes that `key` got a TTL ending at `at_ms`, when [`Self::on`].
    #[inline]
    pub fn note(&mut self, key: &[u8], at_ms: u64) {
        if self.on {
            self.due.insert((at_ms, key.to_vec()));
        }
    }

    /// Looks at `key` again at `at_ms` (its TTL changed since noted).
    pub fn requeue(&mut self, key: Vec<u8>, at_ms: u64) {
        self.due.insert((at_ms, key));
    }

    /// Takes the keys due at `now_ms` (their TTL as noted has passed).
    pub fn take_due(&mut self, now_ms: u64) -> Vec<Vec<u8>> {
        if self.due.first().is_none_or(|(at, _)| *at > now_ms) {
            return Vec::new();
        }
        let later = self.due.split_off(&(now_ms + 1, Vec::new()));
        let due = std::mem::replace(&mut self.due, later);
        due.into_iter().map(|(_, key)| key).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.due.is_empty()
    }

    /// Forgets every key (the data was flushed or replaced).
    pub fn clear(&mut self) {
        self.due.clear();
    }
}
