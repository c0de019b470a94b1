//! Stream replies: an entry is `*2 <id> *2N field value ...`.

use crate::resp::Out;
use crate::store::stream::{Node, NodeEntry, Stream, StreamId};

pub fn id(out: &mut Out, id: StreamId) {
    out.bulk(&id.to_bytes());
}

pub fn entry(out: &mut Out, node: &Node, e: &NodeEntry) {
    out.array(2);
    id(out, e.id);
    out.array(2 * Node::field_count(e));
    for (f, v) in node.pairs(e) {
        out.bulk(f);
        out.bulk(v);
    }
}

/// The live entries of `[start, end]`, at most `count` (0: all), in
/// order (or reversed): streamReplyWithRange.
pub fn range(out: &mut Out, s: &Stream, start: StreamId, end: StreamId, count: u64, rev: bool) {
    let mut found: Vec<(&Node, &NodeEntry)> = Vec::new();
    s.range(start, end, rev, &mut |n, e| {
        found.push((n, e));
        count == 0 || (found.len() as u64) < count
    });
    out.array(found.len());
    for (n, e) in found {
        entry(out, n, e);
    }
}
