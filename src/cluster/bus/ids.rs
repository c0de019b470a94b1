//! Node IDs and slot bitmaps as they travel on the bus.
//!
//! ```text
//! NodeId     40 bytes  ASCII, 40 lowercase hex chars from the sender, no NUL;
//!                      40 NUL bytes mean "no node" (header `slaveof` of a master)
//! SlotBitmap 2048 bytes 16384 bits, slot s = byte s>>3, bit s&7, LSB first:
//!                      slot 0 = byte 0 value 0x01, slot 7 = byte 0 value 0x80
//! ```

use std::fmt;

use crate::slot::SLOTS;

/// Length of a node ID on the wire and in `CLUSTER NODES`.
pub const NODE_ID_LEN: usize = 40;
/// Length of a slot bitmap on the wire (16384 bits).
pub const SLOT_BITMAP_LEN: usize = SLOTS / 8;

/// A cluster node ID: 40 ASCII bytes, kept exactly as received so a
/// decoded message re-encodes byte for byte.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub [u8; NODE_ID_LEN]);

impl NodeId {
    /// All NUL: "no node" on the wire.
    pub const NULL: NodeId = NodeId([0; NODE_ID_LEN]);

    /// A fresh ID: 20 bytes of `/dev/urandom`, hex-encoded (40 lowercase
    /// hex chars, as `getRandomHexChars()`). Falls back to a hash of the
    /// clock, pid and a per-process random seed if `/dev/urandom` is missing.
    pub fn random() -> NodeId {
        let mut raw = [0u8; NODE_ID_LEN / 2];
        if !read_urandom(&mut raw) {
            fallback_random(&mut raw);
        }
        let mut id = [0u8; NODE_ID_LEN];
        for (i, b) in raw.iter().enumerate() {
            id[2 * i] = HEX[(b >> 4) as usize];
            id[2 * i + 1] = HEX[(b & 15) as usize];
        }
        NodeId(id)
    }

    /// Parses a user- or file-supplied ID the way `verifyClusterNodeId()`
    /// does: exactly 40 chars of `[a-z0-9]`.
    pub fn parse(s: &[u8]) -> Option<NodeId> {
        if s.len() != NODE_ID_LEN
            || !s
                .iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        {
            return None;
        }
        let mut id = [0u8; NODE_ID_LEN];
        id.copy_from_slice(s);
        Some(NodeId(id))
    }

    /// Takes 40 raw bytes from the wire, unchecked (7.0 does not check
    /// the sender name either; lookups with a bad one simply fail).
    pub fn from_wire(b: &[u8]) -> NodeId {
        let mut id = [0u8; NODE_ID_LEN];
        id.copy_from_slice(&b[..NODE_ID_LEN]);
        NodeId(id)
    }

    /// The ID as text; `""` if the bytes are not UTF-8 (only possible
    /// for garbage received from the wire).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// True for the all-NUL "no node" value.
    pub fn is_null(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn read_urandom(buf: &mut [u8]) -> bool {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .is_ok()
}

fn fallback_random(buf: &mut [u8]) {
    use std::hash::{BuildHasher, Hasher};
    let seed = ahash::RandomState::new();
    for (i, chunk) in buf.chunks_mut(8).enumerate() {
        let mut h = seed.build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.write_u32(std::process::id());
        h.write_usize(i);
        let v = h.finish().to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId(\"{}\")", self.0.escape_ascii())
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.escape_ascii())
    }
}

/// The 16384-bit slot bitmap of the header `myslots` and of UPDATE.
/// Slot arguments must be below 16384 (indexing panics otherwise).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SlotBitmap(pub Box<[u8; SLOT_BITMAP_LEN]>);

impl SlotBitmap {
    /// No slot set.
    pub fn new() -> SlotBitmap {
        SlotBitmap(Box::new([0; SLOT_BITMAP_LEN]))
    }

    /// Copies 2048 wire bytes.
    pub fn from_wire(b: &[u8]) -> SlotBitmap {
        let mut m = SlotBitmap::new();
        m.0.copy_from_slice(&b[..SLOT_BITMAP_LEN]);
        m
    }

    /// Whether `slot` (0..16384) is set.
    pub fn get(&self, slot: u16) -> bool {
        let s = slot as usize;
        self.0[s >> 3] & (1 << (s & 7)) != 0
    }

