//! The List value type: a quicklist as Redis 7.0 builds it, a deque of
//! nodes each holding a listpack (Redis's exact bytes) of at most
//! `list-max-listpack-size` entries (positive) or bytes (-1..-5 = 4, 8, 16,
//! 32, 64 KiB). Pushes and pops at either end touch one node; index
//! lookups skip whole nodes from the nearer end.
//!
//! Redis 7.0 reports every list as encoding "quicklist" (7.2 added the
//! single-listpack "listpack" encoding for small lists).

use super::listpack::{Listpack, LpValue};
use super::EncodingLimits;
use std::collections::VecDeque;

/// Which end of a list (LPUSH/RPUSH, LPOP/RPOP, LMOVE's LEFT/RIGHT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

impl End {
    /// `LEFT` / `RIGHT`, case-insensitively (LMOVE, LMPOP).
    pub fn parse(a: &[u8]) -> Option<End> {
        if a.eq_ignore_ascii_case(b"left") {
            Some(End::Left)
        } else if a.eq_ignore_ascii_case(b"right") {
            Some(End::Right)
        } else {
            None
        }
    }
}

/// Redis's `SIZE_SAFETY_LIMIT`: a count-limited node still stops at 8 KiB.
const SIZE_SAFETY_LIMIT: usize = 8192;
/// Redis's `SIZE_ESTIMATE_OVERHEAD`: encoding bytes guessed per new entry.
const SIZE_ESTIMATE_OVERHEAD: usize = 8;
/// Byte limits for fill -1..-5.
const OPTIMIZATION_LEVEL: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// Redis's `FILL_MAX`.
const FILL_MAX: i64 = (1 << 15) - 1;

/// A list value.
#[derive(Clone, Debug, Default)]
pub struct List {
    nodes: VecDeque<Listpack>,
    len: usize,
}

/// Whether a node of `bytes` bytes and `count` entries may take one more
/// entry of `sz` bytes (Redis's `_quicklistNodeAllowInsert`).
fn node_allows(bytes: usize, count: usize, sz: usize, fill: i64) -> bool {
    let fill = fill.clamp(-5, FILL_MAX);
    let new_sz = bytes + sz + SIZE_ESTIMATE_OVERHEAD;
    if fill < 0 {
        return new_sz <= OPTIMIZATION_LEVEL[(-fill - 1) as usize];
    }
    new_sz <= SIZE_SAFETY_LIMIT && (count as i64) < fill
}

/// Largest byte size a node grows to under `fill`.
fn node_byte_limit(fill: i64) -> usize {
    let fill = fill.clamp(-5, FILL_MAX);
    if fill < 0 {
        OPTIMIZATION_LEVEL[(-fill - 1) as usize]
    } else {
        SIZE_SAFETY_LIMIT
    }
}

/// Grows a node's buffer ahead of an entry of `sz` bytes: doubling, but
/// never past the node's byte limit, so a full node wastes no more than
/// the allocator's rounding (Vec's own doubling from 7 bytes would jump
/// from 7 KiB to 14 KiB for an 8 KiB node).
fn reserve_for(lp: &mut Listpack, sz: usize, fill: i64) {
    // Entry encoding plus backlen take at most 10 bytes beside the data.
    let needed = lp.bytes_len() + sz + 10;
    let cap = lp.capacity();
    if needed <= cap {
        return;
    }
    let target = (cap * 2).min(node_byte_limit(fill)).max(needed);
    lp.reserve_exact(target - lp.bytes_len());
}

/// Whether a node is over its limit after an insert (then it is split).
fn node_too_big(lp: &Listpack, fill: i64) -> bool {
    let fill = fill.clamp(-5, FILL_MAX);
    if lp.len() <= 1 {
        return false;
    }
    if fill < 0 {
        lp.bytes_len() > OPTIMIZATION_LEVEL[(-fill - 1) as usize]
    } else {
        lp.bytes_len() > SIZE_SAFETY_LIMIT || lp.len() as i64 > fill
    }
}

