//! One logical database of one shard: a hash table per owned slot, so
//! that slot-wide work (COUNTKEYSINSLOT, GETKEYSINSLOT, migration,
//! flushing a slot, SCAN cursors) costs O(keys in the slot).
//!
//! A shard owns the slots `s` with `s % nshards == shard`; slot `s` is kept
//! at local index `s / nshards`.

use super::bytes::SmallBytes;
use super::slot_map::SlotMap;
use super::value::{Entry, Value};
use crate::slot::{key_slot, SLOTS};
use std::collections::HashMap;

/// Hash maps of the keyspace and of collection values. The hasher is a
/// zero-sized handle to one per-process random seed: no 32-byte
/// `RandomState` per table (there is a table per slot), and no hash
/// flooding from chosen keys.
pub type Map<K, V> = HashMap<K, V, SeededState>;
/// Hash sets, with the same hasher.
pub type Set<K> = std::collections::HashSet<K, SeededState>;

#[derive(Clone, Copy, Default, Debug)]
pub struct SeededState;

impl std::hash::BuildHasher for SeededState {
    type Hasher = ahash::AHasher;
    #[inline]
    fn build_hasher(&self) -> ahash::AHasher {
        static SEED: std::sync::OnceLock<ahash::RandomState> = std::sync::OnceLock::new();
        SEED.get_or_init(ahash::RandomState::new).build_hasher()
    }
}

/// The keys of one slot, and the expiry times of those that have one.
#[derive(Default)]
pub struct SlotTable {
    pub keys: SlotMap<Entry>,
    /// Absolute expiry in Unix milliseconds, for keys that have a TTL.
    pub expires: SlotMap<u64>,
}

impl SlotTable {
    /// Gives memory back once a table is down to a quarter of its
    /// capacity (as Redis shrinks a dict below 10% fill), and all of it
    /// once the slot has no key left (as Valkey frees its empty per-slot
    /// dicts): tables never shrink on their own, and with a table per
    /// slot the tables emptied by DEL, expiry or eviction would otherwise
    /// stay allocated (maxmemory could then evict every key without
    /// getting under its limit).
    #[inline]
    fn shrink_if_sparse(&mut self) {
        if self.keys.is_empty() {
            if self.keys.capacity() > 0 {
                self.keys = SlotMap::default();
            }
            if self.expires.capacity() > 0 {
                self.expires = SlotMap::default();
            }
            return;
        }
        if self.keys.len() * 4 <= self.keys.capacity() {
            self.keys.shrink_to(self.keys.len() * 2);
        }
        if self.expires.len() * 4 <= self.expires.capacity() {
            self.expires.shrink_to(self.expires.len() * 2);
        }
    }
}

/// Counts `n` slot tables' worth of a `slots` array as overhead, not
/// data (alloc/ `note_overhead`).
fn note_tables(n: i64) {
    crate::alloc::note_overhead(n * std::mem::size_of::<SlotTable>() as i64);
}

impl Drop for Db {
    fn drop(&mut self) {
        note_tables(-(self.slots.capacity() as i64));
    }
}

pub struct Db {
    /// Tables of the slots this shard may own, allocated at the first
    /// write (an empty table costs 32 bytes and no heap).
    slots: Vec<SlotTable>,
    nshards: usize,
    key_count: usize,
    expires_count: usize,
    /// Keys removed because their TTL passed (lazily or actively).
    pub expired_keys: u64,
    /// Which key events to log in `key_log` ([`LOG_EXPIRED`], [`LOG_NEW`],
    /// [`LOG_MISS`]): expiry, creation and read misses happen here, below
    /// any command context, and keyspace notifications need them in order.
    pub log_mask: u8,
    pub key_log: Vec<(u8, Vec<u8>)>,
    /// Log expired keys in `expired_log` for client-side caching
    /// invalidations (server/tracking.rs), independently of `key_log`.
    pub track_expired: bool,
    pub expired_log: Vec<Vec<u8>>,
    /// A replica's normal clients (Redis 7.0): a key whose TTL passed is
    /// reported missing but kept until the master's DEL (repl/replica).
    pub keep_expired: bool,
    /// Keys a writable replica's clients gave a TTL, which it expires.
    pub replica_ttls: super::replica_ttls::ReplicaTtls,
}

