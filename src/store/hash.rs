//! The Hash value type, encoded as Redis 7.0 encodes hashes:
//!
//! - `listpack` (Redis's exact bytes: field, value, field, value, …) while
//!   the hash has at most `hash-max-listpack-entries` fields and no field
//!   or value longer than `hash-max-listpack-value`; fields keep insertion
//!   order, so HGETALL answers in Redis's order;
//! - `hashtable` otherwise (a `Dict` of inline small strings), for good:
//!   Redis never converts back.

use super::dict::Dict;
use super::listpack::{Listpack, LpValue};
use super::{PackedBox, SmallBytes};

type Pair = (SmallBytes, SmallBytes);

/// A hash value.
#[derive(Clone, Debug)]
pub enum Hash {
    Pack(Listpack),
    Table(PackedBox<Dict<Pair>>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Pack(Listpack::new())
    }
}

impl Hash {
    pub fn new() -> Hash {
        Hash::default()
    }

    /// Redis's OBJECT ENCODING name for the current representation.
    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Pack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    /// Heap bytes owned (INFO memory, MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match self {
            Hash::Pack(lp) => lp.heap_size(),
            Hash::Table(d) => std::mem::size_of::<Dict<Pair>>() + d.heap_size(),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Hash::Pack(lp) => lp.len() / 2,
            Hash::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The listpack bytes of a compact hash (RDB/DUMP).
    pub fn listpack(&self) -> Option<&Listpack> {
        match self {
            Hash::Pack(lp) => Some(lp),
            Hash::Table(_) => None,
        }
    }

    /// Converts to a hashtable (Redis's `hashTypeConvert`), presized.
    pub fn convert_to_table(&mut self) {
        if let Hash::Pack(lp) = self {
            let mut d = Dict::with_capacity(lp.len() / 2);
            let mut it = lp.iter();
            let mut fb = Vec::new();
            let mut vb = Vec::new();
            while let (Some(f), Some(v)) = (it.next(), it.next()) {
                fb.clear();
                vb.clear();
                f.write_to(&mut fb);
                v.write_to(&mut vb);
                d.insert_new((SmallBytes::new(&fb), SmallBytes::new(&vb)));
            }
            *self = Hash::Table(PackedBox::new(d));
        }
    }

    /// Redis's `hashTypeTryConversion`: converts before an HSET if any of
    /// the strings to add is longer than `max_value`.
    pub fn try_conversion(&mut self, args: &[&[u8]], max_value: usize) {
        if matches!(self, Hash::Pack(_)) && args.iter().any(|a| a.len() > max_value) {
            self.convert_to_table();
        }
    }

