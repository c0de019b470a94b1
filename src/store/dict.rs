//! `Dict`: the "hashtable" encoding of big hashes and sets.
//!
//! Entries live densely in one `Vec` (no per-entry allocation beyond what
//! a long string needs); a `hashbrown` table of `u32` positions indexes
//! them by key. That costs about 5-11 bytes of index per entry on top of
//! the entry itself, gives O(1) uniform random picks (SPOP, SRANDMEMBER,
//! HRANDFIELD: pick a position) and a simple SCAN cursor:
//!
//! Removal moves the last entry into the hole (`swap_remove`), so an entry
//! only ever moves from the end to a lower position. A scan therefore walks
//! positions downward: the cursor is the number of positions still to
//! visit, and an entry present for the whole scan is always below the
//! cursor until it is returned (it can only move lower), so it is returned
//! at least once, as Redis guarantees.
//!
//! Hashing uses one process-wide random seed instead of a `RandomState`
//! per table.

use super::SmallBytes;
use hashbrown::HashTable;
use std::sync::OnceLock;

/// Something stored in a `Dict`, addressed by its key bytes.
pub trait Keyed {
    fn key(&self) -> &[u8];
    /// Heap bytes owned beyond the entry itself.
    fn heap_size(&self) -> usize;
}

/// The process-wide hash of a key (random seed chosen at first use).
#[inline]
pub fn hash_key(k: &[u8]) -> u64 {
    static SEED: OnceLock<ahash::RandomState> = OnceLock::new();
    SEED.get_or_init(ahash::RandomState::new).hash_one(k)
}

impl Keyed for SmallBytes {
    #[inline]
    fn key(&self) -> &[u8] {
        self.as_slice()
    }
    fn heap_size(&self) -> usize {
        SmallBytes::heap_size(self)
    }
}

/// A hash field and its value.
impl Keyed for (SmallBytes, SmallBytes) {
    #[inline]
    fn key(&self) -> &[u8] {
        self.0.as_slice()
    }
    fn heap_size(&self) -> usize {
        self.0.heap_size() + self.1.heap_size()
    }
}

#[derive(Clone)]
pub struct Dict<E> {
    entries: Vec<E>,
    index: HashTable<u32>,
}

impl<E> Default for Dict<E> {
    fn default() -> Self {
        Dict {
            entries: Vec::new(),
            index: HashTable::new(),
        }
    }
}

impl<E: Keyed> std::fmt::Debug for Dict<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.entries
                    .iter()
                    .map(|e| String::from_utf8_lossy(e.key()).into_owned()),
            )
            .finish()
    }
}

impl<E: Keyed> Dict<E> {
    pub fn new() -> Self {
        Dict {
            entries: Vec::new(),
            index: HashTable::new(),
        }
    }

    pub fn with_capacity(n: usize) -> Self {
        Dict {
            entries: Vec::with_capacity(n),
            index: HashTable::with_capacity(n),
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Position of the entry with key `k`.
    #[inline]
    pub fn find(&self, k: &[u8]) -> Option<usize> {
        let entries = &self.entries;
        self.index
            .find(hash_key(k), |&i| entries[i as usize].key() == k)
            .map(|&i| i as usize)
    }

    #[inline]
    pub fn get(&self, k: &[u8]) -> Option<&E> {
        self.find(k).map(|i| &self.entries[i])
    }

    #[inline]
    pub fn get_mut(&mut self, k: &[u8]) -> Option<&mut E> {
        let i = self.find(k)?;
        Some(&mut self.entries[i])
    }

    #[inline]
    pub fn contains(&self, k: &[u8]) -> bool {
        self.find(k).is_some()
    }

    /// The entry at a position (`0..len`).
    #[inline]
    pub fn at(&self, pos: usize) -> &E {
        &self.entries[pos]
    }

    #[inline]
    pub fn at_mut(&mut self, pos: usize) -> &mut E {
        &mut self.entries[pos]
    }

    pub fn entries(&self) -> &[E] {
        &self.entries
    }

    pub fn iter(&self) -> std::slice::Iter<'_, E> {
        self.entries.iter()
    }

    /// Adds `e`, whose key must not be present yet.
    pub fn insert_new(&mut self, e: E) {
        let h = hash_key(e.key());
        self.grow_for_one();
        let pos = self.entries.len() as u32;
        let entries = &self.entries;
        self.index
            .insert_unique(h, pos, |&i| hash_key(entries[i as usize].key()));
        self.entries.push(e);
    }

    /// Adds `e` unless its key is present; true if added.
    pub fn insert(&mut self, e: E) -> bool {
        if self.contains(e.key()) {
            return false;
        }
        self.insert_new(e);
        true
    }

    /// The position of the entry with key `k`, adding `make()` first if
    /// there is none (one hash, one probe); true when added.
    pub fn insert_with(&mut self, k: &[u8], make: impl FnOnce() -> E) -> (usize, bool) {
        let h = hash_key(k);
        self.grow_for_one();
        let pos = self.entries.len();
        let entries = &self.entries;
        match self.index.entry(
            h,
            |&i| entries[i as usize].key() == k,
            |&i| hash_key(entries[i as usize].key()),
        ) {
            hashbrown::hash_table::Entry::Occupied(o) => (*o.get() as usize, false),
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert(pos as u32);
                self.entries.push(make());
                (pos, true)
            }
        }
    }

