//! The large-zset representation (Redis's "skiplist" encoding): an
//! order-statistic B+tree keyed by (score, member), plus a hash index from
//! member to element.
//!
//! Each member lives once, in its own small allocation
//! `[score f64][length varint][bytes]` (an [`Elem`]). The hash index holds
//! just the pointer (8 bytes a slot); the tree's leaves hold
//! `(score, pointer)` pairs so comparisons rarely leave the leaf. Inner
//! nodes keep, per child, its element count (for rank in O(log n)) and its
//! greatest key (for routing). Per element that is about 32 bytes of
//! allocation + ~19 of hash slot + ~20 of leaf, against ~110 for Redis's
//! dict entry + skiplist node + sds.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::borrow::Borrow;
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};
use std::ptr::NonNull;

/// Most items in a leaf / children in an inner node.
const LEAF_MAX: usize = 64;
const INNER_MAX: usize = 48;

/// A member allocation: `[score: f64][len: LEB128][member bytes]`.
#[derive(Clone, Copy)]
pub struct Elem(NonNull<u8>);

impl Elem {
    fn layout(len: usize) -> Layout {
        Layout::from_size_align(8 + varint_len(len) + len, 8).expect("member too large")
    }

    pub fn new(member: &[u8], score: f64) -> Elem {
        let layout = Self::layout(member.len());
        // SAFETY: the layout has a non-zero size; every byte is written
        // below before it is read.
        unsafe {
            let p = alloc(layout);
            let Some(nn) = NonNull::new(p) else {
                handle_alloc_error(layout)
            };
            (p as *mut f64).write(score);
            let mut n = member.len();
            let mut q = p.add(8);
            loop {
                let b = (n & 0x7F) as u8;
                n >>= 7;
                if n == 0 {
                    q.write(b);
                    q = q.add(1);
                    break;
                }
                q.write(b | 0x80);
                q = q.add(1);
            }
            std::ptr::copy_nonoverlapping(member.as_ptr(), q, member.len());
            Elem(nn)
        }
    }

    #[inline]
    pub fn score(&self) -> f64 {
        // SAFETY: the allocation starts with an aligned f64.
        unsafe { (self.0.as_ptr() as *const f64).read() }
    }

    #[inline]
    fn set_score(&self, s: f64) {
        // SAFETY: as above; the owner has exclusive access when it calls this.
        unsafe { (self.0.as_ptr() as *mut f64).write(s) }
    }

    /// The member bytes. Valid while the element is not freed.
    #[inline]
    pub fn member<'a>(&self) -> &'a [u8] {
        // SAFETY: the length prefix and bytes were written by `new`; the
        // owning zset frees an element only after unlinking it everywhere.
        unsafe {
            let mut q = self.0.as_ptr().add(8);
            let mut n = 0usize;
            let mut shift = 0;
            loop {
                let b = *q;
                q = q.add(1);
                n |= ((b & 0x7F) as usize) << shift;
                if b & 0x80 == 0 {
                    break;
                }
                shift += 7;
            }
            std::slice::from_raw_parts(q, n)
        }
    }

    /// Bytes of the allocation.
    fn alloc_size(&self) -> usize {
        Self::layout(self.member().len()).size()
    }

    /// Frees the allocation.
    ///
    /// # Safety
    /// The element must not be used afterwards, nor freed twice.
    unsafe fn free(self) {
        let layout = Self::layout(self.member().len());
        dealloc(self.0.as_ptr(), layout);
    }
}

fn varint_len(mut n: usize) -> usize {
    let mut l = 1;
    while n >= 0x80 {
        n >>= 7;
        l += 1;
    }
    l
}

impl Hash for Elem {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Same as `[u8]`, so lookups by `&[u8]` find it.
        self.member().hash(state)
    }
}

impl PartialEq for Elem {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.member() == other.member()
    }
}

impl Eq for Elem {}

impl Borrow<[u8]> for Elem {
    #[inline]
    fn borrow(&self) -> &[u8] {
        self.member()
    }
}

/// A tree item: the element and (a copy of) its score.
#[derive(Clone, Copy)]
pub struct Item {
    pub score: f64,
    pub elem: Elem,
}

impl Item {
    /// Orders this item against the key (score, member).
    #[inline]
    fn cmp_key(&self, score: f64, member: &[u8]) -> Ordering {
        match self.score.partial_cmp(&score) {
            Some(Ordering::Equal) | None => self.elem.member().cmp(member),
            Some(o) => o,
        }
    }
}

