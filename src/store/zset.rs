//! The sorted set value, encoded as Redis 7.0 encodes it:
//!
//! - `listpack` while small (at most `zset-max-listpack-entries` members,
//!   none longer than `zset-max-listpack-value`): member, score, member,
//!   score, … in (score, member) order, byte for byte Redis's layout;
//! - `skiplist` past that (Redis's name; here an order-statistic B+tree
//!   plus a member index, see [`tree`]), for good: like Redis 7.0, a zset
//!   only goes back to listpack when a command builds a new one (the
//!   *STORE commands).
//!
//! Ranks, score ranges and lex ranges are all answered as rank spans
//! `[start, end)`, so commands work the same on both encodings.

pub mod tree;

use super::listpack::{Listpack, LpValue};
use super::EncodingLimits;
pub use tree::BigZSet;

/// A zset value.
#[derive(Clone, Debug)]
pub enum ZSet {
    Listpack(Listpack),
    Skiplist(BigZSet),
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::Listpack(Listpack::new())
    }
}

/// ZADD's input flags.
#[derive(Clone, Copy, Debug, Default)]
pub struct AddFlags {
    pub incr: bool,
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
}

/// What `ZSet::add` did (Redis's `ZADD_OUT_*`), with the resulting score
/// where there is one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AddOutcome {
    /// The (resulting) score is NaN: nothing changed.
    Nan,
    /// Skipped because of NX/XX/GT/LT.
    Nop,
    Added(f64),
    Updated(f64),
    /// Present with that very score already.
    Same(f64),
}

/// A score interval (Redis's `zrangespec`).
#[derive(Clone, Copy, Debug)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub minex: bool,
    pub maxex: bool,
}

impl ScoreRange {
    #[inline]
    pub fn gte_min(&self, v: f64) -> bool {
        if self.minex {
            v > self.min
        } else {
            v >= self.min
        }
    }

    #[inline]
    pub fn lte_max(&self, v: f64) -> bool {
        if self.maxex {
            v < self.max
        } else {
            v <= self.max
        }
    }
}

/// One end of a lex interval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LexBound {
    /// `-`
    Min,
    /// `+`
    Max,
    Value(Vec<u8>),
}

/// A lex interval (Redis's `zlexrangespec`).
#[derive(Clone, Debug)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
    pub minex: bool,
    pub maxex: bool,
}

/// Redis's `sdscmplex`: `-` sorts before everything, `+` after.
fn cmp_lex(a: &[u8], b: &LexBound) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match b {
        LexBound::Min => Greater,
        LexBound::Max => Less,
        LexBound::Value(v) => a.cmp(v.as_slice()),
    }
}

impl LexRange {
    /// Whether the interval is empty whatever the zset holds.
    pub fn always_empty(&self) -> bool {
        use std::cmp::Ordering::*;
        let cmp = match (&self.min, &self.max) {
            (LexBound::Min, LexBound::Min) | (LexBound::Max, LexBound::Max) => Equal,
            (LexBound::Min, _) | (_, LexBound::Max) => Less,
            (LexBound::Max, _) | (_, LexBound::Min) => Greater,
            (LexBound::Value(a), LexBound::Value(b)) => a.cmp(b),
        };
        cmp == Greater || (cmp == Equal && (self.minex || self.maxex))
    }

    pub fn gte_min(&self, v: &[u8]) -> bool {
        let c = cmp_lex(v, &self.min);
        if self.minex {
            c.is_gt()
        } else {
            c.is_ge()
        }
    }

    pub fn lte_max(&self, v: &[u8]) -> bool {
        let c = cmp_lex(v, &self.max);
        if self.maxex {
            c.is_lt()
        } else {
            c.is_le()
        }
    }
}

/// A member as the listpack holds it, made bytes (integers in decimal).
fn lp_bytes<'a>(v: LpValue<'a>, buf: &'a mut [u8; 24]) -> &'a [u8] {
    match v {
        LpValue::Str(s) => s,
        LpValue::Int(n) => {
            let mut tmp = Vec::with_capacity(20);
            crate::resp::push_i64(&mut tmp, n);
            buf[..tmp.len()].copy_from_slice(&tmp);
            &buf[..tmp.len()]
        }
    }
}

/// A score entry of a listpack.
fn lp_score(v: LpValue) -> f64 {
    match v {
        LpValue::Int(n) => n as f64,
        LpValue::Str(s) => std::str::from_utf8(s)
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0.0),
    }
}

