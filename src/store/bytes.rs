//! `SmallBytes`: a byte string that keeps up to 22 bytes inline (no heap
//! allocation), for keys and small string values. 24 bytes in all,
//! aligned to 4 (`PackedBox`: the keyspace's buckets pack tighter).

use super::packed_box::PackedBox;
use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

const INLINE: usize = 22;

#[derive(Clone)]
pub enum SmallBytes {
    Inline { len: u8, data: [u8; INLINE] },
    Heap(PackedBox<[u8]>),
}

impl SmallBytes {
    #[inline]
    pub fn new(b: &[u8]) -> Self {
        if b.len() <= INLINE {
            let mut data = [0u8; INLINE];
            data[..b.len()].copy_from_slice(b);
            SmallBytes::Inline {
                len: b.len() as u8,
                data,
            }
        } else {
            SmallBytes::Heap(PackedBox::from_box(b.into()))
        }
    }

    pub fn from_vec(v: Vec<u8>) -> Self {
        if v.len() <= INLINE {
            Self::new(&v)
        } else {
            SmallBytes::Heap(PackedBox::from_box(v.into_boxed_slice()))
        }
    }

    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match self {
            SmallBytes::Inline { len, data } => &data[..*len as usize],
            SmallBytes::Heap(b) => b,
        }
    }

    /// Heap bytes owned beyond the 24-byte header.
    pub fn heap_size(&self) -> usize {
        match self {
            SmallBytes::Inline { .. } => 0,
            SmallBytes::Heap(b) => b.len(),
        }
    }
}

impl std::ops::Deref for SmallBytes {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Borrow<[u8]> for SmallBytes {
    #[inline]
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for SmallBytes {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for SmallBytes {}

impl Hash for SmallBytes {
    // Must hash exactly like `[u8]` so lookups by `&[u8]` work.
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state)
    }
}

impl std::fmt::Debug for SmallBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_and_roundtrip() {
        assert_eq!(std::mem::size_of::<SmallBytes>(), 24);
        assert_eq!(std::mem::align_of::<SmallBytes>(), 4);
        for n in [0, 1, 22, 23, 100] {
            let v = vec![7u8; n];
            assert_eq!(SmallBytes::new(&v).as_slice(), &v[..]);
        }
    }
}
