//! An intset, byte for byte as Redis lays it out: the compact encoding of
//! small sets whose members are all integers.
//!
//! ```text
//! <encoding u32 LE: 2, 4 or 8> <length u32 LE> <values, sorted ascending, LE>
//! ```
//!
//! The width grows (16 → 32 → 64 bits) when a value needs it and never
//! shrinks, as in Redis. Every change reallocates to the exact size, as
//! Redis's `intsetResize` does, so a small set costs what it holds.

const HEADER: usize = 8;

#[derive(Clone, PartialEq, Eq)]
pub struct IntSet {
    buf: Vec<u8>,
}

impl Default for IntSet {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for IntSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The narrowest width (bytes) that holds `v`.
fn width_for(v: i64) -> usize {
    if v >= i16::MIN as i64 && v <= i16::MAX as i64 {
        2
    } else if v >= i32::MIN as i64 && v <= i32::MAX as i64 {
        4
    } else {
        8
    }
}

impl IntSet {
    pub fn new() -> IntSet {
        let mut buf = Vec::with_capacity(HEADER);
        buf.extend_from_slice(&2u32.to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes());
        IntSet { buf }
    }

    /// Wraps bytes holding an intset (RDB/DUMP payload), checking them.
    pub fn from_bytes(buf: Vec<u8>) -> Option<IntSet> {
        if buf.len() < HEADER {
            return None;
        }
        let w = u32::from_le_bytes(buf[0..4].try_into().ok()?) as usize;
        let n = u32::from_le_bytes(buf[4..8].try_into().ok()?) as usize;
        if !matches!(w, 2 | 4 | 8) || buf.len() != HEADER + w * n {
            return None;
        }
        let s = IntSet { buf };
        // Strictly ascending.
        for i in 1..n {
            if s.get(i - 1) >= s.get(i) {
                return None;
            }
        }
        Some(s)
    }

    /// The raw bytes, as Redis stores them.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    #[inline]
    fn width(&self) -> usize {
        self.buf[0] as usize
    }

    #[inline]
    pub fn len(&self) -> usize {
        u32::from_le_bytes(self.buf[4..8].try_into().unwrap()) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn heap_size(&self) -> usize {
        self.buf.capacity()
    }

    /// The value at index `i` (ascending order).
    #[inline]
    pub fn get(&self, i: usize) -> i64 {
        let w = self.width();
        let p = HEADER + i * w;
        let b = &self.buf[p..p + w];
        match w {
            2 => i16::from_le_bytes([b[0], b[1]]) as i64,
            4 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64,
            _ => i64::from_le_bytes(b.try_into().unwrap()),
        }
    }

    fn put(&mut self, i: usize, v: i64) {
        let w = self.width();
        let p = HEADER + i * w;
        match w {
            2 => self.buf[p..p + 2].copy_from_slice(&(v as i16).to_le_bytes()),
            4 => self.buf[p..p + 4].copy_from_slice(&(v as i32).to_le_bytes()),
            _ => self.buf[p..p + 8].copy_from_slice(&v.to_le_bytes()),
        }
    }

    fn set_len(&mut self, n: usize) {
        self.buf[4..8].copy_from_slice(&(n as u32).to_le_bytes());
    }

    /// Index of `v`, or where it would be inserted.
    pub fn search(&self, v: i64) -> Result<usize, usize> {
        let n = self.len();
        if n == 0 {
            return Err(0);
        }
        // Fast paths for values outside the range, as Redis has.
        if v > self.get(n - 1) {
            return Err(n);
        }
        if v < self.get(0) {
            return Err(0);
        }
        let (mut lo, mut hi) = (0usize, n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let m = self.get(mid);
            if m == v {
                return Ok(mid);
            } else if m < v {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Err(lo)
    }

    pub fn contains(&self, v: i64) -> bool {
        width_for(v) <= self.width() && self.search(v).is_ok()
    }

    /// Adds `v`; false if it was there.
    pub fn insert(&mut self, v: i64) -> bool {
        let n = self.len();
        let need = width_for(v);
        if need > self.width() {
            // A value wider than all others is below or above them all.
            self.upgrade(need);
            let at = if v < 0 { 0 } else { n };
            self.open_gap(at, n);
            self.put(at, v);
            return true;
        }
        match self.search(v) {
            Ok(_) => false,
            Err(at) => {
                self.open_gap(at, n);
                self.put(at, v);
                true
            }
        }
    }

    /// Makes room for one value at index `at` (of `n`).
    fn open_gap(&mut self, at: usize, n: usize) {
        let w = self.width();
        self.buf.reserve_exact(w);
        let p = HEADER + at * w;
        self.buf.splice(p..p, std::iter::repeat_n(0u8, w));
        self.set_len(n + 1);
    }

    fn upgrade(&mut self, w: usize) {
        let n = self.len();
        let old: Vec<i64> = (0..n).map(|i| self.get(i)).collect();
        let mut buf = Vec::with_capacity(HEADER + (n + 1) * w);
        buf.extend_from_slice(&(w as u32).to_le_bytes());
        buf.extend_from_slice(&(n as u32).to_le_bytes());
        buf.resize(HEADER + n * w, 0);
        self.buf = buf;
        for (i, v) in old.into_iter().enumerate() {
            self.put(i, v);
        }
    }

    /// Removes `v`; false if it was not there.
    pub fn remove(&mut self, v: i64) -> bool {
        if width_for(v) > self.width() {
            return false;
        }
        match self.search(v) {
            Ok(i) => {
                self.remove_at(i);
                true
            }
            Err(_) => false,
        }
    }

    /// Removes the value at index `i`.
    pub fn remove_at(&mut self, i: usize) -> i64 {
        let v = self.get(i);
        let w = self.width();
        let p = HEADER + i * w;
        self.buf.drain(p..p + w);
        self.buf.shrink_to_fit();
        let n = self.len();
        self.set_len(n - 1);
        v
    }

    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_widths() {
        let mut s = IntSet::new();
        for v in [5, -3, 100, 5, 0] {
            s.insert(v);
        }
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![-3, 0, 5, 100]);
        assert_eq!(s.as_bytes().len(), 8 + 4 * 2);
        s.insert(70000);
        assert_eq!(s.as_bytes()[0], 4);
        s.insert(-(1 << 40));
        assert_eq!(s.as_bytes()[0], 8);
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            vec![-(1 << 40), -3, 0, 5, 100, 70000]
        );
        assert!(s.contains(70000) && !s.contains(6));
        assert!(s.remove(-3) && !s.remove(-3));
        assert_eq!(s.len(), 5);
        assert!(IntSet::from_bytes(s.as_bytes().to_vec()).is_some());
        let mut t = IntSet::new();
        t.insert(1);
        assert!(!t.contains(1 << 20));
    }

    #[test]
    fn golden_bytes() {
        // SADD s 1 2 3 on redis: intset enc 2, len 3, 1 2 3 as int16.
        let mut s = IntSet::new();
        for v in [3, 1, 2] {
            s.insert(v);
        }
        assert_eq!(s.as_bytes(), &[2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 2, 0, 3, 0]);
    }
}