/// A score as Redis 7.0 stores it in a listpack (`d2string`): integral
/// values below 2^52 as integers, the rest as `%.17g`.
pub fn score_repr(s: f64) -> Vec<u8> {
    // (-0 too: Redis 7.0 prints it through the integer path, as "0".)
    if s > -4503599627370495.0 && s < 4503599627370496.0 && s == (s as i64) as f64 {
        let mut v = Vec::with_capacity(20);
        crate::resp::push_i64(&mut v, s as i64);
        return v;
    }
    crate::resp::fmt_double(s).into_bytes()
}

/// Iterator over (member, score) in rank order, either direction.
pub enum ZIter<'a> {
    Lp {
        lp: &'a Listpack,
        off: Option<usize>,
        rev: bool,
    },
    Tree(tree::TreeIter<'a>),
}

impl<'a> Iterator for ZIter<'a> {
    type Item = (LpValue<'a>, f64);

    fn next(&mut self) -> Option<(LpValue<'a>, f64)> {
        match self {
            ZIter::Lp { lp, off, rev } => {
                let m = (*off)?;
                let s = lp.next(m).expect("zset listpack: member without score");
                let item = (lp.get(m), lp_score(lp.get(s)));
                *off = if *rev {
                    lp.prev(m).and_then(|p| lp.prev(p))
                } else {
                    lp.next(s)
                };
                Some(item)
            }
            ZIter::Tree(t) => t.next().map(|(m, s)| (LpValue::Str(m), s)),
        }
    }
}

impl ZSet {
    /// An empty zset in the encoding ZADD picks for a new key whose first
    /// member is `first_len` bytes long.
    pub fn for_new_key(first_len: usize, lim: &EncodingLimits) -> ZSet {
        if lim.zset_max_listpack_entries == 0 || lim.zset_max_listpack_value < first_len {
            ZSet::Skiplist(BigZSet::new())
        } else {
            ZSet::Listpack(Listpack::new())
        }
    }

    /// A zset holding `items` (sorted by (score, member), no duplicates),
    /// in the encoding Redis gives a freshly computed result
    /// (`zsetConvertToListpackIfNeeded`).
    pub fn from_sorted(items: Vec<(Vec<u8>, f64)>, lim: &EncodingLimits) -> ZSet {
        let maxlen = items.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
        let total: usize = items.iter().map(|(m, _)| m.len()).sum();
        if items.len() <= lim.zset_max_listpack_entries
            && maxlen <= lim.zset_max_listpack_value
            && total < (1 << 30)
        {
            let mut lp = Listpack::new();
            for (m, s) in &items {
                lp.push_back(m);
                lp.push_back(&score_repr(*s));
            }
            ZSet::Listpack(lp)
        } else {
            let mut z = BigZSet::with_capacity(items.len());
            for (m, s) in items {
                z.insert_new(&m, s);
            }
            ZSet::Skiplist(z)
        }
    }

    /// Redis's OBJECT ENCODING name for the current representation.
    pub fn encoding(&self) -> &'static str {
        match self {
            ZSet::Listpack(_) => "listpack",
            ZSet::Skiplist(_) => "skiplist",
        }
    }

    /// Heap bytes owned (INFO memory, MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match self {
            ZSet::Listpack(lp) => lp.heap_size(),
            ZSet::Skiplist(z) => z.heap_size(),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ZSet::Listpack(lp) => lp.len() / 2,
            ZSet::Skiplist(z) => z.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The listpack offsets (member, score) of `member`.
    fn lp_find(lp: &Listpack, member: &[u8]) -> Option<(usize, usize)> {
        let as_int = crate::resp::parse_i64(member);
        let mut e = lp.first();
        while let Some(m) = e {
            let s = lp.next(m)?;
            let hit = match lp.get(m) {
                LpValue::Str(x) => x == member,
                LpValue::Int(n) => as_int == Some(n),
            };
            if hit {
                return Some((m, s));
            }
            e = lp.next(s);
        }
        None
    }