struct Child {
    count: usize,
    max: Item,
    node: Node,
}

enum Node {
    Leaf(Vec<Item>),
    Inner(Vec<Child>),
}

impl Node {
    fn width(&self) -> usize {
        match self {
            Node::Leaf(v) => v.len(),
            Node::Inner(v) => v.len(),
        }
    }

    fn count(&self) -> usize {
        match self {
            Node::Leaf(v) => v.len(),
            Node::Inner(v) => v.iter().map(|c| c.count).sum(),
        }
    }

    fn max(&self) -> Item {
        match self {
            Node::Leaf(v) => *v.last().expect("empty leaf"),
            Node::Inner(v) => v.last().expect("empty inner node").max,
        }
    }

    fn into_child(self) -> Child {
        Child {
            count: self.count(),
            max: self.max(),
            node: self,
        }
    }
}

/// Where to split a node of `len` (one over capacity) after an insert at
/// `pos`: appends at the right edge of the tree (and prepends at the left
/// edge) leave the old node full, so ascending loads fill nodes ~100%.
fn split_point(len: usize, pos: usize, leftmost: bool, rightmost: bool) -> usize {
    if rightmost && pos == len - 1 {
        len - 1
    } else if leftmost && pos == 0 {
        1
    } else {
        len / 2
    }
}

/// How an item to remove is found.
#[derive(Clone, Copy)]
enum Loc<'a> {
    Key(f64, &'a [u8]),
    Rank(usize),
}

/// The order-statistic B+tree.
struct Tree {
    root: Node,
    len: usize,
}

impl Tree {
    fn new() -> Tree {
        Tree {
            root: Node::Leaf(Vec::new()),
            len: 0,
        }
    }

    fn insert(&mut self, item: Item) {
        if let Some(right) = insert_rec(&mut self.root, item, true, true) {
            let left = std::mem::replace(&mut self.root, Node::Leaf(Vec::new()));
            let mut children = Vec::with_capacity(INNER_MAX + 1);
            children.push(left.into_child());
            children.push(right.into_child());
            self.root = Node::Inner(children);
        }
        self.len += 1;
    }

    fn remove(&mut self, loc: Loc) -> Option<Item> {
        let mut loc = loc;
        let item = remove_rec(&mut self.root, &mut loc)?;
        self.len -= 1;
        loop {
            match &mut self.root {
                Node::Inner(ch) if ch.len() == 1 => {
                    let only = ch.pop().unwrap();
                    self.root = only.node;
                }
                Node::Inner(ch) if ch.is_empty() => self.root = Node::Leaf(Vec::new()),
                _ => break,
            }
        }
        Some(item)
    }

    /// 0-based rank of the item (score, member), if present.
    fn rank(&self, score: f64, member: &[u8]) -> Option<usize> {
        let mut node = &self.root;
        let mut base = 0;
        loop {
            match node {
                Node::Leaf(items) => {
                    let p = items.partition_point(|x| x.cmp_key(score, member) == Ordering::Less);
                    return (p < items.len() && items[p].cmp_key(score, member) == Ordering::Equal)
                        .then_some(base + p);
                }
                Node::Inner(ch) => {
                    let i = ch.partition_point(|c| c.max.cmp_key(score, member) == Ordering::Less);
                    if i == ch.len() {
                        return None;
                    }
                    base += ch[..i].iter().map(|c| c.count).sum::<usize>();
                    node = &ch[i].node;
                }
            }
        }
    }

    /// The item at 0-based rank `r` (< len).
    fn get(&self, mut r: usize) -> Item {
        let mut node = &self.root;
        loop {
            match node {
                Node::Leaf(items) => return items[r],
                Node::Inner(ch) => {
                    let mut i = 0;
                    while r >= ch[i].count {
                        r -= ch[i].count;
                        i += 1;
                    }
                    node = &ch[i].node;
                }
            }
        }
    }

    /// Number of leading items for which `pred` holds (`pred` must hold
    /// for a prefix of the order and fail for the rest).
    fn count_while(&self, pred: impl Fn(&Item) -> bool) -> usize {
        let mut node = &self.root;
        let mut base = 0;
        loop {
            match node {
                Node::Leaf(items) => return base + items.partition_point(&pred),
                Node::Inner(ch) => {
                    let i = ch.partition_point(|c| pred(&c.max));
                    base += ch[..i].iter().map(|c| c.count).sum::<usize>();
                    if i == ch.len() {
                        return base;
                    }
                    node = &ch[i].node;
                }
            }
        }
    }

