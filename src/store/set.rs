//! The Set value type, encoded as Redis 7.0 encodes sets:
//!
//! - `intset` while every member is an integer (in Redis's strict
//!   `string2ll` sense) and the count is at most `set-max-intset-entries`;
//!   members sorted ascending, so SMEMBERS answers in Redis's order;
//! - `hashtable` otherwise (a `Dict` of inline small strings), for good:
//!   Redis 7.0 never converts back, and has no listpack sets (that is 7.2;
//!   the `set-max-listpack-*` directives are accepted and ignored).

use super::dict::Dict;
use super::intset::IntSet;
use super::SmallBytes;
use crate::resp::parse_i64;

/// A set value.
#[derive(Clone, Debug)]
pub enum Set {
    Ints(IntSet),
    Table(Box<Dict<SmallBytes>>),
}

impl Default for Set {
    fn default() -> Self {
        Set::Ints(IntSet::new())
    }
}

/// A member as stored: intsets hold integers, tables bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl Member<'_> {
    /// Appends the member's bytes (integers in decimal).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match *self {
            Member::Int(n) => crate::resp::push_i64(out, n),
            Member::Str(s) => out.extend_from_slice(s),
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_to(&mut v);
        v
    }
}

impl Set {
    /// An empty set of the encoding Redis's `setTypeCreate` picks for a
    /// first member `first`.
    pub fn new_for(first: &[u8]) -> Set {
        if parse_i64(first).is_some() {
            Set::Ints(IntSet::new())
        } else {
            Set::Table(Box::default())
        }
    }

    /// An empty set that starts as an intset (Redis's
    /// `createIntsetObject`, used for the results of SINTERSTORE etc.).
    pub fn new_intset() -> Set {
        Set::Ints(IntSet::new())
    }

    /// Redis's OBJECT ENCODING name for the current representation.
    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Ints(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    /// Heap bytes owned (INFO memory, MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match self {
            Set::Ints(s) => s.heap_size(),
            Set::Table(d) => std::mem::size_of::<Dict<SmallBytes>>() + d.heap_size(),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Ints(s) => s.len(),
            Set::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Converts an intset to a hashtable, presized.
    fn convert_to_table(&mut self, extra: usize) {
        if let Set::Ints(s) = self {
            let mut d = Dict::with_capacity(s.len() + extra);
            let mut buf = Vec::with_capacity(20);
            for v in s.iter() {
                buf.clear();
                crate::resp::push_i64(&mut buf, v);
                d.insert_new(SmallBytes::new(&buf));
            }
            *self = Set::Table(Box::new(d));
        }
    }

    /// Adds `m`; true if it was not a member. `max_intset` is
    /// `set-max-intset-entries`.
    pub fn add(&mut self, m: &[u8], max_intset: usize) -> bool {
        match self {
            Set::Ints(s) => match parse_i64(m) {
                Some(v) => {
                    if !s.insert(v) {
                        return false;
                    }
                    if s.len() > max_intset {
                        self.convert_to_table(0);
                    }
                    true
                }
                None => {
                    self.convert_to_table(1);
                    let Set::Table(d) = self else { unreachable!() };
                    d.insert_new(SmallBytes::new(m));
                    true
                }
            },
            Set::Table(d) => d.insert_with(m, || SmallBytes::new(m)).1,
        }
    }

    /// Adds a member taken from another set (integers stay integers).
    pub fn add_member(&mut self, m: Member, max_intset: usize) -> bool {
        match (&mut *self, m) {
            (Set::Ints(s), Member::Int(v)) => {
                if !s.insert(v) {
                    return false;
                }
                if s.len() > max_intset {
                    self.convert_to_table(0);
                }
                true
            }
            (_, Member::Str(b)) => self.add(b, max_intset),
            (Set::Table(d), Member::Int(v)) => {
                let mut buf = Vec::with_capacity(20);
                crate::resp::push_i64(&mut buf, v);
                d.insert_with(&buf, || SmallBytes::new(&buf)).1
            }
        }
    }

    /// Removes a member taken from another set.
    pub fn remove_member(&mut self, m: Member) -> bool {
        match (&mut *self, m) {
            (Set::Ints(s), Member::Int(v)) => s.remove(v),
            (Set::Table(d), Member::Int(v)) => {
                let mut buf = Vec::with_capacity(20);
                crate::resp::push_i64(&mut buf, v);
                d.remove(&buf).is_some()
            }
            (_, Member::Str(b)) => self.remove(b),
        }
    }

    /// Removes `m`; true if it was a member.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Ints(s) => parse_i64(m).is_some_and(|v| s.remove(v)),
            Set::Table(d) => d.remove(m).is_some(),
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            Set::Ints(s) => parse_i64(m).is_some_and(|v| s.contains(v)),
            Set::Table(d) => d.contains(m),
        }
    }

    /// Membership of a member taken from another set.
    pub fn contains_member(&self, m: Member) -> bool {
        match (self, m) {
            (Set::Ints(s), Member::Int(v)) => s.contains(v),
            (Set::Table(d), Member::Int(v)) => {
                let mut buf = Vec::with_capacity(20);
                crate::resp::push_i64(&mut buf, v);
                d.contains(&buf)
            }
            (_, Member::Str(b)) => self.contains(b),
        }
    }

    /// The member at position `i` (`0..len`): ascending for an intset.
    #[inline]
    pub fn at(&self, i: usize) -> Member<'_> {
        match self {
            Set::Ints(s) => Member::Int(s.get(i)),
            Set::Table(d) => Member::Str(d.at(i).as_slice()),
        }
    }

    /// A uniformly random member, from a random number `r`. The set must
    /// not be empty.
    pub fn random(&self, r: u64) -> Member<'_> {
        self.at((r % self.len() as u64) as usize)
    }

    /// Removes the member at position `i` and returns its bytes.
    pub fn remove_at(&mut self, i: usize) -> Vec<u8> {
        match self {
            Set::Ints(s) => {
                let v = s.remove_at(i);
                Member::Int(v).to_vec()
            }
            Set::Table(d) => d.remove_at(i).as_slice().to_vec(),
        }
    }

    /// Members in iteration order (ascending for an intset).
    pub fn iter(&self) -> impl Iterator<Item = Member<'_>> + '_ {
        (0..self.len()).map(move |i| self.at(i))
    }

    /// One SSCAN step over a hashtable; compact sets return everything
    /// with cursor 0, as Redis does.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(Member)) -> u64 {
        match self {
            Set::Ints(s) => {
                s.iter().for_each(|v| f(Member::Int(v)));
                0
            }
            Set::Table(d) => d.scan(cursor, count, |e| f(Member::Str(e.as_slice()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_follow_redis_7_0() {
        let mut s = Set::new_for(b"1");
        assert_eq!(s.encoding(), "intset");
        for v in [3, 1, 2] {
            assert!(s.add(v.to_string().as_bytes(), 512));
        }
        assert!(!s.add(b"2", 512));
        assert_eq!(
            s.iter().map(|m| m.to_vec()).collect::<Vec<_>>(),
            vec![b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]
        );
        assert!(s.add(b"01", 512)); // not canonical: a string
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"2") && s.contains(b"01") && !s.contains(b"1.0"));
        assert!(s.remove(b"1"));
        assert_eq!(s.len(), 3);

        let mut t = Set::new_intset();
        for v in 0..4 {
            t.add(v.to_string().as_bytes(), 3);
        }
        assert_eq!(t.encoding(), "hashtable");
        assert_eq!(Set::new_for(b"a").encoding(), "hashtable");
        assert_eq!(std::mem::size_of::<Set>(), 24);
    }
}