    /// Inserts (member, score) at its place in a listpack (not present).
    fn lp_insert(lp: &mut Listpack, member: &[u8], score: f64) {
        let mut buf = [0u8; 24];
        let mut e = lp.first();
        let mut at = None;
        while let Some(m) = e {
            let s = lp.next(m).expect("zset listpack: member without score");
            let sc = lp_score(lp.get(s));
            if sc > score || (sc == score && lp_bytes(lp.get(m), &mut buf) > member) {
                at = Some(m);
                break;
            }
            e = lp.next(s);
        }
        let at = at.unwrap_or(lp.end_offset());
        let m = lp.insert_at(at, member);
        let after = lp.next(m).unwrap_or(lp.end_offset());
        lp.insert_at(after, &score_repr(score));
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Listpack(lp) => Self::lp_find(lp, member).map(|(_, s)| lp_score(lp.get(s))),
            ZSet::Skiplist(z) => z.score(member),
        }
    }

    /// Converts to the large encoding (ZADD past the limits; SORT).
    pub fn convert_to_skiplist(&mut self) {
        if let ZSet::Listpack(lp) = self {
            let mut z = BigZSet::with_capacity(lp.len() / 2);
            let mut buf = [0u8; 24];
            let mut e = lp.first();
            while let Some(m) = e {
                let s = lp.next(m).expect("zset listpack: member without score");
                z.insert_new(lp_bytes(lp.get(m), &mut buf), lp_score(lp.get(s)));
                e = lp.next(s);
            }
            *self = ZSet::Skiplist(z);
        }
    }

    /// Redis's `zsetAdd`: adds or updates `member` according to `flags`,
    /// converting to the large encoding when the listpack limits would be
    /// passed.
    pub fn add(
        &mut self,
        member: &[u8],
        score: f64,
        flags: AddFlags,
        lim: &EncodingLimits,
    ) -> AddOutcome {
        if score.is_nan() {
            return AddOutcome::Nan;
        }
        let cur = self.score(member);
        let Some(cur) = cur else {
            if flags.xx {
                return AddOutcome::Nop;
            }
            let convert = match self {
                ZSet::Listpack(lp) => {
                    lp.len() / 2 + 1 > lim.zset_max_listpack_entries
                        || member.len() > lim.zset_max_listpack_value
                        || lp.bytes_len() + member.len() > (1 << 30)
                }
                ZSet::Skiplist(_) => false,
            };
            if convert {
                self.convert_to_skiplist();
            }
            match self {
                ZSet::Listpack(lp) => Self::lp_insert(lp, member, score),
                ZSet::Skiplist(z) => z.insert_new(member, score),
            }
            return AddOutcome::Added(score);
        };
        if flags.nx {
            return AddOutcome::Nop;
        }
        let mut score = score;
        if flags.incr {
            score += cur;
            if score.is_nan() {
                return AddOutcome::Nan;
            }
        }
        if (flags.lt && score >= cur) || (flags.gt && score <= cur) {
            return AddOutcome::Nop;
        }
        if score == cur {
            return AddOutcome::Same(score);
        }
        match self {
            ZSet::Listpack(lp) => {
                let (m, _) = Self::lp_find(lp, member).expect("member present");
                lp.delete_range(m, 2);
                Self::lp_insert(lp, member, score);
            }
            ZSet::Skiplist(z) => z.update(member, score),
        }
        AddOutcome::Updated(score)
    }

    /// Removes `member`; true if it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            ZSet::Listpack(lp) => match Self::lp_find(lp, member) {
                Some((m, _)) => {
                    lp.delete_range(m, 2);
                    true
                }
                None => false,
            },
            ZSet::Skiplist(z) => z.remove(member).is_some(),
        }
    }

    /// 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match self {
            ZSet::Listpack(lp) => {
                let as_int = crate::resp::parse_i64(member);
                let mut e = lp.first();
                let mut r = 0;
                while let Some(m) = e {
                    let hit = match lp.get(m) {
                        LpValue::Str(x) => x == member,
                        LpValue::Int(n) => as_int == Some(n),
                    };
                    if hit {
                        return Some(r);
                    }
                    r += 1;
                    e = lp.next(m).and_then(|s| lp.next(s));
                }
                None
            }
            ZSet::Skiplist(z) => z.rank(member),
        }
    }

    /// Items from ascending rank `r`: upwards, or downwards when `rev`.
    pub fn iter_at(&self, r: usize, rev: bool) -> ZIter<'_> {
        match self {
            ZSet::Listpack(lp) => ZIter::Lp {
                lp,
                off: lp.seek(2 * r as i64),
                rev,
            },
            ZSet::Skiplist(z) => ZIter::Tree(z.iter_at(r, rev)),
        }
    }

    /// All items in ascending order.
    pub fn iter(&self) -> ZIter<'_> {
        self.iter_at(0, false)
    }

    /// The item at ascending rank `r` (< len).
    pub fn get(&self, r: usize) -> (LpValue<'_>, f64) {
        self.iter_at(r, false).next().expect("rank in range")
    }

    /// Number of leading items (ascending) that satisfy `pred`; `pred`
    /// must hold for a prefix of the order.
    fn count_while(&self, pred: impl Fn(&[u8], f64) -> bool) -> usize {
        match self {
            ZSet::Listpack(_) => {
                let mut buf = [0u8; 24];
                let mut n = 0;
                for (m, s) in self.iter() {
                    if !pred(lp_bytes(m, &mut buf), s) {
                        break;
                    }
                    n += 1;
                }
                n
            }
            ZSet::Skiplist(z) => z.count_while(pred),
        }
    }

    /// The ranks `[start, end)` whose scores are in `r`.
    pub fn score_span(&self, r: &ScoreRange) -> (usize, usize) {
        let start = self.count_while(|_, s| !r.gte_min(s));
        let end = self.count_while(|_, s| r.lte_max(s));
        (start, end.max(start))
    }

    /// The ranks `[start, end)` whose members are in `r`, found as Redis
    /// does: by scanning from the low end (or the high end, `rev`), which
    /// matters only when scores differ (lex order is then undefined).
    pub fn lex_span(&self, r: &LexRange, rev: bool) -> (usize, usize) {
        let n = self.len();
        if n == 0 || r.always_empty() {
            return (0, 0);
        }
        match self {
            ZSet::Listpack(_) => {
                let mut buf = [0u8; 24];
                let items: Vec<Vec<u8>> = self
                    .iter()
                    .map(|(m, _)| lp_bytes(m, &mut buf).to_vec())
                    .collect();
                if !r.gte_min(&items[n - 1]) || !r.lte_max(&items[0]) {
                    return (0, 0);
                }
                if !rev {
                    let Some(f) = items.iter().position(|m| r.gte_min(m)) else {
                        return (0, 0);
                    };
                    let len = items[f..].iter().take_while(|m| r.lte_max(m)).count();
                    (f, f + len)
                } else {
                    let Some(l) = items.iter().rposition(|m| r.lte_max(m)) else {
                        return (0, 0);
                    };
                    let len = items[..=l]
                        .iter()
                        .rev()
                        .take_while(|m| r.gte_min(m))
                        .count();
                    (l + 1 - len, l + 1)
                }
            }
            ZSet::Skiplist(z) => {
                let start = z.count_while(|m, _| !r.gte_min(m));
                let end = z.count_while(|m, _| r.lte_max(m));
                (start, end.max(start))
            }
        }
    }

    /// Removes and returns the lowest (or highest, `max`) item.
    pub fn pop(&mut self, max: bool) -> Option<(Vec<u8>, f64)> {
        self.pop_with(max, |m, s| (m.to_vec(), s))
    }

    /// Removes the lowest (or highest) item, handing it to `f` first.
    pub fn pop_with<R>(&mut self, max: bool, f: impl FnOnce(&[u8], f64) -> R) -> Option<R> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        match self {
            ZSet::Listpack(lp) => {
                let m = lp.seek(if max { -2 } else { 0 })?;
                let s = lp.next(m)?;
                let score = lp_score(lp.get(s));
                let mut buf = [0u8; 24];
                let r = f(lp_bytes(lp.get(m), &mut buf), score);
                lp.delete_range(m, 2);
                Some(r)
            }
            ZSet::Skiplist(z) => Some(z.remove_at_with(if max { n - 1 } else { 0 }, f)),
        }
    }

    /// Removes the items of ranks `[start, end)`; returns how many.
    pub fn remove_span(&mut self, start: usize, end: usize) -> usize {
        if start >= end {
            return 0;
        }
        match self {
            ZSet::Listpack(lp) => {
                if let Some(off) = lp.seek(2 * start as i64) {
                    lp.delete_range(off, 2 * (end - start));
                }
            }
            ZSet::Skiplist(z) => {
                for _ in start..end {
                    z.remove_at(start);
                }
            }
        }
        end - start
    }

    /// A random item (uniform), from the random number `rnd`.
    pub fn random(&self, rnd: u64) -> (LpValue<'_>, f64) {
        let n = self.len() as u64;
        self.get((rnd % n) as usize)
    }

    /// Items with scores for ZSCAN, from `cursor`, at least `count` of
    /// them: everything at once for a listpack (cursor 0 after); for the
    /// large encoding, in score order, each call ending at a score
    /// boundary. The returned cursor encodes the score to resume from, so
    /// every member present during the whole scan is returned (ties are
    /// never split between calls), however the zset changes meanwhile.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
        match self {
            ZSet::Listpack(_) => {
                let mut buf = [0u8; 24];
                for (m, s) in self.iter() {
                    f(lp_bytes(m, &mut buf), s);
                }
                0
            }
            ZSet::Skiplist(z) => {
                let start = if cursor == 0 {
                    0
                } else {
                    let Some(from) = cursor_score(cursor) else {
                        return 0;
                    };
                    z.count_while(|_, s| s < from)
                };
                let mut it = z.iter_at(start, false).peekable();
                let mut taken = 0;
                let mut last = None;
                while let Some(&(m, s)) = it.peek() {
                    if taken >= count.max(1) && last != Some(s) {
                        return score_cursor(s);
                    }
                    f(m, s);
                    last = Some(s);
                    taken += 1;
                    it.next();
                }
                0
            }
        }
    }
}