    /// Sets `slot`.
    pub fn set(&mut self, slot: u16) {
        let s = slot as usize;
        self.0[s >> 3] |= 1 << (s & 7);
    }

    /// Clears `slot`.
    pub fn clear(&mut self, slot: u16) {
        let s = slot as usize;
        self.0[s >> 3] &= !(1 << (s & 7));
    }

    /// Sets every slot of `start..=end`.
    pub fn set_range(&mut self, start: u16, end: u16) {
        for s in start..=end {
            self.set(s);
        }
    }

    /// Number of slots set.
    pub fn count(&self) -> usize {
        self.0.iter().map(|b| b.count_ones() as usize).sum()
    }

    /// Contiguous runs of set slots as inclusive `(start, end)`, ascending.
    pub fn iter_ranges(&self) -> impl Iterator<Item = (u16, u16)> + '_ {
        let mut next = 0usize;
        std::iter::from_fn(move || {
            while next < SLOTS && !self.get(next as u16) {
                // Skip empty bytes quickly.
                if next & 7 == 0 && self.0[next >> 3] == 0 {
                    next += 8;
                } else {
                    next += 1;
                }
            }
            if next >= SLOTS {
                return None;
            }
            let start = next;
            while next < SLOTS && self.get(next as u16) {
                next += 1;
            }
            Some((start as u16, (next - 1) as u16))
        })
    }
}

impl Default for SlotBitmap {
    fn default() -> Self {
        SlotBitmap::new()
    }
}

impl fmt::Debug for SlotBitmap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SlotBitmap[")?;
        for (i, (a, b)) in self.iter_ranges().enumerate() {
            let sep = if i == 0 { "" } else { " " };
            if a == b {
                write!(f, "{sep}{a}")?;
            } else {
                write!(f, "{sep}{a}-{b}")?;
            }
        }
        f.write_str("]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_valid_and_differ() {
        let a = NodeId::random();
        let b = NodeId::random();
        assert_ne!(a, b);
        assert_eq!(NodeId::parse(&a.0), Some(a));
        assert!(a.as_str().bytes().all(|c| HEX.contains(&c)));
        assert!(!a.is_null());
        assert!(NodeId::NULL.is_null());
    }

    #[test]
    fn parse_follows_verify_cluster_node_id() {
        let ok = b"0123456789abcdefghijklmnopqrstuvwxyz0123";
        assert!(NodeId::parse(ok).is_some());
        assert!(NodeId::parse(&ok[..39]).is_none());
        assert!(NodeId::parse(b"0123456789ABCDEF0123456789abcdef01234567").is_none());
        assert!(NodeId::parse(b"0123456789abcdef0123456789abcdef0123456-").is_none());
        let id = NodeId::parse(ok).unwrap();
        assert_eq!(id.as_str(), std::str::from_utf8(ok).unwrap());
        assert_eq!(
            format!("{id:?}"),
            "NodeId(\"0123456789abcdefghijklmnopqrstuvwxyz0123\")"
        );
    }

    #[test]
    fn bitmap_is_lsb_first() {
        let mut m = SlotBitmap::new();
        m.set(0);
        assert_eq!(m.0[0], 0x01);
        m.set(7);
        assert_eq!(m.0[0], 0x81);
        m.set(8);
        assert_eq!(m.0[1], 0x01);
        m.set(16383);
        assert_eq!(m.0[2047], 0x80);
        assert!(m.get(16383) && m.get(7) && !m.get(6));
        assert_eq!(m.count(), 4);
        m.clear(7);
        assert_eq!(m.0[0], 0x01);
        assert_eq!(m.count(), 3);
    }

    #[test]
    fn ranges() {
        let mut m = SlotBitmap::new();
        assert_eq!(m.iter_ranges().count(), 0);
        m.set_range(0, 5460);
        m.set(6000);
        m.set_range(16380, 16383);
        let r: Vec<_> = m.iter_ranges().collect();
        assert_eq!(r, vec![(0, 5460), (6000, 6000), (16380, 16383)]);
        assert_eq!(m.count(), 5461 + 1 + 4);
        assert_eq!(format!("{m:?}"), "SlotBitmap[0-5460 6000 16380-16383]");
        let mut all = SlotBitmap::new();
        all.set_range(0, 16383);
        assert_eq!(all.iter_ranges().collect::<Vec<_>>(), vec![(0, 16383)]);
        assert_eq!(all.clone(), all);
    }
}