impl List {
    pub fn new() -> List {
        List::default()
    }

    /// Redis's OBJECT ENCODING name for the current representation.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Heap bytes owned (INFO memory, MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Listpack>()
            + self.nodes.iter().map(|n| n.heap_size()).sum::<usize>()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of quicklist nodes (tests, DEBUG-like introspection).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Adds `v` at `end`, opening a new node when the end node is full.
    pub fn push(&mut self, end: End, v: &[u8], limits: &EncodingLimits) {
        let fill = limits.list_max_listpack_size;
        let node = match end {
            End::Left => self.nodes.front_mut(),
            End::Right => self.nodes.back_mut(),
        };
        let node = match node {
            Some(n) if node_allows(n.bytes_len(), n.len(), v.len(), fill) => n,
            full => {
                // A node that is done growing gives back its spare
                // capacity; its successor will likely fill up the same
                // way, so it gets that size at once instead of growing
                // through reallocations (which fragment the heap).
                let mut fresh = Listpack::new();
                if let Some(n) = full {
                    n.shrink_to_fit();
                    let want = n.bytes_len().min(node_byte_limit(fill));
                    fresh.reserve_exact(want.saturating_sub(fresh.bytes_len()));
                }
                match end {
                    End::Left => {
                        self.nodes.push_front(fresh);
                        self.nodes.front_mut().unwrap()
                    }
                    End::Right => {
                        self.nodes.push_back(fresh);
                        self.nodes.back_mut().unwrap()
                    }
                }
            }
        };
        reserve_for(node, v.len(), fill);
        match end {
            End::Left => node.push_front(v),
            End::Right => node.push_back(v),
        }
        self.len += 1;
    }

    /// Removes and returns the element at `end`.
    pub fn pop(&mut self, end: End) -> Option<Vec<u8>> {
        let ni = match end {
            End::Left => 0,
            End::Right => self.nodes.len().checked_sub(1)?,
        };
        let node = self.nodes.get_mut(ni)?;
        let off = match end {
            End::Left => node.first()?,
            End::Right => node.last()?,
        };
        let v = node.get(off).to_vec();
        node.delete(off);
        self.after_delete(ni, 1);
        Some(v)
    }

