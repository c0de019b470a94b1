//! The stream type, laid out as Redis 7.0's t_stream.c keeps it: entries
//! in nodes keyed by their master ID (the first ID added to the node),
//! each node what Redis holds as one listpack — a master entry (live
//! count, deleted count, the master fields, 0), then per entry its flags,
//! ID deltas from the master, fields (or only values when they are the
//! master's: SAMEFIELDS), and its element count. Deletion only flags an
//! entry, as Redis does; a node goes when its last live entry does.
//!
//! Nodes are kept decoded; `stream::pack` writes one as Redis's listpack
//! bytes (RDB, DUMP), and `Node::bytes` tracks that size for the
//! `stream-node-max-bytes` split, so the node boundaries (and the bytes
//! saved) are Redis's.

mod group;
mod id;
pub mod pack;
mod trim;

pub use group::{Consumer, Group, Nack, INVALID_ENTRIES_READ};
pub use id::StreamId;
pub use trim::{Trim, TrimBy};

use std::collections::BTreeMap;

/// `STREAM_ITEM_FLAG_DELETED`.
pub const FLAG_DELETED: i64 = 1;
/// `STREAM_ITEM_FLAG_SAMEFIELDS`.
pub const FLAG_SAMEFIELDS: i64 = 2;
/// `STREAM_LISTPACK_MAX_SIZE`.
const LISTPACK_MAX_SIZE: usize = 1 << 30;

/// One entry of a node.
#[derive(Clone, Debug)]
pub struct NodeEntry {
    pub id: StreamId,
    pub deleted: bool,
    /// SAMEFIELDS: `data` holds the values only.
    pub same: bool,
    /// Field, value, field, value ... (or values only, `same`).
    pub data: Vec<Vec<u8>>,
}

/// One radix-tree node: what Redis keeps as one listpack.
#[derive(Clone, Debug)]
pub struct Node {
    pub master: StreamId,
    pub fields: Vec<Vec<u8>>,
    pub entries: Vec<NodeEntry>,
    pub live: usize,
    /// Encoded bytes of every listpack element but the two counts.
    body: usize,
}

impl Node {
    pub fn deleted(&self) -> usize {
        self.entries.len() - self.live
    }

    /// `lpBytes` of the node's listpack.
    pub fn bytes(&self) -> usize {
        7 + pack::int_len(self.live as i64) + pack::int_len(self.deleted() as i64) + self.body
    }

    /// The fields and values of `e` (an entry of this node).
    pub fn pairs<'a>(&'a self, e: &'a NodeEntry) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
        let same = e.same;
        let n = if same { e.data.len() } else { e.data.len() / 2 };
        (0..n).map(move |i| {
            if same {
                (self.fields[i].as_slice(), e.data[i].as_slice())
            } else {
                (e.data[2 * i].as_slice(), e.data[2 * i + 1].as_slice())
            }
        })
    }

    pub fn field_count(e: &NodeEntry) -> usize {
        if e.same {
            e.data.len()
        } else {
            e.data.len() / 2
        }
    }

    /// A node read back from its parts (RDB load); `body` recomputed.
    pub fn from_parts(master: StreamId, fields: Vec<Vec<u8>>, entries: Vec<NodeEntry>) -> Node {
        let live = entries.iter().filter(|e| !e.deleted).count();
        let mut n = Node {
            master,
            fields,
            entries: Vec::new(),
            live,
            body: 0,
        };
        n.body = pack::master_len(&n.fields);
        for e in &entries {
            n.body += pack::entry_len(master, e);
        }
        n.entries = entries;
        n
    }
}

/// A stream value.
#[derive(Clone, Debug, Default)]
pub struct Stream {
    pub nodes: BTreeMap<StreamId, Node>,
    pub length: u64,
    pub last_id: StreamId,
    pub first_id: StreamId,
    pub max_deleted: StreamId,
    pub entries_added: u64,
    /// Consumer groups by name (`group`).
    pub groups: BTreeMap<Vec<u8>, Group>,
}

/// Why an XADD could not append.
#[derive(Debug, PartialEq, Eq)]
pub enum AddError {
    /// The ID is not above the last one (or the sequence would overflow).
    NotGreater,
    /// The fields and values exceed what a listpack holds.
    TooBig,
}

/// Node limits (`stream-node-max-bytes`, `stream-node-max-entries`).
#[derive(Clone, Copy, Debug)]
pub struct NodeLimits {
    pub max_bytes: usize,
    pub max_entries: usize,
}

impl Stream {
    pub fn new() -> Stream {
        Stream::default()
    }

