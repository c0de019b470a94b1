//! A stream node as Redis's listpack bytes: sizes (for the
//! `stream-node-max-bytes` split), writing (RDB, DUMP) and reading back.

use super::{Node, NodeEntry, StreamId, FLAG_DELETED, FLAG_SAMEFIELDS};
use crate::store::listpack::{backlen_size, Listpack, LpValue};

/// Encoded size of an integer element (encoding, data, backlen).
pub fn int_len(n: i64) -> usize {
    let l = if (0..=127).contains(&n) {
        1
    } else if (-4096..=4095).contains(&n) {
        2
    } else if (-32768..=32767).contains(&n) {
        3
    } else if (-8388608..=8388607).contains(&n) {
        4
    } else if (i32::MIN as i64..=i32::MAX as i64).contains(&n) {
        5
    } else {
        9
    };
    l + 1
}

/// Encoded size of a string element as lpAppend stores it (integers in
/// canonical form become integer elements).
pub fn str_len(v: &[u8]) -> usize {
    if let Some(n) = crate::resp::parse_i64(v) {
        return int_len(n);
    }
    let l = v.len();
    let h = if l < 64 {
        1
    } else if l < 4096 {
        2
    } else {
        5
    };
    h + l + backlen_size(h + l)
}

/// The master entry after the two counts: num-fields, fields, 0.
pub fn master_len(fields: &[Vec<u8>]) -> usize {
    int_len(fields.len() as i64) + fields.iter().map(|f| str_len(f)).sum::<usize>() + int_len(0)
}

fn flags(e: &NodeEntry) -> i64 {
    (if e.deleted { FLAG_DELETED } else { 0 }) | (if e.same { FLAG_SAMEFIELDS } else { 0 })
}

fn deltas(master: StreamId, id: StreamId) -> (i64, i64) {
    (
        id.ms.wrapping_sub(master.ms) as i64,
        id.seq.wrapping_sub(master.seq) as i64,
    )
}

/// The element count an entry ends with (its lp-count).
fn lp_count(e: &NodeEntry) -> i64 {
    let n = Node::field_count(e) as i64;
    if e.same {
        n + 3
    } else {
        2 * n + 4
    }
}

/// Encoded size of one entry.
pub fn entry_len(master: StreamId, e: &NodeEntry) -> usize {
    let (ms, seq) = deltas(master, e.id);
    let mut n = int_len(flags(e)) + int_len(ms) + int_len(seq) + int_len(lp_count(e));
    if !e.same {
        n += int_len(Node::field_count(e) as i64);
    }
    n + e.data.iter().map(|v| str_len(v)).sum::<usize>()
}

/// The node's listpack, byte for byte as Redis holds it.
pub fn to_listpack(n: &Node) -> Listpack {
    let mut lp = Listpack::new();
    let mut num = Vec::with_capacity(20);
    let mut int = |lp: &mut Listpack, v: i64| {
        num.clear();
        crate::resp::push_i64(&mut num, v);
        lp.push_back(&num);
    };
    int(&mut lp, n.live as i64);
    int(&mut lp, n.deleted() as i64);
    int(&mut lp, n.fields.len() as i64);
    for f in &n.fields {
        lp.push_back(f);
    }
    int(&mut lp, 0);
    for e in &n.entries {
        let (ms, seq) = deltas(n.master, e.id);
        int(&mut lp, flags(e));
        int(&mut lp, ms);
        int(&mut lp, seq);
        if !e.same {
            int(&mut lp, Node::field_count(e) as i64);
        }
        for v in &e.data {
            lp.push_back(v);
        }
        int(&mut lp, lp_count(e));
    }
    lp
}

/// Reads a node back from its listpack (RDB, RESTORE); None when the
/// listpack is not a well-formed stream node.
pub fn from_listpack(master: StreamId, lp: &Listpack) -> Option<Node> {
    let mut it = lp.iter();
    let int = |v: Option<LpValue<'_>>| match v? {
        LpValue::Int(n) => Some(n),
        LpValue::Str(_) => None,
    };
    let live = usize::try_from(int(it.next())?).ok()?;
    let deleted = usize::try_from(int(it.next())?).ok()?;
    let nfields = usize::try_from(int(it.next())?).ok()?;
    let mut fields = Vec::new();
    for _ in 0..nfields {
        fields.push(it.next()?.to_vec());
    }
    if int(it.next())? != 0 {
        return None;
    }
    let mut entries = Vec::new();
    let mut prev: Option<StreamId> = None;
    while let Some(first) = it.next() {
        let f = int(Some(first))?;
        if !(0..=3).contains(&f) {
            return None;
        }
        let ms = master.ms.wrapping_add(int(it.next())? as u64);
        let seq = master.seq.wrapping_add(int(it.next())? as u64);
        let id = StreamId::new(ms, seq);
        if prev.is_some_and(|p| p >= id) || id < master {
            return None;
        }
        prev = Some(id);
        let same = f & FLAG_SAMEFIELDS != 0;
        let count = if same {
            nfields
        } else {
            2 * usize::try_from(int(it.next())?).ok()?
        };
        let mut data = Vec::new();
        for _ in 0..count {
            data.push(it.next()?.to_vec());
        }
        let e = NodeEntry {
            id,
            deleted: f & FLAG_DELETED != 0,
            same,
            data,
        };
        if int(it.next())? != lp_count(&e) {
            return None;
        }
        entries.push(e);
    }
    let node = Node::from_parts(master, fields, entries);
    if node.live != live || node.deleted() != deleted || node.live == 0 {
        return None;
    }
    Some(node)
}