    /// Iterator from rank `r` (forward) or down from rank `r` (reverse).
    fn iter_at(&self, r: usize, rev: bool) -> TreeIter<'_> {
        let mut it = TreeIter {
            stack: Vec::new(),
            leaf: &[],
            pos: 0,
            rev,
            done: r >= self.len,
        };
        if it.done {
            return it;
        }
        let mut node = &self.root;
        let mut r = r;
        loop {
            match node {
                Node::Leaf(items) => {
                    it.leaf = items;
                    it.pos = r;
                    return it;
                }
                Node::Inner(ch) => {
                    let mut i = 0;
                    while r >= ch[i].count {
                        r -= ch[i].count;
                        i += 1;
                    }
                    it.stack.push((ch.as_slice(), i));
                    node = &ch[i].node;
                }
            }
        }
    }

    /// Calls `f` on every item in order.
    fn for_each(&self, mut f: impl FnMut(&Item)) {
        fn walk(node: &Node, f: &mut impl FnMut(&Item)) {
            match node {
                Node::Leaf(items) => items.iter().for_each(f),
                Node::Inner(ch) => ch.iter().for_each(|c| walk(&c.node, f)),
            }
        }
        walk(&self.root, &mut f)
    }

    #[cfg(test)]
    fn node_bytes(&self) -> usize {
        fn walk(node: &Node) -> usize {
            match node {
                Node::Leaf(items) => items.capacity() * std::mem::size_of::<Item>(),
                Node::Inner(ch) => {
                    ch.capacity() * std::mem::size_of::<Child>()
                        + ch.iter().map(|c| walk(&c.node)).sum::<usize>()
                }
            }
        }
        walk(&self.root)
    }
}

fn insert_rec(node: &mut Node, item: Item, leftmost: bool, rightmost: bool) -> Option<Node> {
    let member = item.elem.member();
    match node {
        Node::Leaf(items) => {
            let pos = items.partition_point(|x| x.cmp_key(item.score, member) == Ordering::Less);
            if items.capacity() == 0 {
                items.reserve_exact(LEAF_MAX + 1);
            }
            items.insert(pos, item);
            if items.len() <= LEAF_MAX {
                return None;
            }
            let at = split_point(items.len(), pos, leftmost, rightmost);
            let mut right = Vec::with_capacity(LEAF_MAX + 1);
            right.extend_from_slice(&items[at..]);
            items.truncate(at);
            Some(Node::Leaf(right))
        }
        Node::Inner(ch) => {
            let n = ch.len();
            let i = ch
                .partition_point(|c| c.max.cmp_key(item.score, member) == Ordering::Less)
                .min(n - 1);
            let split = insert_rec(
                &mut ch[i].node,
                item,
                leftmost && i == 0,
                rightmost && i == n - 1,
            );
            let c = &mut ch[i];
            c.count += 1;
            if c.max.cmp_key(item.score, member) == Ordering::Less {
                c.max = item;
            }
            let right = split?;
            c.count = c.node.count();
            c.max = c.node.max();
            ch.insert(i + 1, right.into_child());
            if ch.len() <= INNER_MAX {
                return None;
            }
            let at = split_point(ch.len(), i + 1, leftmost, rightmost);
            let mut right = Vec::with_capacity(INNER_MAX + 1);
            right.extend(ch.drain(at..));
            Some(Node::Inner(right))
        }
    }
}

fn remove_rec(node: &mut Node, loc: &mut Loc) -> Option<Item> {
    match node {
        Node::Leaf(items) => {
            let idx = match *loc {
                Loc::Key(score, member) => {
                    let p = items.partition_point(|x| x.cmp_key(score, member) == Ordering::Less);
                    if p == items.len() || items[p].cmp_key(score, member) != Ordering::Equal {
                        return None;
                    }
                    p
                }
                Loc::Rank(r) => r,
            };
            Some(items.remove(idx))
        }
        Node::Inner(ch) => {
            let i = match loc {
                Loc::Key(score, member) => {
                    let i = ch.partition_point(|c| c.max.cmp_key(*score, member) == Ordering::Less);
                    if i == ch.len() {
                        return None;
                    }
                    i
                }
                Loc::Rank(r) => {
                    let mut i = 0;
                    while *r >= ch[i].count {
                        *r -= ch[i].count;
                        i += 1;
                    }
                    i
                }
            };
            let removed = remove_rec(&mut ch[i].node, loc)?;
            ch[i].count -= 1;
            if ch[i].count == 0 {
                ch.remove(i);
            } else {
                ch[i].max = ch[i].node.max();
                let min = match ch[i].node {
                    Node::Leaf(_) => LEAF_MAX / 4,
                    Node::Inner(_) => INNER_MAX / 4,
                };
                if ch[i].node.width() < min {
                    rebalance(ch, i);
                }
            }
            Some(removed)
        }
    }
}