    /// The element at `end` without removing it.
    pub fn peek(&self, end: End) -> Option<LpValue<'_>> {
        match end {
            End::Left => {
                let n = self.nodes.front()?;
                Some(n.get(n.first()?))
            }
            End::Right => {
                let n = self.nodes.back()?;
                Some(n.get(n.last()?))
            }
        }
    }

    /// Accounts `removed` entries gone from node `ni`, dropping it if empty.
    fn after_delete(&mut self, ni: usize, removed: usize) {
        self.len -= removed;
        if self.nodes[ni].is_empty() {
            self.nodes.remove(ni);
        }
    }

    /// Resolves a Redis index (negative counts from the tail) to a
    /// position in 0..len.
    pub fn resolve(&self, index: i64) -> Option<usize> {
        let len = self.len as i64;
        let i = if index < 0 { len + index } else { index };
        (0..len).contains(&i).then_some(i as usize)
    }

    /// Node holding position `pos` and the index within it, walking from
    /// the nearer end.
    fn locate(&self, pos: usize) -> (usize, usize) {
        debug_assert!(pos < self.len);
        if pos < self.len / 2 {
            let mut rest = pos;
            for (i, n) in self.nodes.iter().enumerate() {
                let c = n.len();
                if rest < c {
                    return (i, rest);
                }
                rest -= c;
            }
        } else {
            let mut rest = self.len - 1 - pos;
            for (i, n) in self.nodes.iter().enumerate().rev() {
                let c = n.len();
                if rest < c {
                    return (i, c - 1 - rest);
                }
                rest -= c;
            }
        }
        unreachable!("list length out of sync with its nodes")
    }

    /// Node index and byte offset of position `pos`.
    fn cursor(&self, pos: usize) -> Cursor {
        let (node, idx) = self.locate(pos);
        let off = self.nodes[node].seek(idx as i64).expect("entry in node");
        Cursor { node, off }
    }

    /// The element at Redis index `index` (LINDEX).
    pub fn get(&self, index: i64) -> Option<LpValue<'_>> {
        let pos = self.resolve(index)?;
        let c = self.cursor(pos);
        Some(self.nodes[c.node].get(c.off))
    }

    /// Replaces the element at Redis index `index` (LSET); false when out
    /// of range.
    pub fn set(&mut self, index: i64, v: &[u8], limits: &EncodingLimits) -> bool {
        let Some(pos) = self.resolve(index) else {
            return false;
        };
        let c = self.cursor(pos);
        self.nodes[c.node].replace(c.off, v);
        self.split_if_needed(c.node, limits);
        true
    }

    /// Splits node `ni` in halves while it exceeds the fill limit (after
    /// LSET/LINSERT grew it).
    fn split_if_needed(&mut self, ni: usize, limits: &EncodingLimits) {
        if !node_too_big(&self.nodes[ni], limits.list_max_listpack_size) {
            return;
        }
        let node = &mut self.nodes[ni];
        let keep = node.len() / 2;
        let mut right = Listpack::new();
        let mut off = node.seek(keep as i64);
        while let Some(o) = off {
            push_value(&mut right, node.get(o), false);
            off = node.next(o);
        }
        let start = node.seek(keep as i64).expect("split point");
        node.delete_range(start, usize::MAX);
        node.shrink_to_fit();
        self.nodes.insert(ni + 1, right);
        self.split_if_needed(ni + 1, limits);
        self.split_if_needed(ni, limits);
    }

    /// Calls `f` for each element of positions `start..=end` (already
    /// clamped to the list), front to back (LRANGE).
    pub fn for_range(&self, start: usize, end: usize, mut f: impl FnMut(LpValue<'_>)) {
        if start > end || end >= self.len {
            return;
        }
        let mut left = end - start + 1;
        let c = self.cursor(start);
        let mut node = c.node;
        let mut off = Some(c.off);
        while left > 0 {
            let lp = &self.nodes[node];
            while let Some(o) = off {
                f(lp.get(o));
                left -= 1;
                if left == 0 {
                    return;
                }
                off = lp.next(o);
            }
            node += 1;
            off = self.nodes[node].first();
        }
    }

    /// All elements front to back.
    pub fn iter(&self) -> impl Iterator<Item = LpValue<'_>> {
        self.nodes.iter().flat_map(|n| n.iter())
    }

    /// All elements back to front.
    pub fn iter_rev(&self) -> impl Iterator<Item = LpValue<'_>> {
        self.nodes.iter().rev().flat_map(|n| {
            let mut off = n.last();
            std::iter::from_fn(move || {
                let o = off?;
                off = n.prev(o);
                Some(n.get(o))
            })
        })
    }

    /// Inserts `v` before or after the first element equal to `pivot`
    /// (LINSERT). False when the pivot is absent.
    pub fn insert(&mut self, pivot: &[u8], after: bool, v: &[u8], limits: &EncodingLimits) -> bool {
        let mut found = None;
        for (ni, n) in self.nodes.iter().enumerate() {
            if let Some(off) = n.find(n.first(), pivot, 0) {
                found = Some((ni, off));
                break;
            }
        }
        let Some((ni, off)) = found else {
            return false;
        };
        let node = &mut self.nodes[ni];
        let at = if after {
            node.next(off).unwrap_or(node.end_offset())
        } else {
            off
        };
        node.insert_at(at, v);
        self.len += 1;
        self.split_if_needed(ni, limits);
        true
    }

    /// Removes up to `count` elements equal to `v`: from the head when
    /// `count > 0`, from the tail when `< 0`, all when 0 (LREM). Returns
    /// how many went.
    pub fn remove(&mut self, v: &[u8], count: i64) -> usize {
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs() as usize
        };
        let mut removed = 0;
        if count >= 0 {
            let mut ni = 0;
            while ni < self.nodes.len() && removed < limit {
                let node = &mut self.nodes[ni];
                let mut here = 0;
                let mut off = node.find(node.first(), v, 0);
                while let Some(o) = off {
                    let next = node.delete(o);
                    here += 1;
                    if removed + here == limit {
                        break;
                    }
                    off = node.find(next, v, 0);
                }
                removed += here;
                let empty = node.is_empty();
                self.len -= here;
                if empty {
                    self.nodes.remove(ni);
                } else {
                    ni += 1;
                }
            }
        } else {
            let mut ni = self.nodes.len();
            while ni > 0 && removed < limit {
                ni -= 1;
                let node = &mut self.nodes[ni];
                let mut here = 0;
                let mut off = node.last();
                while let Some(o) = off {
                    let prev = node.prev(o);
                    if node.get(o).eq_bytes(v) {
                        node.delete(o);
                        here += 1;
                        if removed + here == limit {
                            break;
                        }
                    }
                    off = prev;
                }
                removed += here;
                self.len -= here;
                if node.is_empty() {
                    self.nodes.remove(ni);
                }
            }
        }
        removed
    }

    /// Removes `count` elements starting at position `start` (LTRIM).
    pub fn delete_range(&mut self, start: usize, count: usize) {
        let count = count.min(self.len.saturating_sub(start));
        if count == 0 {
            return;
        }
        let (mut ni, mut idx) = self.locate(start);
        let mut left = count;
        while left > 0 {
            let node = &mut self.nodes[ni];
            let n = node.len();
            let take = (n - idx).min(left);
            if idx == 0 && take == n {
                self.nodes.remove(ni);
            } else {
                let off = node.seek(idx as i64).expect("entry in node");
                node.delete_range(off, take);
                ni += 1;
            }
            left -= take;
            self.len -= take;
            idx = 0;
        }
    }

    /// Keeps only positions `start..=end` (LTRIM, already clamped);
    /// `start > end` empties the list.
    pub fn trim(&mut self, start: usize, end: usize) {
        if start > end || start >= self.len {
            self.nodes.clear();
            self.len = 0;
            return;
        }
        let end = end.min(self.len - 1);
        self.delete_range(end + 1, self.len - end - 1);
        self.delete_range(0, start);
    }
}

