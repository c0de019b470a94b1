//! `KeyTable`: the keys of one slot and their entries.
//!
//! A `Dict` (dense entry vector plus a `u32` index, see dict.rs) rather
//! than a `HashMap<SmallBytes, Entry>`: a slot holds tens of keys, and a
//! map of 56-byte buckets at the usual half-full load costs ~120 bytes a
//! key, where the dense vector grown by quarters and a 5-byte index slot
//! cost ~70.

use super::bytes::SmallBytes;
use super::dict::{Dict, Keyed};
use super::value::Entry;

/// A key and what is stored under it.
#[derive(Clone, Debug)]
pub struct KeyEntry {
    pub key: SmallBytes,
    pub entry: Entry,
}

impl Keyed for KeyEntry {
    #[inline]
    fn key(&self) -> &[u8] {
        self.key.as_slice()
    }
    fn heap_size(&self) -> usize {
        self.key.heap_size() + self.entry.value.heap_size()
    }
}

#[derive(Default)]
pub struct KeyTable {
    dict: Dict<KeyEntry>,
}

impl KeyTable {
    #[inline]
    pub fn len(&self) -> usize {
        self.dict.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.dict.is_empty()
    }

    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        self.dict.get(key).map(|e| &e.entry)
    }

    #[inline]
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.dict.get_mut(key).map(|e| &mut e.entry)
    }

    #[inline]
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.dict.contains(key)
    }

    /// Stores `entry` under `key`, returning the entry it replaced.
    pub fn insert(&mut self, key: &[u8], entry: Entry) -> Option<Entry> {
        let mut entry = Some(entry);
        let (pos, added) = self.dict.insert_with(key, || KeyEntry {
            key: SmallBytes::new(key),
            entry: entry.take().expect("entry"),
        });
        match entry {
            Some(e) => Some(std::mem::replace(&mut self.dict.at_mut(pos).entry, e)),
            None => {
                debug_assert!(added);
                None
            }
        }
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        self.dict.remove(key).map(|e| e.entry)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&SmallBytes, &Entry)> {
        self.dict.iter().map(|e| (&e.key, &e.entry))
    }

    pub fn keys(&self) -> impl Iterator<Item = &SmallBytes> {
        self.dict.iter().map(|e| &e.key)
    }

    /// The entry at position `i` (0..len), for uniform random picks.
    pub fn at(&self, i: usize) -> (&SmallBytes, &Entry) {
        let e = self.dict.at(i);
        (&e.key, &e.entry)
    }

    /// Heap bytes of the table itself (not of the keys' and values' own).
    pub fn table_bytes(&self) -> usize {
        self.dict.heap_size() - self.dict.iter().map(Keyed::heap_size).sum::<usize>()
    }

    /// Heap bytes of the table, the keys and the values.
    pub fn heap_size(&self) -> usize {
        self.dict.heap_size()
    }
}

impl<'a> IntoIterator for &'a KeyTable {
    type Item = (&'a SmallBytes, &'a Entry);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, KeyEntry>,
        fn(&'a KeyEntry) -> (&'a SmallBytes, &'a Entry),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.dict.iter().map(|e| (&e.key, &e.entry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Value;

    fn entry(v: &str) -> Entry {
        Entry {
            value: Value::from_bytes(v.as_bytes()),
            lru: 0,
        }
    }

    #[test]
    fn insert_replace_remove_keep_every_other_key() {
        let mut t = KeyTable::default();
        for i in 0..1000 {
            assert!(t.insert(format!("k{i}").as_bytes(), entry("a")).is_none());
        }
        let old = t.insert(b"k5", entry("b")).unwrap();
        assert_eq!(old.value.as_str(), Some(&b"a"[..]));
        for i in (0..1000).step_by(2) {
            assert!(t.remove(format!("k{i}").as_bytes()).is_some());
        }
        assert_eq!(t.len(), 500);
        for i in 0..1000 {
            let k = format!("k{i}");
            assert_eq!(t.contains_key(k.as_bytes()), i % 2 == 1, "{k}");
        }
        assert_eq!(t.get(b"k5").unwrap().value.as_str(), Some(&b"b"[..]));
        assert_eq!(t.iter().count(), 500);
        assert!(t.remove(b"k0").is_none());
    }
}