    pub fn len(&self) -> u64 {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The ID an XADD with `use_id` (None: `*`; `seq_given` false:
    /// `ms-*`) gets, or why it cannot be added (streamAppendItem's checks).
    pub fn next_id(
        &self,
        use_id: Option<StreamId>,
        seq_given: bool,
        now_ms: u64,
    ) -> Result<StreamId, AddError> {
        let id = match use_id {
            Some(id) if seq_given => id,
            Some(id) if self.last_id.ms == id.ms => {
                if self.last_id.seq == u64::MAX {
                    return Err(AddError::NotGreater);
                }
                StreamId {
                    ms: id.ms,
                    seq: self.last_id.seq + 1,
                }
            }
            Some(id) => id,
            None if now_ms > self.last_id.ms => StreamId { ms: now_ms, seq: 0 },
            None => self.last_id.incr().unwrap_or_default(),
        };
        if id <= self.last_id {
            return Err(AddError::NotGreater);
        }
        Ok(id)
    }

    /// Appends an entry with `id` (from [`Stream::next_id`]); `fv` is
    /// field, value, field, value ...
    pub fn append(&mut self, id: StreamId, fv: &[&[u8]], lim: NodeLimits) -> Result<(), AddError> {
        let total: usize = fv.iter().map(|x| x.len()).sum();
        if total > LISTPACK_MAX_SIZE {
            return Err(AddError::TooBig);
        }
        let numfields = fv.len() / 2;
        let max_bytes = if lim.max_bytes == 0 || lim.max_bytes > LISTPACK_MAX_SIZE {
            LISTPACK_MAX_SIZE
        } else {
            lim.max_bytes
        };
        let need_new = match self.nodes.values().next_back() {
            None => true,
            Some(n) => {
                n.bytes() + total >= max_bytes
                    || (lim.max_entries != 0 && n.entries.len() >= lim.max_entries)
            }
        };
        if need_new {
            let fields: Vec<Vec<u8>> = fv.iter().step_by(2).map(|f| f.to_vec()).collect();
            let body = pack::master_len(&fields);
            self.nodes.insert(
                id,
                Node {
                    master: id,
                    fields,
                    entries: Vec::new(),
                    live: 0,
                    body,
                },
            );
        }
        let node = self.nodes.values_mut().next_back().expect("a tail node");
        let same = node.fields.len() == numfields
            && node
                .fields
                .iter()
                .zip(fv.iter().step_by(2))
                .all(|(a, b)| a == b);
        let data = if same {
            fv.iter().skip(1).step_by(2).map(|v| v.to_vec()).collect()
        } else {
            fv.iter().map(|v| v.to_vec()).collect()
        };
        let e = NodeEntry {
            id,
            deleted: false,
            same,
            data,
        };
        node.body += pack::entry_len(node.master, &e);
        node.entries.push(e);
        node.live += 1;
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
        if self.length == 1 {
            self.first_id = id;
        }
        Ok(())
    }

    /// The node that may hold `id` (greatest master at or below it).
    fn node_key_for(&self, id: StreamId) -> Option<StreamId> {
        self.nodes.range(..=id).next_back().map(|(k, _)| *k)
    }

    /// Flags the live entry `id` deleted (streamDeleteItem); true if found.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some(key) = self.node_key_for(id) else {
            return false;
        };
        let node = self.nodes.get_mut(&key).expect("found");
        let Ok(i) = node.entries.binary_search_by(|e| e.id.cmp(&id)) else {
            return false;
        };
        if node.entries[i].deleted {
            return false;
        }
        if node.live == 1 {
            self.nodes.remove(&key);
        } else {
            node.entries[i].deleted = true;
            node.live -= 1;
        }
        self.length -= 1;
        true
    }

    /// Whether a live entry `id` exists.
    pub fn contains(&self, id: StreamId) -> bool {
        let mut found = false;
        self.range(id, id, false, &mut |_, _| {
            found = true;
            false
        });
        found
    }