/// Merges child `i` with a neighbour, or evens them out when the two
/// would not fit in one node.
fn rebalance(ch: &mut Vec<Child>, i: usize) {
    let j = if i + 1 < ch.len() {
        i + 1
    } else if i > 0 {
        i - 1
    } else {
        return;
    };
    let l = i.min(j);
    let (left, right) = ch.split_at_mut(l + 1);
    let (a, b) = (&mut left[l], &mut right[0]);
    match (&mut a.node, &mut b.node) {
        (Node::Leaf(x), Node::Leaf(y)) => {
            let total = x.len() + y.len();
            if total <= LEAF_MAX {
                x.append(y);
            } else {
                let want = total / 2;
                if x.len() < want {
                    let k = want - x.len();
                    x.extend(y.drain(..k));
                } else {
                    let k = x.len() - want;
                    let moved: Vec<Item> = x.drain(want..).collect();
                    debug_assert_eq!(moved.len(), k);
                    y.splice(0..0, moved);
                }
            }
        }
        (Node::Inner(x), Node::Inner(y)) => {
            let total = x.len() + y.len();
            if total <= INNER_MAX {
                x.append(y);
            } else {
                let want = total / 2;
                if x.len() < want {
                    let k = want - x.len();
                    x.extend(y.drain(..k));
                } else {
                    let moved: Vec<Child> = x.drain(want..).collect();
                    y.splice(0..0, moved);
                }
            }
        }
        _ => unreachable!("siblings at different depths"),
    }
    if b.node.width() == 0 {
        a.count += b.count;
        a.max = b.max;
        ch.remove(l + 1);
    } else {
        a.count = a.node.count();
        a.max = a.node.max();
        b.count = b.node.count();
        b.max = b.node.max();
    }
}

/// In-order iterator over tree items (forward or reverse).
pub struct TreeIter<'a> {
    stack: Vec<(&'a [Child], usize)>,
    leaf: &'a [Item],
    pos: usize,
    rev: bool,
    done: bool,
}

impl<'a> TreeIter<'a> {
    /// Moves to the next leaf in the iteration direction.
    fn next_leaf(&mut self) -> bool {
        loop {
            let Some((ch, i)) = self.stack.pop() else {
                return false;
            };
            let next = if self.rev {
                i.checked_sub(1)
            } else {
                (i + 1 < ch.len()).then_some(i + 1)
            };
            let Some(i) = next else { continue };
            self.stack.push((ch, i));
            let mut node = &ch[i].node;
            loop {
                match node {
                    Node::Leaf(items) => {
                        self.leaf = items;
                        self.pos = if self.rev { items.len() - 1 } else { 0 };
                        return true;
                    }
                    Node::Inner(c) => {
                        let k = if self.rev { c.len() - 1 } else { 0 };
                        self.stack.push((c.as_slice(), k));
                        node = &c[k].node;
                    }
                }
            }
        }
    }
}

impl<'a> Iterator for TreeIter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<(&'a [u8], f64)> {
        if self.done {
            return None;
        }
        let it = self.leaf[self.pos];
        if self.rev {
            if self.pos == 0 {
                self.done = !self.next_leaf();
            } else {
                self.pos -= 1;
            }
        } else if self.pos + 1 == self.leaf.len() {
            self.done = !self.next_leaf();
        } else {
            self.pos += 1;
        }
        Some((it.elem.member(), it.score))
    }
}

/// A large sorted set: the tree plus the member index.
pub struct BigZSet {
    tree: Tree,
    index: crate::store::HashSet<Elem>,
    /// Bytes of the member allocations, for `heap_size` in O(1).
    elem_bytes: usize,
}

// SAFETY: a BigZSet exclusively owns every element it points to; moving
// it to another thread moves that ownership along. There is no interior
// mutability, so shared references are safe to send as well.
unsafe impl Send for BigZSet {}
unsafe impl Sync for BigZSet {}