/// `key_log` entry kinds.
pub const LOG_EXPIRED: u8 = 1;
pub const LOG_NEW: u8 = 2;
/// A read lookup that missed (`keymiss`, Redis's `lookupKeyRead`).
pub const LOG_MISS: u8 = 4;

/// Outcome of looking a key up.
pub enum Lookup<'a> {
    Found(&'a mut Entry),
    Missing,
}

impl Db {
    pub fn new(nshards: usize) -> Db {
        Db {
            keep_expired: false,
            replica_ttls: Default::default(),
            slots: Vec::new(),
            nshards,
            key_count: 0,
            expires_count: 0,
            expired_keys: 0,
            log_mask: 0,
            key_log: Vec::new(),
            track_expired: false,
            expired_log: Vec::new(),
        }
    }

    /// Number of slot positions this shard may own.
    pub fn local_slot_count(&self) -> usize {
        SLOTS.div_ceil(self.nshards)
    }

    #[inline]
    fn index(&self, slot: u16) -> usize {
        slot as usize / self.nshards
    }

    /// The slot held at local index `i`, if that slot exists.
    pub fn slot_at(&self, shard: usize, i: usize) -> Option<u16> {
        let s = i * self.nshards + shard;
        (s < SLOTS).then_some(s as u16)
    }

    pub fn len(&self) -> usize {
        self.key_count
    }

    pub fn is_empty(&self) -> bool {
        self.key_count == 0
    }

    pub fn expires_len(&self) -> usize {
        self.expires_count
    }

    #[inline]
    fn table(&self, slot: u16) -> Option<&SlotTable> {
        self.slots.get(self.index(slot))
    }

    #[inline]
    fn table_mut(&mut self, slot: u16) -> Option<&mut SlotTable> {
        let i = self.index(slot);
        self.slots.get_mut(i)
    }

    fn table_or_create(&mut self, slot: u16) -> &mut SlotTable {
        let i = self.index(slot);
        if self.slots.is_empty() {
            let before = self.slots.capacity();
            self.slots
                .resize_with(self.local_slot_count(), Default::default);
            note_tables(self.slots.capacity() as i64 - before as i64);
        }
        &mut self.slots[i]
    }

    /// Every slot table (empty until the first write), for sampling.
    pub fn tables(&self) -> &[SlotTable] {
        &self.slots
    }

    /// Table at a local index, for slot-wide iteration.
    pub fn table_at(&self, i: usize) -> Option<&SlotTable> {
        self.slots.get(i).filter(|t| !t.keys.is_empty())
    }

    /// Looks `key` up; an expired key is deleted and reported missing.
    #[inline]
    pub fn lookup(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        let i = self.index(key_slot(key));
        let t = self.slots.get_mut(i)?;
        // One table visit: most keys have no TTL and `expires` is empty.
        if !t.expires.is_empty() && t.expires.get(key).is_some_and(|&at| at <= now_ms) {
            if !self.keep_expired {
                self.remove_expired(key_slot(key), key);
            }
            return None;
        }
        self.slots[i].keys.get_mut(key)
    }