/// A position: node index and byte offset in its listpack.
struct Cursor {
    node: usize,
    off: usize,
}

/// Appends (or prepends) a listpack value to another listpack.
fn push_value(lp: &mut Listpack, v: LpValue<'_>, front: bool) {
    let mut tmp;
    let bytes = match v {
        LpValue::Str(s) => s,
        LpValue::Int(n) => {
            tmp = Vec::with_capacity(20);
            crate::resp::push_i64(&mut tmp, n);
            &tmp[..]
        }
    };
    if front {
        lp.push_front(bytes);
    } else {
        lp.push_back(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(fill: i64) -> EncodingLimits {
        EncodingLimits {
            list_max_listpack_size: fill,
            ..Default::default()
        }
    }

    fn items(l: &List) -> Vec<String> {
        l.iter()
            .map(|v| String::from_utf8(v.to_vec()).unwrap())
            .collect()
    }

    fn build(n: usize, fill: i64) -> List {
        let mut l = List::new();
        for i in 0..n {
            l.push(End::Right, i.to_string().as_bytes(), &limits(fill));
        }
        l
    }

    #[test]
    fn push_pop_both_ends_across_nodes() {
        let lim = limits(4);
        let mut l = List::new();
        for i in 0..10 {
            l.push(End::Right, format!("r{i}").as_bytes(), &lim);
            l.push(End::Left, format!("l{i}").as_bytes(), &lim);
        }
        assert_eq!(l.len(), 20);
        assert!(l.node_count() >= 5);
        assert_eq!(l.pop(End::Left).unwrap(), b"l9");
        assert_eq!(l.pop(End::Right).unwrap(), b"r9");
        assert_eq!(l.get(0).unwrap().to_vec(), b"l8");
        assert_eq!(l.get(-1).unwrap().to_vec(), b"r8");
        let rev: Vec<Vec<u8>> = l.iter_rev().map(|v| v.to_vec()).collect();
        let mut fwd: Vec<Vec<u8>> = l.iter().map(|v| v.to_vec()).collect();
        fwd.reverse();
        assert_eq!(rev, fwd);
        while l.pop(End::Left).is_some() {}
        assert_eq!(l.len(), 0);
        assert_eq!(l.node_count(), 0);
    }

    #[test]
    fn index_range_set_insert() {
        let lim = limits(3);
        let mut l = build(10, 3);
        for i in 0..10 {
            assert_eq!(l.get(i).unwrap(), LpValue::Int(i));
            assert_eq!(l.get(i - 10).unwrap(), LpValue::Int(i));
        }
        assert!(l.get(10).is_none() && l.get(-11).is_none());
        let mut got = Vec::new();
        l.for_range(2, 8, |v| got.push(v.to_vec()));
        assert_eq!(got.len(), 7);
        assert_eq!(got[0], b"2");
        assert!(l.set(4, b"four", &lim));
        assert!(l.insert(b"four", false, b"before", &lim));
        assert!(l.insert(b"four", true, b"after", &lim));
        assert!(!l.insert(b"nope", true, b"x", &lim));
        assert_eq!(
            items(&l),
            ["0", "1", "2", "3", "before", "four", "after", "5", "6", "7", "8", "9"]
        );
        assert!(l.nodes.iter().all(|n| n.len() <= 3));
        assert_eq!(l.len(), l.iter().count());
    }

    #[test]
    fn remove_and_trim() {
        let lim = limits(2);
        let mut l = List::new();
        for v in ["a", "b", "a", "c", "a", "a", "d"] {
            l.push(End::Right, v.as_bytes(), &lim);
        }
        assert_eq!(l.remove(b"a", -2), 2);
        assert_eq!(items(&l), ["a", "b", "a", "c", "d"]);
        assert_eq!(l.remove(b"a", 1), 1);
        assert_eq!(items(&l), ["b", "a", "c", "d"]);
        assert_eq!(l.remove(b"a", 0), 1);
        assert_eq!(l.len(), 3);
        let mut l = build(20, 4);
        l.trim(3, 15);
        assert_eq!(l.len(), 13);
        assert_eq!(l.get(0).unwrap(), LpValue::Int(3));
        assert_eq!(l.get(-1).unwrap(), LpValue::Int(15));
        assert_eq!(l.len(), l.iter().count());
        l.trim(5, 2);
        assert!(l.is_empty());
    }

    #[test]
    fn growing_an_entry_splits_its_node() {
        let lim = limits(-1);
        let mut l = List::new();
        let small = vec![b'x'; 30];
        for _ in 0..200 {
            l.push(End::Right, &small, &lim);
        }
        let before = l.node_count();
        let big = vec![b'y'; 3000];
        assert!(l.set(50, &big, &lim));
        assert!(l.insert(&big, true, &big, &lim));
        assert!(l.node_count() > before);
        assert!(l
            .nodes
            .iter()
            .all(|n| n.len() == 1 || n.bytes_len() <= 4096));
        assert_eq!(l.len(), 201);
        assert_eq!(l.len(), l.iter().count());
        assert_eq!(l.get(50).unwrap().to_vec(), big);
        assert_eq!(l.get(51).unwrap().to_vec(), big);
        assert_eq!(l.get(52).unwrap().to_vec(), small);
        assert!(l.heap_size() >= 200 * 32 + 6000);
    }

    #[test]
    fn byte_limited_nodes() {
        let l = build(5000, -1);
        assert!(l.nodes.iter().all(|n| n.bytes_len() <= 4096));
        assert!(l.node_count() > 1);
    }
}
