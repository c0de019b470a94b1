//! Values held in the keyspace.

use super::bytes::SmallBytes;
use super::packed_box::PackedBox;
use super::{Hash, List, Set, Stream, ZSet};

/// A value. Strings set whole keep the compact `Str` form; strings changed
/// in place (APPEND, SETRANGE, SETBIT) become `Raw`, which grows without
/// copying, and which Redis reports as encoding "raw" too.
#[derive(Clone, Debug)]
pub enum Value {
    Str(SmallBytes),
    Raw(PackedBox<Vec<u8>>),
    List(PackedBox<List>),
    /// Inline (16 bytes): a small hash is its listpack's allocation only.
    Hash(Hash),
    Set(PackedBox<Set>),
    ZSet(PackedBox<ZSet>),
    Stream(PackedBox<Stream>),
}

impl Value {
    pub fn from_bytes(b: &[u8]) -> Value {
        Value::Str(SmallBytes::new(b))
    }

    pub fn from_i64(n: i64) -> Value {
        let mut tmp = Vec::with_capacity(20);
        crate::resp::push_i64(&mut tmp, n);
        Value::Str(SmallBytes::new(&tmp))
    }

    /// The string bytes, or None for a non-string value.
    #[inline]
    pub fn as_str(&self) -> Option<&[u8]> {
        match self {
            Value::Str(s) => Some(s.as_slice()),
            Value::Raw(v) => Some(v.as_slice()),
            _ => None,
        }
    }

    /// The string as a mutable buffer, converting to `Raw` first.
    pub fn as_raw_mut(&mut self) -> Option<&mut Vec<u8>> {
        if let Value::Str(s) = self {
            *self = Value::Raw(PackedBox::new(s.as_slice().to_vec()));
        }
        match self {
            Value::Raw(v) => Some(v),
            _ => None,
        }
    }

    /// Redis's TYPE name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) | Value::Raw(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// Redis's OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => {
                if s.len() <= 20 && crate::resp::parse_i64(s).is_some() {
                    "int"
                } else if s.len() <= 44 {
                    "embstr"
                } else {
                    "raw"
                }
            }
            Value::Raw(_) => "raw",
            Value::List(l) => l.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(_) => "stream",
        }
    }

    /// Approximate heap bytes owned by the value (for INFO/MEMORY).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(s) => s.heap_size(),
            Value::Raw(v) => v.capacity() + 24,
            Value::List(l) => l.heap_size(),
            Value::Hash(h) => h.heap_size(),
            Value::Set(s) => s.heap_size(),
            Value::ZSet(z) => z.heap_size(),
            Value::Stream(s) => s.heap_size(),
        }
    }

    /// How many allocations freeing the value takes, as Redis's
    /// lazyfreeGetFreeEffort counts them: a list's nodes, a hash table's
    /// or tree's elements, 1 for a string or a compact encoding.
    pub fn free_effort(&self) -> usize {
        match self {
            Value::Str(_) | Value::Raw(_) => 1,
            Value::List(l) => l.node_count(),
            Value::Hash(h) if h.encoding() == "hashtable" => h.len(),
            Value::Set(s) if s.encoding() == "hashtable" => s.len(),
            Value::ZSet(z) if z.encoding() == "skiplist" => z.len(),
            Value::Stream(s) => s.nodes.len() + 1,
            _ => 1,
        }
    }
}

/// What the keyspace stores per key beside the key itself.
#[derive(Clone, Debug)]
pub struct Entry {
    pub value: Value,
    /// Last access, in seconds of the shard's LRU clock (OBJECT IDLETIME).
    pub lru: u32,
}

#[cfg(test)]
mod tests {
    #[test]
    fn compact_sizes() {
        // A keyspace entry stays small: see docs/benchmarks.md memory figures.
        assert_eq!(std::mem::size_of::<super::Value>(), 24);
        assert_eq!(std::mem::size_of::<super::Entry>(), 28);
        // A keyspace bucket: the key, the entry, no padding.
        assert_eq!(
            crate::store::slot_map::SlotMap::<super::Entry>::bucket_bytes(),
            24 + 28 + 2
        );
    }
}