    /// Hints the CPU to fetch what looking `keys` up will read, in three
    /// passes so that each pass's misses overlap: the slot tables'
    /// headers, then the tags around each key's home, then the bucket the
    /// tags point at. Run over a pipelined batch before it executes.
    pub fn prefetch<'a>(&self, keys: impl Iterator<Item = &'a [u8]>) {
        const AT_ONCE: usize = 32;
        let mut spots = [(0usize, 0u64); AT_ONCE];
        let mut keys = keys.peekable();
        while keys.peek().is_some() {
            let mut n = 0;
            for (spot, key) in spots.iter_mut().zip(keys.by_ref()) {
                let i = self.index(key_slot(key));
                if let Some(t) = self.slots.get(i) {
                    super::slot_map::prefetch_read(t as *const SlotTable as *const u8);
                }
                *spot = (i, super::slot_map::hash_key(key));
                n += 1;
            }
            for &(i, h) in &spots[..n] {
                if let Some(t) = self.slots.get(i) {
                    t.keys.prefetch_tags(h);
                }
            }
            for &(i, h) in &spots[..n] {
                if let Some(t) = self.slots.get(i) {
                    t.keys.prefetch_bucket(h);
                }
            }
        }
    }

    /// [`Db::lookup`] for a read (Redis's `lookupKeyRead`): a miss is also
    /// logged as a `keymiss` when [`LOG_MISS`] is on.
    #[inline]
    pub fn lookup_read(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        if self.log_mask & LOG_MISS != 0 && self.lookup(key, now_ms).is_none() {
            self.key_log.push((LOG_MISS, key.to_vec()));
            return None;
        }
        self.lookup(key, now_ms)
    }

    /// The key's entry whether or not its TTL has passed (Redis's
    /// dictFind, as DEBUG OBJECT uses: a replica keeps such a key until
    /// its master's DEL).
    pub fn find_any(&self, key: &[u8]) -> Option<&Entry> {
        self.table(key_slot(key))?.keys.get(key)
    }

    /// Looks up without deleting an expired key (it is still reported
    /// missing). For read paths that may not mutate.
    pub fn peek(&self, key: &[u8], now_ms: u64) -> Option<&Entry> {
        let t = self.table(key_slot(key))?;
        if let Some(&at) = t.expires.get(key) {
            if at <= now_ms {
                return None;
            }
        }
        t.keys.get(key)
    }

    pub fn contains(&mut self, key: &[u8], now_ms: u64) -> bool {
        self.lookup(key, now_ms).is_some()
    }

    /// Deletes `key` if its TTL has passed. Returns true if it did.
    pub fn expire_if_needed(&mut self, slot: u16, key: &[u8], now_ms: u64) -> bool {
        let keep = self.keep_expired;
        let Some(t) = self.table_mut(slot) else {
            return false;
        };
        if t.expires.is_empty() {
            return false;
        }
        match t.expires.get(key) {
            Some(&at) if at <= now_ms && keep => true,
            Some(&at) if at <= now_ms => {
                self.remove_expired(slot, key);
                true
            }
            _ => false,
        }
    }

    /// Deletes `key`, whose TTL has passed, counting and logging it.
    fn remove_expired(&mut self, slot: u16, key: &[u8]) {
        let Some(t) = self.table_mut(slot) else {
            return;
        };
        t.expires.remove(key);
        t.keys.remove(key);
        t.shrink_if_sparse();
        self.key_count -= 1;
        self.expires_count -= 1;
        self.expired_keys += 1;
        if self.log_mask & LOG_EXPIRED != 0 {
            self.key_log.push((LOG_EXPIRED, key.to_vec()));
        }
        if self.track_expired {
            self.expired_log.push(key.to_vec());
        }
    }

    /// A writable replica's active expiry, of the keys its own clients
    /// gave a TTL (Redis 7.0's expireSlaveKeys): each one due is deleted
    /// if its TTL has passed, looked at again at its new TTL if it
    /// changed, forgotten if it has none now.
    pub fn expire_replica_written(&mut self, now_ms: u64) {
        for key in self.replica_ttls.take_due(now_ms) {
            match self.expire_of(&key) {
                Some(at) if at <= now_ms => self.remove_expired(key_slot(&key), &key),
                Some(at) => self.replica_ttls.requeue(key, at),
                None => {}
            }
        }
    }

    /// Sets `key` to `value`, clearing any TTL (as SET does).
    pub fn set(&mut self, key: &[u8], value: Value, lru: u32) {
        self.set_with_expire(key, value, None, lru);
    }

    /// Sets `key` to `value` with an absolute expiry (or none).
    pub fn set_with_expire(&mut self, key: &[u8], value: Value, expire_ms: Option<u64>, lru: u32) {
        let slot = key_slot(key);
        let t = self.table_or_create(slot);
        let entry = Entry { value, lru };
        let mut added = 0;
        let mut expires_delta: isize = 0;
        match t.keys.get_mut(key) {
            Some(e) => *e = entry,
            None => {
                t.keys.insert(SmallBytes::new(key), entry);
                added = 1;
            }
        }
        match expire_ms {
            Some(at) => {
                if t.expires.insert(SmallBytes::new(key), at).is_none() {
                    expires_delta = 1;
                }
            }
            None => {
                if !t.expires.is_empty() && t.expires.remove(key).is_some() {
                    expires_delta = -1;
                }
            }
        }
        self.key_count += added;
        self.expires_count = (self.expires_count as isize + expires_delta) as usize;
        if let Some(at) = expire_ms {
            self.replica_ttls.note(key, at);
        }
        if added == 1 && self.log_mask & LOG_NEW != 0 {
            self.key_log.push((LOG_NEW, key.to_vec()));
        }
    }

    /// Replaces the value of an existing key, keeping its TTL. The key
    /// must exist (callers looked it up first).
    pub fn replace_value(&mut self, key: &[u8], value: Value) {
        if let Some(e) = self
            .table_mut(key_slot(key))
            .and_then(|t| t.keys.get_mut(key))
        {
            e.value = value;
        } else {
            self.set(key, value, 0);
        }
    }

    /// Removes `key`; returns its entry and expiry.
    pub fn remove(&mut self, key: &[u8]) -> Option<(Entry, Option<u64>)> {
        let t = self.table_mut(key_slot(key))?;
        let e = t.keys.remove(key)?;
        let exp = if t.expires.is_empty() {
            None
        } else {
            t.expires.remove(key)
        };
        t.shrink_if_sparse();
        self.key_count -= 1;
        if exp.is_some() {
            self.expires_count -= 1;
        }
        Some((e, exp))
    }

    /// Absolute expiry of `key` in Unix ms, if it has one.
    pub fn expire_of(&self, key: &[u8]) -> Option<u64> {
        let t = self.table(key_slot(key))?;
        if t.expires.is_empty() {
            return None;
        }
        t.expires.get(key).copied()
    }

    /// Sets the TTL of an existing key.
    pub fn set_expire(&mut self, key: &[u8], at_ms: u64) {
        let Some(t) = self.table_mut(key_slot(key)) else {
            return;
        };
        if !t.keys.contains_key(key) {
            return;
        }
        if t.expires.insert(SmallBytes::new(key), at_ms).is_none() {
            self.expires_count += 1;
        }
        self.replica_ttls.note(key, at_ms);
    }

    /// Removes the TTL of `key`; true if it had one.
    pub fn persist(&mut self, key: &[u8]) -> bool {
        let Some(t) = self.table_mut(key_slot(key)) else {
            return false;
        };
        if t.expires.remove(key).is_some() {
            self.expires_count -= 1;
            true
        } else {
            false
        }
    }

    pub fn clear(&mut self) {
        self.slots.clear();
        self.key_count = 0;
        self.expires_count = 0;
        self.replica_ttls.clear();
    }

    /// Empties the database and hands its slot tables over, so that a big
    /// keyspace can be freed elsewhere (FLUSHALL ASYNC frees it on another
    /// thread). Returns the tables and the number of keys they held.
    pub fn take_all(&mut self) -> (Vec<SlotTable>, usize) {
        let n = self.key_count;
        self.key_count = 0;
        self.expires_count = 0;
        self.replica_ttls.clear();
        note_tables(-(self.slots.capacity() as i64));
        (std::mem::take(&mut self.slots), n)
    }

    /// Number of keys stored in `slot` (expired ones not yet removed count).
    pub fn count_in_slot(&self, slot: u16) -> usize {
        self.table(slot).map_or(0, |t| t.keys.len())
    }

    /// Up to `max` keys of `slot`.
    pub fn keys_in_slot(&self, slot: u16, max: usize) -> Vec<Vec<u8>> {
        self.table(slot)
            .map(|t| t.keys.keys().take(max).map(|k| k.to_vec()).collect())
            .unwrap_or_default()
    }

    /// Calls `f` for each key live at `now_ms` (0: every key).
    pub fn for_each_key(&self, now_ms: u64, mut f: impl FnMut(&[u8], &Entry)) {
        for t in &self.slots {
            for (k, e) in &t.keys {
                if let Some(&at) = t.expires.get(k.as_slice()) {
                    if at <= now_ms {
                        continue;
                    }
                }
                f(k, e);
            }
        }
    }

    /// Active expiry over the slots from local index `start`, checking at
    /// most `budget` keys with a TTL, or fewer when `stop` says so after
    /// a slot (the caller's time is up). Returns (next index, keys
    /// checked, whether `stop` cut the round short).
    pub fn expire_cycle(
        &mut self,
        start: usize,
        budget: usize,
        now_ms: u64,
        mut stop: impl FnMut() -> bool,
    ) -> (usize, usize, bool) {
        let n = self.slots.len();
        if n == 0 || self.expires_count == 0 {
            return (0, 0, false);
        }
        let mut checked = 0;
        let mut i = start % n;
        for _ in 0..n {
            let visited = {
                let t = &mut self.slots[i];
                let visited = !t.expires.is_empty();
                if visited {
                    checked += t.expires.len();
                    let dead: Vec<SmallBytes> = t
                        .expires
                        .iter()
                        .filter(|(_, &at)| at <= now_ms)
                        .map(|(k, _)| k.clone())
                        .collect();
                    for k in &dead {
                        t.expires.remove(k.as_slice());
                        t.keys.remove(k.as_slice());
                    }
                    if !dead.is_empty() {
                        t.shrink_if_sparse();
                    }
                    self.key_count -= dead.len();
                    self.expires_count -= dead.len();
                    self.expired_keys += dead.len() as u64;
                    if self.log_mask & LOG_EXPIRED != 0 {
                        self.key_log
                            .extend(dead.iter().map(|k| (LOG_EXPIRED, k.as_slice().to_vec())));
                    }
                    if self.track_expired {
                        self.expired_log
                            .extend(dead.iter().map(|k| k.as_slice().to_vec()));
                    }
                }
                visited
            };
            i = (i + 1) % n;
            if checked >= budget {
                break;
            }
            if visited && stop() {
                return (i, checked, true);
            }
        }
        (i, checked, false)
    }

    /// A random live key, if any.
    pub fn random_key(&self, seed: u64, now_ms: u64) -> Option<Vec<u8>> {
        self.random_pick(seed, Some(now_ms))
    }

    /// A random key, expired or not (RANDOMKEY deletes the expired ones
    /// it draws, as Redis's dbRandomKey does, and draws again).
    pub fn random_any_key(&self, seed: u64) -> Option<Vec<u8>> {
        self.random_pick(seed, None)
    }

    /// With `live_at`, keys expired by then are skipped.
    fn random_pick(&self, seed: u64, live_at: Option<u64>) -> Option<Vec<u8>> {
        if self.key_count == 0 {
            return None;
        }
        let n = self.slots.len();
        // Start at a random slot and walk to the first non-empty one; try a
        // few times to skip keys that are logically expired.
        for attempt in 0..100u64 {
            let start =
                (seed.wrapping_add(attempt.wrapping_mul(0x9E3779B97F4A7C15)) % n as u64) as usize;
            for j in 0..n {
                {
                    let t = &self.slots[(start + j) % n];
                    if t.keys.is_empty() {
                        continue;
                    }
                    let pick = (seed >> 7) as usize % t.keys.len();
                    let (k, _) = t.keys.iter().nth(pick)?;
                    let live = live_at
                        .is_none_or(|now| t.expires.get(k.as_slice()).is_none_or(|&at| at > now));
                    if live {
                        return Some(k.to_vec());
                    }
                    break;
                }
            }
        }
        None
    }

    /// Approximate memory used by keys and values.
    pub fn approx_memory(&self) -> usize {
        let mut total = 0;
        for t in &self.slots {
            total += t.keys.capacity() * SlotMap::<Entry>::bucket_bytes();
            total += t.expires.capacity() * SlotMap::<u64>::bucket_bytes();
            for (k, e) in &t.keys {
                total += k.heap_size() + e.value.heap_size();
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys in many slots, all expired at `now` 100.
    fn expired_db(keys: usize) -> Db {
        let mut db = Db::new(1);
        for i in 0..keys {
            let key = format!("k{i}");
            db.set_with_expire(key.as_bytes(), Value::from_bytes(b"v"), Some(50), 0);
        }
        db
    }

    #[test]
    fn expire_cycle_stops_after_the_slot_where_time_ran_out() {
        let mut db = expired_db(1000);
        let (_, checked, cut) = db.expire_cycle(0, 200, 100, || true);
        assert!(cut);
        // One slot's keys: far under the 200-key round.
        assert!(checked > 0 && checked < 200, "{checked}");
        assert_eq!(db.len(), 1000 - checked);
    }

    #[test]
    fn expire_cycle_without_stop_checks_a_whole_round() {
        let mut db = expired_db(1000);
        let (_, checked, cut) = db.expire_cycle(0, 200, 100, || false);
        assert!(!cut);
        assert!(checked >= 200, "{checked}");
        assert_eq!(db.len(), 1000 - checked);
    }
}