    /// Offset of `field`'s value in a listpack.
    fn pack_value_off(lp: &Listpack, field: &[u8]) -> Option<usize> {
        let f = lp.find(lp.first(), field, 1)?;
        lp.next(f)
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<LpValue<'_>> {
        match self {
            Hash::Pack(lp) => Self::pack_value_off(lp, field).map(|off| lp.get(off)),
            Hash::Table(d) => d.get(field).map(|(_, v)| LpValue::Str(v.as_slice())),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        match self {
            Hash::Pack(lp) => lp.find(lp.first(), field, 1).is_some(),
            Hash::Table(d) => d.contains(field),
        }
    }

    /// Sets `field` to `value` (Redis's `hashTypeSet`); true if the field
    /// existed (an update). Converts to a hashtable when a string is longer
    /// than `max_value` or the count passes `max_entries`.
    pub fn set(
        &mut self,
        field: &[u8],
        value: &[u8],
        max_entries: usize,
        max_value: usize,
    ) -> bool {
        if matches!(self, Hash::Pack(_)) && (field.len() > max_value || value.len() > max_value) {
            self.convert_to_table();
        }
        match self {
            Hash::Pack(lp) => {
                if let Some(off) = Self::pack_value_off(lp, field) {
                    lp.replace(off, value);
                    return true;
                }
                lp.push_back(field);
                lp.push_back(value);
                if lp.len() / 2 > max_entries {
                    self.convert_to_table();
                }
                false
            }
            Hash::Table(d) => {
                let (pos, added) =
                    d.insert_with(field, || (SmallBytes::new(field), SmallBytes::new(value)));
                if !added {
                    d.at_mut(pos).1 = SmallBytes::new(value);
                }
                !added
            }
        }
    }

    /// Removes `field`; true if it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Pack(lp) => match lp.find(lp.first(), field, 1) {
                Some(off) => {
                    lp.delete_range(off, 2);
                    true
                }
                None => false,
            },
            Hash::Table(d) => d.remove(field).is_some(),
        }
    }

    /// Gives spare capacity back after a write command (a listpack is kept
    /// at its exact size, as Redis keeps it).
    pub fn compact(&mut self) {
        if let Hash::Pack(lp) = self {
            if lp.heap_size() > lp.bytes_len() {
                // A fresh exact-size copy rather than an in-place shrink:
                // the grown buffer is freed whole and reused, instead of
                // leaving a small hole behind every hash.
                *lp = lp.clone();
            }
        }
    }

    /// (field, value) pairs in iteration order.
    pub fn iter(&self) -> HashIter<'_> {
        match self {
            Hash::Pack(lp) => HashIter::Pack(lp.iter()),
            Hash::Table(d) => HashIter::Table(d.iter()),
        }
    }

    /// All pairs, for random access (HRANDFIELD).
    pub fn pairs(&self) -> Vec<(LpValue<'_>, LpValue<'_>)> {
        self.iter().collect()
    }

    /// The pair at position `i` of a hashtable, or by walking a listpack.
    pub fn at(&self, i: usize) -> (LpValue<'_>, LpValue<'_>) {
        match self {
            Hash::Pack(_) => self.iter().nth(i).expect("index in range"),
            Hash::Table(d) => {
                let (f, v) = d.at(i);
                (LpValue::Str(f.as_slice()), LpValue::Str(v.as_slice()))
            }
        }
    }

    /// One HSCAN step over a hashtable; a listpack returns everything with
    /// cursor 0, as Redis does.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(LpValue, LpValue)) -> u64 {
        match self {
            Hash::Pack(_) => {
                for (k, v) in self.iter() {
                    f(k, v);
                }
                0
            }
            Hash::Table(d) => d.scan(cursor, count, |(k, v)| f(LpValue::Str(k), LpValue::Str(v))),
        }
    }
}

pub enum HashIter<'a> {
    Pack(super::listpack::Iter<'a>),
    Table(std::slice::Iter<'a, Pair>),
}

impl<'a> Iterator for HashIter<'a> {
    type Item = (LpValue<'a>, LpValue<'a>);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            HashIter::Pack(it) => Some((it.next()?, it.next()?)),
            HashIter::Table(it) => it
                .next()
                .map(|(f, v)| (LpValue::Str(f.as_slice()), LpValue::Str(v.as_slice()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(h: &Hash) -> Vec<Vec<u8>> {
        h.iter().map(|(f, _)| f.to_vec()).collect()
    }

    #[test]
    fn listpack_then_hashtable() {
        let mut h = Hash::new();
        assert!(!h.set(b"b", b"1", 3, 8));
        assert!(!h.set(b"a", b"x", 3, 8));
        assert!(h.set(b"b", b"22", 3, 8));
        assert_eq!(fields(&h), vec![b"b".to_vec(), b"a".to_vec()]);
        assert_eq!(h.get(b"b"), Some(LpValue::Int(22)));
        assert_eq!(h.encoding(), "listpack");
        h.set(b"c", b"1", 3, 8);
        h.set(b"d", b"1", 3, 8);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 4);
        assert_eq!(h.get(b"b").map(|v| v.to_vec()), Some(b"22".to_vec()));
        assert!(h.remove(b"a") && !h.remove(b"a"));
        assert_eq!(h.len(), 3);

        let mut g = Hash::new();
        g.set(b"f", b"123456789", 3, 8);
        assert_eq!(g.encoding(), "hashtable");
        // Held inline in a Value (store/value.rs).
        assert_eq!(std::mem::size_of::<Hash>(), 16);
    }
}