/// A score as a ZSCAN cursor: order-preserving and never 0.
fn score_cursor(s: f64) -> u64 {
    let b = s.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

fn cursor_score(c: u64) -> Option<f64> {
    let b = if c >> 63 == 1 { c & !(1 << 63) } else { !c };
    let s = f64::from_bits(b);
    (!s.is_nan()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim() -> EncodingLimits {
        EncodingLimits::default()
    }

    #[test]
    fn listpack_then_skiplist() {
        let mut z = ZSet::for_new_key(1, &lim());
        for i in 0..128 {
            assert_eq!(
                z.add(
                    format!("m{i}").as_bytes(),
                    i as f64,
                    AddFlags::default(),
                    &lim()
                ),
                AddOutcome::Added(i as f64)
            );
        }
        assert_eq!(z.encoding(), "listpack");
        assert_eq!(z.rank(b"m5"), Some(5));
        assert_eq!(z.score(b"m7"), Some(7.0));
        z.add(b"x", 0.5, AddFlags::default(), &lim());
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(z.rank(b"x"), Some(1));
        assert_eq!(z.len(), 129);
        let flags = AddFlags {
            incr: true,
            ..Default::default()
        };
        assert_eq!(
            z.add(b"x", 100.0, flags, &lim()),
            AddOutcome::Updated(100.5)
        );
        assert_eq!(z.rank(b"x"), Some(101));
    }

    #[test]
    fn spans_and_pops() {
        let mut z = ZSet::default();
        for (m, s) in [("a", 1.0), ("b", 2.0), ("c", 2.0), ("d", 3.0)] {
            z.add(m.as_bytes(), s, AddFlags::default(), &lim());
        }
        let r = ScoreRange {
            min: 2.0,
            max: 3.0,
            minex: false,
            maxex: true,
        };
        assert_eq!(z.score_span(&r), (1, 3));
        let lr = LexRange {
            min: LexBound::Value(b"b".to_vec()),
            max: LexBound::Max,
            minex: false,
            maxex: true,
        };
        assert_eq!(z.lex_span(&lr, false), (1, 4));
        assert_eq!(z.pop(true), Some((b"d".to_vec(), 3.0)));
        assert_eq!(z.pop(false), Some((b"a".to_vec(), 1.0)));
        let items: Vec<_> = z.iter_at(1, true).map(|(m, s)| (m.to_vec(), s)).collect();
        assert_eq!(items, vec![(b"c".to_vec(), 2.0), (b"b".to_vec(), 2.0)]);
    }

    #[test]
    fn scan_cursor_roundtrip() {
        for s in [f64::NEG_INFINITY, -1.5, -0.0, 0.0, 2.0, f64::INFINITY] {
            let c = score_cursor(s);
            assert_ne!(c, 0);
            assert_eq!(cursor_score(c).unwrap().to_bits(), s.to_bits());
        }
        assert!(score_cursor(-1.0) < score_cursor(0.0));
        assert!(score_cursor(1.0) < score_cursor(2.0));
        let mut z = ZSet::Skiplist(BigZSet::new());
        for i in 0..100 {
            z.add(
                format!("m{i}").as_bytes(),
                (i / 3) as f64,
                AddFlags::default(),
                &lim(),
            );
        }
        let mut seen = 0;
        let mut cur = 0;
        loop {
            cur = z.scan(cur, 10, |_, _| seen += 1);
            if cur == 0 {
                break;
            }
        }
        assert_eq!(seen, 100);
    }
}