    /// Removes the entry with key `k`.
    pub fn remove(&mut self, k: &[u8]) -> Option<E> {
        let h = hash_key(k);
        let entries = &self.entries;
        let slot = self
            .index
            .find_entry(h, |&i| entries[i as usize].key() == k)
            .ok()?;
        let (pos, _) = slot.remove();
        Some(self.take_at(pos as usize))
    }

    /// Removes the entry at `pos` (its index slot already gone or not).
    fn take_at(&mut self, pos: usize) -> E {
        let last = self.entries.len() - 1;
        if pos != last {
            // The last entry moves into `pos`: repoint its index slot.
            let h = hash_key(self.entries[last].key());
            if let Some(slot) = self.index.find_mut(h, |&i| i as usize == last) {
                *slot = pos as u32;
            }
        }
        let e = self.entries.swap_remove(pos);
        self.maybe_shrink();
        e
    }

    /// Removes the entry at position `pos`.
    pub fn remove_at(&mut self, pos: usize) -> E {
        let h = hash_key(self.entries[pos].key());
        if let Ok(slot) = self.index.find_entry(h, |&i| i as usize == pos) {
            slot.remove();
        }
        self.take_at(pos)
    }

    /// Room for one more entry: the entry vector grows by a quarter (not
    /// doubling), to keep the slack of big collections small.
    fn grow_for_one(&mut self) {
        let (len, cap) = (self.entries.len(), self.entries.capacity());
        if len == cap {
            self.entries.reserve_exact((cap / 4).max(4));
        }
    }

    fn maybe_shrink(&mut self) {
        let (len, cap) = (self.entries.len(), self.entries.capacity());
        if cap > 64 && len * 4 < cap {
            self.entries.shrink_to(len + len / 4);
            let entries = &self.entries;
            self.index
                .shrink_to(len, |&i| hash_key(entries[i as usize].key()));
        }
    }

    /// Heap bytes owned: the entry vector, the index and the entries' own.
    pub fn heap_size(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<E>()
            + self.index.allocation_size()
            + self.entries.iter().map(|e| e.heap_size()).sum::<usize>()
    }

    /// One SCAN step: calls `f` on up to `count` entries below `cursor`
    /// (0 = start), walking down; returns the next cursor (0 = done).
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&E)) -> u64 {
        let n = self.entries.len();
        let mut top = if cursor == 0 {
            n
        } else {
            (cursor as usize).min(n)
        };
        let mut visited = 0;
        while top > 0 && visited < count {
            top -= 1;
            f(&self.entries[top]);
            visited += 1;
        }
        top as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SmallBytes;

    #[test]
    fn insert_find_remove() {
        let mut d: Dict<SmallBytes> = Dict::new();
        for i in 0..1000 {
            assert!(d.insert(SmallBytes::new(format!("k{i}").as_bytes())));
        }
        assert!(!d.insert(SmallBytes::new(b"k5")));
        assert_eq!(d.len(), 1000);
        for i in (0..1000).step_by(3) {
            assert!(d.remove(format!("k{i}").as_bytes()).is_some());
        }
        for i in 0..1000 {
            assert_eq!(d.contains(format!("k{i}").as_bytes()), i % 3 != 0, "{i}");
        }
        while !d.is_empty() {
            d.remove_at(d.len() / 2);
        }
        assert!(d.find(b"k1").is_none());
    }

    #[test]
    fn scan_survives_removals() {
        let mut d: Dict<SmallBytes> = Dict::new();
        for i in 0..100 {
            d.insert(SmallBytes::new(format!("k{i}").as_bytes()));
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut removed = 0;
        loop {
            cursor = d.scan(cursor, 7, |e| {
                seen.insert(e.to_vec());
            });
            // Remove some already-seen and some unseen entries each step.
            for k in [format!("k{removed}"), format!("k{}", 99 - removed)] {
                d.remove(k.as_bytes());
            }
            removed += 1;
            if cursor == 0 {
                break;
            }
        }
        for e in d.iter() {
            assert!(seen.contains(e.as_slice()), "{:?} missed", e);
        }
    }
}