impl Default for BigZSet {
    fn default() -> Self {
        Self::new()
    }
}

impl BigZSet {
    pub fn new() -> BigZSet {
        BigZSet {
            tree: Tree::new(),
            index: Default::default(),
            elem_bytes: 0,
        }
    }

    pub fn with_capacity(n: usize) -> BigZSet {
        let mut z = Self::new();
        z.index.reserve(n);
        z
    }

    pub fn len(&self) -> usize {
        self.tree.len
    }

    pub fn is_empty(&self) -> bool {
        self.tree.len == 0
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.index.get(member).map(|e| e.score())
    }

    /// Adds a member that is not present.
    pub fn insert_new(&mut self, member: &[u8], score: f64) {
        let elem = Elem::new(member, score);
        self.elem_bytes += elem.alloc_size();
        self.tree.insert(Item { score, elem });
        self.index.insert(elem);
    }

    /// Changes the score of a present member.
    pub fn update(&mut self, member: &[u8], score: f64) {
        let elem = *self.index.get(member).expect("member present");
        let old = elem.score();
        let item = self
            .tree
            .remove(Loc::Key(old, elem.member()))
            .expect("item in tree");
        elem.set_score(score);
        self.tree.insert(Item {
            score,
            elem: item.elem,
        });
    }

    /// Removes a member; returns its score if it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let elem = self.index.take(member)?;
        let score = elem.score();
        self.tree
            .remove(Loc::Key(score, elem.member()))
            .expect("item in tree");
        self.elem_bytes -= elem.alloc_size();
        // SAFETY: unlinked from both the index and the tree.
        unsafe { elem.free() };
        Some(score)
    }

    /// Removes the item at rank `r`, returning it.
    pub fn remove_at(&mut self, r: usize) -> (Vec<u8>, f64) {
        self.remove_at_with(r, |m, s| (m.to_vec(), s))
    }

    /// Removes the item at rank `r`, handing it to `f` before it is freed.
    pub fn remove_at_with<R>(&mut self, r: usize, f: impl FnOnce(&[u8], f64) -> R) -> R {
        let item = self.tree.remove(Loc::Rank(r)).expect("rank in range");
        let member = item.elem.member();
        self.index.remove(member);
        let out = f(member, item.score);
        self.elem_bytes -= item.elem.alloc_size();
        // SAFETY: unlinked from both the index and the tree.
        unsafe { item.elem.free() };
        out
    }

    /// 0-based rank of a member in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let elem = self.index.get(member)?;
        self.tree.rank(elem.score(), elem.member())
    }

    /// (member, score) at rank `r` (< len).
    pub fn get(&self, r: usize) -> (&[u8], f64) {
        let it = self.tree.get(r);
        (it.elem.member(), it.score)
    }

    /// Number of leading items (in order) that satisfy `pred`, which must
    /// hold for a prefix of the order.
    pub fn count_while(&self, pred: impl Fn(&[u8], f64) -> bool) -> usize {
        self.tree.count_while(|it| pred(it.elem.member(), it.score))
    }

    /// Items from rank `r` upwards, or downwards when `rev`.
    pub fn iter_at(&self, r: usize, rev: bool) -> TreeIter<'_> {
        self.tree.iter_at(r, rev)
    }

    /// A member picked with `rnd` (uniform over ranks).
    pub fn random(&self, rnd: u64) -> (&[u8], f64) {
        self.get((rnd % self.len() as u64) as usize)
    }

    /// Heap bytes, approximately: member allocations (with the
    /// allocator's 8-byte header), hash slots, and leaves ~3/4 full.
    pub fn heap_size(&self) -> usize {
        self.elem_bytes
            + self.len() * 8
            + self.index.capacity() * (std::mem::size_of::<Elem>() + 1)
            + self.len() * std::mem::size_of::<Item>() * 4 / 3
    }
}

impl Clone for BigZSet {
    fn clone(&self) -> Self {
        let mut z = BigZSet::with_capacity(self.len());
        self.tree
            .for_each(|it| z.insert_new(it.elem.member(), it.score));
        z
    }
}

impl Drop for BigZSet {
    fn drop(&mut self) {
        self.index.clear();
        let mut elems = Vec::with_capacity(self.tree.len);
        self.tree.for_each(|it| elems.push(it.elem));
        self.tree = Tree::new();
        for e in elems {
            // SAFETY: each element is freed once; the tree and index that
            // referenced them are gone.
            unsafe { e.free() };
        }
    }
}