    /// Calls `f` with each live entry of `[start, end]`, ascending (or
    /// descending, `rev`), until it returns false.
    pub fn range<'a>(
        &'a self,
        start: StreamId,
        end: StreamId,
        rev: bool,
        f: &mut dyn FnMut(&'a Node, &'a NodeEntry) -> bool,
    ) {
        if start > end {
            return;
        }
        let from = self.node_key_for(start).unwrap_or(start);
        let nodes = self.nodes.range(from..=end);
        let mut visit = |n: &'a Node| -> bool {
            let lo = n.entries.partition_point(|e| e.id < start);
            let hi = n.entries.partition_point(|e| e.id <= end);
            let slice = &n.entries[lo..hi];
            if rev {
                for e in slice.iter().rev().filter(|e| !e.deleted) {
                    if !f(n, e) {
                        return false;
                    }
                }
            } else {
                for e in slice.iter().filter(|e| !e.deleted) {
                    if !f(n, e) {
                        return false;
                    }
                }
            }
            true
        };
        if rev {
            for (_, n) in nodes.rev() {
                if !visit(n) {
                    return;
                }
            }
        } else {
            for (_, n) in nodes {
                if !visit(n) {
                    return;
                }
            }
        }
    }

    /// The first (or last) live ID, or None when empty (streamGetEdgeID).
    pub fn edge_id(&self, first: bool) -> Option<StreamId> {
        let mut out = None;
        self.range(StreamId::MIN, StreamId::MAX, !first, &mut |_, e| {
            out = Some(e.id);
            false
        });
        out
    }

    /// Sets `first_id` after deletions (0-0 when empty).
    pub fn refresh_first_id(&mut self) {
        self.first_id = self.edge_id(true).unwrap_or_default();
    }

    /// Whether `[start, end]` may hold deleted entries
    /// (streamRangeHasTombstones).
    pub fn range_has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.length == 0 || self.max_deleted == StreamId::MIN || self.first_id > self.max_deleted
        {
            return false;
        }
        start <= self.max_deleted && self.max_deleted <= end
    }

    /// The first ID of the stream counting deleted entries, or MAX when
    /// empty (streamGetEdgeID with tombstones).
    pub fn first_any_id(&self) -> StreamId {
        self.nodes
            .values()
            .next()
            .and_then(|n| n.entries.first())
            .map_or(StreamId::MAX, |e| e.id)
    }

    /// Approximate heap bytes.
    pub fn heap_size(&self) -> usize {
        64 + self.nodes.values().map(|n| n.bytes() + 64).sum::<usize>()
    }

    /// Nodes of the radix tree holding the node keys, counted as a
    /// compressed radix tree of the 16-byte keys (XINFO
    /// `radix-tree-nodes`).
    pub fn rax_nodes(&self) -> usize {
        let keys: Vec<[u8; 16]> = self.nodes.keys().map(|k| k.to_be_bytes()).collect();
        if keys.is_empty() {
            return 1;
        }
        rax_count(&keys, 0)
    }
}

/// Nodes of a compressed radix tree holding `keys` (sorted, distinct,
/// 16 bytes) from byte `d` on.
fn rax_count(keys: &[[u8; 16]], d: usize) -> usize {
    if keys.len() == 1 {
        return if d < 16 { 2 } else { 1 };
    }
    let (first, last) = (&keys[0], &keys[keys.len() - 1]);
    let mut p = d;
    while first[p] == last[p] {
        p += 1;
    }
    let mut n = usize::from(p > d) + 1;
    let mut i = 0;
    while i < keys.len() {
        let b = keys[i][p];
        let j = i + keys[i..].partition_point(|k| k[p] == b);
        n += rax_count(&keys[i..j], p + 1);
        i = j;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIM: NodeLimits = NodeLimits {
        max_bytes: 4096,
        max_entries: 3,
    };

    fn filled(n: u64) -> Stream {
        let mut s = Stream::new();
        for i in 1..=n {
            let id = s.next_id(Some(StreamId::new(i, 0)), true, 0).unwrap();
            s.append(id, &[b"f", b"v"], LIM).unwrap();
        }
        s
    }

    #[test]
    fn nodes_split_and_round_trip_through_listpacks() {
        let mut s = filled(7);
        assert_eq!(s.nodes.len(), 3);
        assert!(s.delete(StreamId::new(2, 0)));
        assert!(!s.delete(StreamId::new(2, 0)));
        for (k, n) in &s.nodes {
            let lp = pack::to_listpack(n);
            assert_eq!(lp.bytes_len(), n.bytes());
            let back = pack::from_listpack(*k, &lp).unwrap();
            assert_eq!(pack::to_listpack(&back).as_bytes(), lp.as_bytes());
        }
        // The last live entry of a node takes the node with it.
        assert!(s.delete(StreamId::new(7, 0)));
        assert_eq!(s.nodes.len(), 2);
        assert_eq!(s.len(), 5);
    }

    #[test]
    fn approximate_trims_remove_whole_nodes_only() {
        let mut s = filled(7);
        let t = Trim {
            by: TrimBy::MaxLen(2),
            approx: true,
            limit: 0,
        };
        assert_eq!(s.trim(&t), 3);
        assert_eq!(s.len(), 4);
        assert_eq!(s.first_id, StreamId::new(4, 0));
        let exact = Trim { approx: false, ..t };
        assert_eq!(s.trim(&exact), 2);
        assert_eq!(s.first_id, StreamId::new(6, 0));
    }

    #[test]
    fn ids_at_the_u64_limits() {
        let mut s = Stream::new();
        let top = StreamId::new(u64::MAX, u64::MAX - 1);
        s.append(top, &[b"a", b"b"], LIM).unwrap();
        assert_eq!(
            s.next_id(Some(StreamId::new(u64::MAX, 0)), false, 0),
            Ok(StreamId::MAX)
        );
        assert_eq!(s.next_id(None, true, 5), Ok(StreamId::MAX));
        s.last_id = StreamId::MAX;
        assert_eq!(s.next_id(None, true, 5), Err(AddError::NotGreater));
        assert_eq!(StreamId::MAX.incr(), None);
        assert_eq!(StreamId::MIN.decr(), None);
    }

    #[test]
    fn rax_node_counts() {
        assert_eq!(Stream::new().rax_nodes(), 1);
        assert_eq!(filled(1).rax_nodes(), 2);
    }
}