impl std::fmt::Debug for BigZSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.iter_at(0, false)
                    .map(|(m, s)| (String::from_utf8_lossy(m).into_owned(), s)),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A reference model: ordered (score bits, member) set.
    fn key(score: f64, m: &[u8]) -> (i64, Vec<u8>) {
        // Total order matching f64 order for non-NaN values.
        let b = score.to_bits() as i64;
        let k = if b < 0 { b ^ i64::MAX } else { b };
        (k, m.to_vec())
    }

    fn check(z: &BigZSet, model: &BTreeMap<(i64, Vec<u8>), f64>) {
        assert_eq!(z.len(), model.len());
        let got: Vec<(Vec<u8>, f64)> = z.iter_at(0, false).map(|(m, s)| (m.to_vec(), s)).collect();
        let want: Vec<(Vec<u8>, f64)> = model.iter().map(|((_, m), s)| (m.clone(), *s)).collect();
        assert_eq!(got, want);
        let rev: Vec<(Vec<u8>, f64)> = z
            .iter_at(z.len().saturating_sub(1), true)
            .map(|(m, s)| (m.to_vec(), s))
            .collect();
        let mut wrev = want.clone();
        wrev.reverse();
        if !z.is_empty() {
            assert_eq!(rev, wrev);
        }
        for (i, (m, s)) in want.iter().enumerate() {
            assert_eq!(z.rank(m), Some(i));
            assert_eq!(z.score(m), Some(*s));
            let (gm, gs) = z.get(i);
            assert_eq!((gm, gs), (m.as_slice(), *s));
        }
        check_counts(&z.tree.root);
    }

    fn check_counts(n: &Node) -> usize {
        match n {
            Node::Leaf(v) => v.len(),
            Node::Inner(ch) => {
                let mut total = 0;
                for c in ch {
                    let cnt = check_counts(&c.node);
                    assert_eq!(cnt, c.count);
                    let mx = c.node.max();
                    assert_eq!(mx.score, c.max.score);
                    assert_eq!(mx.elem.member(), c.max.elem.member());
                    total += cnt;
                }
                total
            }
        }
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn random_ops_match_model() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let mut z = BigZSet::new();
        let mut model: BTreeMap<(i64, Vec<u8>), f64> = BTreeMap::new();
        let mut scores: std::collections::HashMap<Vec<u8>, f64> = Default::default();
        for step in 0..20000 {
            let m = format!("m{}", rng.next() % 3000).into_bytes();
            let op = rng.next() % 10;
            if op < 6 {
                let s = (rng.next() % 50) as f64 - 25.0;
                match scores.get(&m).copied() {
                    Some(old) => {
                        z.update(&m, s);
                        model.remove(&key(old, &m));
                    }
                    None => z.insert_new(&m, s),
                }
                model.insert(key(s, &m), s);
                scores.insert(m, s);
            } else if op < 8 {
                let got = z.remove(&m);
                let want = scores.remove(&m);
                assert_eq!(got, want);
                if let Some(s) = want {
                    model.remove(&key(s, &m));
                }
            } else if !z.is_empty() {
                let r = (rng.next() % z.len() as u64) as usize;
                let (gm, gs) = z.remove_at(r);
                let k = model.keys().nth(r).unwrap().clone();
                assert_eq!(k.1, gm);
                model.remove(&k);
                scores.remove(&gm);
                assert_eq!(gs, *scores.get(&gm).unwrap_or(&gs));
            }
            if step % 2000 == 0 {
                check(&z, &model);
            }
        }
        check(&z, &model);
        let c = z.clone();
        check(&c, &model);
    }

    #[test]
    fn ascending_load_fills_leaves() {
        let mut z = BigZSet::new();
        for i in 0..10000 {
            z.insert_new(format!("member:{i}").as_bytes(), i as f64);
        }
        // ~100% fill: node bytes close to 16 per item.
        assert!(z.tree.node_bytes() < 10000 * 20, "{}", z.tree.node_bytes());
        assert_eq!(z.count_while(|_, s| s < 500.0), 500);
        assert_eq!(z.rank(b"member:9999"), Some(9999));
        for _ in 0..10000 {
            z.remove_at(0);
        }
        assert!(z.is_empty());
    }
}
