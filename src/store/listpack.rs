//! A listpack, byte for byte as Redis 7.0 lays it out: the compact form
//! of small lists, hashes and sorted sets. Keeping Redis's exact bytes
//! gives Redis-like memory use and makes RDB/DUMP serialization a copy.
//!
//! # Layout
//!
//! ```text
//! <total-bytes u32 LE> <count u16 LE> <entry> ... <entry> <0xFF>
//! entry = <encoding+data> <backlen: size of encoding+data, 1-5 bytes>
//! ```
//!
//! Encodings (first byte):
//! `0xxxxxxx` 7-bit uint · `10xxxxxx` string of < 64 bytes ·
//! `110xxxxx +1` 13-bit int · `1110xxxx +1` string of < 4096 bytes ·
//! `F0 +4` long string · `F1 +2` / `F2 +3` / `F3 +4` / `F4 +8` ints.
//! Strings that are canonical integers are stored as integers.
//!
//! Entries are addressed by byte offset (`first`, `next`, `prev`, ...), so
//! iteration is O(1) per step; `seek` turns an index into an offset.

use super::packed_vec::PackedVec;

const HEADER: usize = 6;
const EOF: u8 = 0xFF;
/// Redis stores this count when the real count no longer fits in u16.
const COUNT_UNKNOWN: u16 = u16::MAX;

/// One entry's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LpValue<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl LpValue<'_> {
    /// The value as bytes (integers in decimal), appended to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match *self {
            LpValue::Int(n) => crate::resp::push_i64(out, n),
            LpValue::Str(s) => out.extend_from_slice(s),
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_to(&mut v);
        v
    }

    /// Whether the entry equals `s` as Redis compares (integers compare by
    /// their decimal form).
    pub fn eq_bytes(&self, s: &[u8]) -> bool {
        match *self {
            LpValue::Str(x) => x == s,
            LpValue::Int(n) => crate::resp::parse_i64(s) == Some(n),
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Listpack {
    buf: PackedVec,
}

impl Default for Listpack {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Listpack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Listpack {
    pub fn new() -> Listpack {
        let mut buf = Vec::with_capacity(HEADER + 1);
        buf.extend_from_slice(&7u32.to_le_bytes());
        buf.extend_from_slice(&0u16.to_le_bytes());
        buf.push(EOF);
        Listpack {
            buf: PackedVec::from_vec(buf),
        }
    }

    /// Wraps bytes that hold a listpack (from an RDB or DUMP payload),
    /// checking the structure first.
    pub fn from_bytes(buf: Vec<u8>) -> Option<Listpack> {
        if buf.len() < HEADER + 1 || *buf.last()? != EOF {
            return None;
        }
        if u32::from_le_bytes(buf[0..4].try_into().ok()?) as usize != buf.len() {
            return None;
        }
        let lp = Listpack {
            buf: PackedVec::from_vec(buf),
        };
        let mut off = HEADER;
        let mut n = 0usize;
        while lp.buf[off] != EOF {
            let size = lp.entry_size_checked(off)?;
            off += size;
            if off >= lp.buf.len() {
                return None;
            }
            n += 1;
        }
        // The first terminator is the last byte (lpValidateIntegrity).
        if off != lp.buf.len() - 1 {
            return None;
        }
        let stored = u16::from_le_bytes([lp.buf[4], lp.buf[5]]);
        if stored != COUNT_UNKNOWN && stored as usize != n {
            return None;
        }
        Some(lp)
    }

    /// The raw bytes, as Redis stores them.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Bytes allocated.
    pub fn heap_size(&self) -> usize {
        self.buf.capacity()
    }

    /// Gives back spare capacity (a quicklist node that stopped growing).
    pub fn shrink_to_fit(&mut self) {
        self.buf.edit().shrink_to_fit();
    }

    /// Bytes allocated (lets a quicklist choose its nodes' growth steps).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Makes room for exactly `additional` more bytes.
    pub fn reserve_exact(&mut self, additional: usize) {
        self.buf.edit().reserve_exact(additional);
    }

    /// Total bytes of the listpack (what Redis compares with size limits).
    pub fn bytes_len(&self) -> usize {
        self.buf.len()
    }

    pub fn len(&self) -> usize {
        let stored = u16::from_le_bytes([self.buf[4], self.buf[5]]);
        if stored != COUNT_UNKNOWN {
            return stored as usize;
        }
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.buf[HEADER] == EOF
    }

    /// Offset of the first entry.
    pub fn first(&self) -> Option<usize> {
        (self.buf[HEADER] != EOF).then_some(HEADER)
    }

    /// Offset of the last entry.
    pub fn last(&self) -> Option<usize> {
        let end = self.buf.len() - 1;
        (end > HEADER).then(|| self.prev_from(end))
    }

    /// Offset of the entry after `off`.
    pub fn next(&self, off: usize) -> Option<usize> {
        let n = off + self.entry_size(off);
        (self.buf[n] != EOF).then_some(n)
    }

    /// Offset of the entry before `off`.
    pub fn prev(&self, off: usize) -> Option<usize> {
        (off > HEADER).then(|| self.prev_from(off))
    }

    /// Offset of entry `index` (negative counts from the end).
    pub fn seek(&self, index: i64) -> Option<usize> {
        if index >= 0 {
            let mut off = self.first()?;
            for _ in 0..index {
                off = self.next(off)?;
            }
            Some(off)
        } else {
            let mut off = self.last()?;
            for _ in 0..(-index - 1) {
                off = self.prev(off)?;
            }
            Some(off)
        }
    }

    /// The value at `off`.
    pub fn get(&self, off: usize) -> LpValue<'_> {
        let b = &self.buf[off..];
        let c = b[0];
        if c & 0x80 == 0 {
            LpValue::Int((c & 0x7F) as i64)
        } else if c & 0xC0 == 0x80 {
            let len = (c & 0x3F) as usize;
            LpValue::Str(&b[1..1 + len])
        } else if c & 0xE0 == 0xC0 {
            let u = (((c & 0x1F) as u64) << 8) | b[1] as u64;
            LpValue::Int(sign_extend(u, 13))
        } else if c & 0xF0 == 0xE0 {
            let len = (((c & 0x0F) as usize) << 8) | b[1] as usize;
            LpValue::Str(&b[2..2 + len])
        } else {
            match c {
                0xF0 => {
                    let len = u32::from_le_bytes(b[1..5].try_into().unwrap()) as usize;
                    LpValue::Str(&b[5..5 + len])
                }
                0xF1 => LpValue::Int(sign_extend(le(&b[1..3]), 16)),
                0xF2 => LpValue::Int(sign_extend(le(&b[1..4]), 24)),
                0xF3 => LpValue::Int(sign_extend(le(&b[1..5]), 32)),
                0xF4 => LpValue::Int(le(&b[1..9]) as i64),
                _ => unreachable!("corrupt listpack entry {c:#x}"),
            }
        }
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter {
            lp: self,
            off: self.first(),
        }
    }

    /// Appends a value at the end.
    pub fn push_back(&mut self, v: &[u8]) {
        let end = self.buf.len() - 1;
        self.insert_at(end, v);
    }

    /// Inserts a value at the front.
    pub fn push_front(&mut self, v: &[u8]) {
        self.insert_at(HEADER, v);
    }

    /// Inserts `v` before the entry at `off` (or at the end when `off` is
    /// the terminator's offset). Returns the new entry's offset.
    pub fn insert_at(&mut self, off: usize, v: &[u8]) -> usize {
        let mut enc = Vec::with_capacity(v.len() + 10);
        encode(v, &mut enc);
        self.buf.edit().splice(off..off, enc);
        self.set_count(self.len_for_update() + 1);
        self.set_total();
        off
    }

    /// Inserts an integer before `off`.
    pub fn insert_int_at(&mut self, off: usize, n: i64) -> usize {
        let mut tmp = Vec::with_capacity(20);
        crate::resp::push_i64(&mut tmp, n);
        self.insert_at(off, &tmp)
    }

    /// Offset where an entry would go at the end.
    pub fn end_offset(&self) -> usize {
        self.buf.len() - 1
    }

    /// Removes the entry at `off`; returns the offset of the entry that
    /// followed it, if any.
    pub fn delete(&mut self, off: usize) -> Option<usize> {
        let size = self.entry_size(off);
        self.buf.edit().drain(off..off + size);
        self.set_count(self.len_for_update() - 1);
        self.set_total();
        (self.buf[off] != EOF).then_some(off)
    }

    /// Removes `count` entries starting at `off`.
    pub fn delete_range(&mut self, off: usize, count: usize) {
        let mut end = off;
        let mut removed = 0;
        while removed < count && self.buf[end] != EOF {
            end += self.entry_size(end);
            removed += 1;
        }
        self.buf.edit().drain(off..end);
        self.set_count(self.len_for_update() - removed);
        self.set_total();
    }

    /// Replaces the entry at `off` with `v`; the offset stays valid.
    pub fn replace(&mut self, off: usize, v: &[u8]) {
        let size = self.entry_size(off);
        let mut enc = Vec::with_capacity(v.len() + 10);
        encode(v, &mut enc);
        self.buf.edit().splice(off..off + size, enc);
        self.set_total();
    }

    /// First entry at or after `from` equal to `v`, stepping `skip`
    /// entries between comparisons (1 for hashes' fields: field, value).
    pub fn find(&self, from: Option<usize>, v: &[u8], skip: usize) -> Option<usize> {
        let as_int = crate::resp::parse_i64(v);
        let mut off = from?;
        loop {
            let hit = match self.get(off) {
                LpValue::Str(s) => s == v,
                LpValue::Int(n) => as_int == Some(n),
            };
            if hit {
                return Some(off);
            }
            for _ in 0..=skip {
                off = self.next(off)?;
            }
        }
    }

    fn len_for_update(&self) -> usize {
        let stored = u16::from_le_bytes([self.buf[4], self.buf[5]]);
        if stored != COUNT_UNKNOWN {
            stored as usize
        } else {
            self.iter().count()
        }
    }

    fn set_count(&mut self, n: usize) {
        let v = if n < COUNT_UNKNOWN as usize {
            n as u16
        } else {
            COUNT_UNKNOWN
        };
        self.buf[4..6].copy_from_slice(&v.to_le_bytes());
    }

    fn set_total(&mut self) {
        let n = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&n.to_le_bytes());
    }

    /// Size of encoding+data+backlen of the entry at `off`.
    fn entry_size(&self, off: usize) -> usize {
        let l = encoded_len(&self.buf[off..]);
        l + backlen_size(l)
    }

    fn entry_size_checked(&self, off: usize) -> Option<usize> {
        let b = self.buf.get(off..)?;
        let c = *b.first()?;
        let l = match c {
            _ if c & 0x80 == 0 => 1,
            _ if c & 0xC0 == 0x80 => 1 + (c & 0x3F) as usize,
            _ if c & 0xE0 == 0xC0 => 2,
            _ if c & 0xF0 == 0xE0 => 2 + ((((c & 0x0F) as usize) << 8) | *b.get(1)? as usize),
            0xF0 => 5 + u32::from_le_bytes(b.get(1..5)?.try_into().ok()?) as usize,
            0xF1 => 3,
            0xF2 => 4,
            0xF3 => 5,
            0xF4 => 9,
            _ => return None,
        };
        let total = l + backlen_size(l);
        let back = decode_backlen(self.buf.get(..off + total)?)?;
        (back == l).then_some(total)
    }

    /// Offset of the entry that ends right before `end`.
    fn prev_from(&self, end: usize) -> usize {
        let l = decode_backlen(&self.buf[..end]).expect("corrupt listpack backlen");
        end - backlen_size(l) - l
    }
}

pub struct Iter<'a> {
    lp: &'a Listpack,
    off: Option<usize>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = LpValue<'a>;
    fn next(&mut self) -> Option<LpValue<'a>> {
        let off = self.off?;
        self.off = self.lp.next(off);
        Some(self.lp.get(off))
    }
}

fn le(b: &[u8]) -> u64 {
    b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | x as u64)
}

fn sign_extend(u: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((u << shift) as i64) >> shift
}

/// Length of encoding+data of the entry starting `b`.
fn encoded_len(b: &[u8]) -> usize {
    let c = b[0];
    if c & 0x80 == 0 {
        1
    } else if c & 0xC0 == 0x80 {
        1 + (c & 0x3F) as usize
    } else if c & 0xE0 == 0xC0 {
        2
    } else if c & 0xF0 == 0xE0 {
        2 + ((((c & 0x0F) as usize) << 8) | b[1] as usize)
    } else {
        match c {
            0xF0 => 5 + u32::from_le_bytes(b[1..5].try_into().unwrap()) as usize,
            0xF1 => 3,
            0xF2 => 4,
            0xF3 => 5,
            0xF4 => 9,
            _ => unreachable!("corrupt listpack entry {c:#x}"),
        }
    }
}

/// Bytes of the back-length that follows an entry of `l` bytes.
pub fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// Reads the backlen that ends right before `end` (i.e. at `buf[len-1]`).
fn decode_backlen(buf: &[u8]) -> Option<usize> {
    let mut p = buf.len().checked_sub(1)?;
    let mut val = 0usize;
    let mut shift = 0;
    loop {
        let b = buf[p];
        val |= ((b & 127) as usize) << shift;
        if b & 128 == 0 {
            return Some(val);
        }
        shift += 7;
        if shift > 28 {
            return None;
        }
        p = p.checked_sub(1)?;
    }
}

fn push_backlen(out: &mut Vec<u8>, l: usize) {
    let n = backlen_size(l);
    for i in (0..n).rev() {
        let chunk = ((l >> (7 * i)) & 127) as u8;
        // Every byte but the first (leftmost) carries the continuation bit.
        out.push(if i == n - 1 { chunk } else { chunk | 128 });
    }
}

/// Encodes `v` as one entry (encoding+data+backlen), integers compactly.
fn encode(v: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    match crate::resp::parse_i64(v) {
        Some(n) => encode_int(n, out),
        None => {
            let len = v.len();
            if len < 64 {
                out.push(0x80 | len as u8);
            } else if len < 4096 {
                out.push(0xE0 | (len >> 8) as u8);
                out.push((len & 0xFF) as u8);
            } else {
                out.push(0xF0);
                out.extend_from_slice(&(len as u32).to_le_bytes());
            }
            out.extend_from_slice(v);
        }
    }
    let l = out.len() - start;
    push_backlen(out, l);
}

fn encode_int(n: i64, out: &mut Vec<u8>) {
    if (0..=127).contains(&n) {
        out.push(n as u8);
    } else if (-4096..=4095).contains(&n) {
        let u = (n as u64) & 0x1FFF;
        out.push(0xC0 | (u >> 8) as u8);
        out.push((u & 0xFF) as u8);
    } else if (-32768..=32767).contains(&n) {
        out.push(0xF1);
        out.extend_from_slice(&(n as i16).to_le_bytes());
    } else if (-8388608..=8388607).contains(&n) {
        out.push(0xF2);
        out.extend_from_slice(&(n as i32).to_le_bytes()[..3]);
    } else if (i32::MIN as i64..=i32::MAX as i64).contains(&n) {
        out.push(0xF3);
        out.extend_from_slice(&(n as i32).to_le_bytes());
    } else {
        out.push(0xF4);
        out.extend_from_slice(&n.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(lp: &Listpack) -> Vec<Vec<u8>> {
        lp.iter().map(|v| v.to_vec()).collect()
    }

    #[test]
    fn golden_bytes_match_redis() {
        // RPUSH l a 1 -1 1000 hello on redis-server 7.0 gives this listpack
        // (captured: DUMP with rdbcompression no, after the quicklist header).
        let mut lp = Listpack::new();
        for v in [&b"a"[..], b"1", b"-1", b"1000", b"hello"] {
            lp.push_back(v);
        }
        let expect: &[u8] = &[
            0x19, 0, 0, 0, 5, 0, // total 25 bytes, 5 entries
            0x81, b'a', 2, // "a"
            0x01, 1, // 1
            0xDF, 0xFF, 2, // -1 as 13-bit
            0xC3, 0xE8, 2, // 1000 as 13-bit
            0x85, b'h', b'e', b'l', b'l', b'o', 6, // "hello"
            0xFF,
        ];
        assert_eq!(lp.as_bytes(), expect);
        assert_eq!(Listpack::from_bytes(expect.to_vec()).unwrap(), lp);
    }

    #[test]
    fn a_terminator_before_the_last_byte_is_refused() {
        // One entry "a", the terminator, then one byte more: the header
        // counts all 11 bytes (Redis's "quicklist listpack entry start
        // with EOF" payload).
        let early = [11, 0, 0, 0, 1, 0, 0x81, b'a', 2, 0xFF, 0xFF];
        assert!(Listpack::from_bytes(early.to_vec()).is_none());
        let exact = [10, 0, 0, 0, 1, 0, 0x81, b'a', 2, 0xFF];
        assert!(Listpack::from_bytes(exact.to_vec()).is_some());
    }

    #[test]
    fn integers_roundtrip_in_every_width() {
        let nums = [
            0i64,
            127,
            128,
            -1,
            -4096,
            4095,
            4096,
            -32768,
            32767,
            40000,
            -8388608,
            8388607,
            1 << 30,
            i64::MIN,
            i64::MAX,
        ];
        let mut lp = Listpack::new();
        for n in nums {
            lp.push_back(n.to_string().as_bytes());
        }
        let got: Vec<LpValue> = lp.iter().collect();
        assert_eq!(
            got,
            nums.iter().map(|&n| LpValue::Int(n)).collect::<Vec<_>>()
        );
        assert_eq!(lp.len(), nums.len());
        assert!(Listpack::from_bytes(lp.as_bytes().to_vec()).is_some());
    }

    #[test]
    fn strings_of_every_length_class_and_backward_walk() {
        let mut lp = Listpack::new();
        let vals: Vec<Vec<u8>> = [0usize, 1, 63, 64, 127, 128, 4095, 4096, 20000]
            .iter()
            .map(|&n| vec![b'x'; n])
            .collect();
        for v in &vals {
            lp.push_back(v);
        }
        assert_eq!(values(&lp), vals);
        let mut back = Vec::new();
        let mut off = lp.last();
        while let Some(o) = off {
            back.push(lp.get(o).to_vec());
            off = lp.prev(o);
        }
        back.reverse();
        assert_eq!(back, vals);
        assert!(Listpack::from_bytes(lp.as_bytes().to_vec()).is_some());
    }

    #[test]
    fn edits() {
        let mut lp = Listpack::new();
        lp.push_back(b"b");
        lp.push_front(b"a");
        lp.push_back(b"d");
        let d = lp.seek(2).unwrap();
        lp.insert_at(d, b"c");
        assert_eq!(
            values(&lp),
            vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec(), b"d".to_vec()]
        );
        let b = lp.find(lp.first(), b"b", 0).unwrap();
        lp.replace(b, b"12345");
        assert_eq!(lp.get(b), LpValue::Int(12345));
        lp.delete(b);
        assert_eq!(
            values(&lp),
            vec![b"a".to_vec(), b"c".to_vec(), b"d".to_vec()]
        );
        lp.delete_range(lp.first().unwrap(), 2);
        assert_eq!(values(&lp), vec![b"d".to_vec()]);
        assert_eq!(lp.seek(-1), lp.first());
        assert_eq!(
            u32::from_le_bytes(lp.as_bytes()[0..4].try_into().unwrap()) as usize,
            lp.bytes_len()
        );
    }

    #[test]
    fn corrupt_bytes_are_refused() {
        assert!(Listpack::from_bytes(vec![7, 0, 0, 0, 0, 0]).is_none());
        assert!(Listpack::from_bytes(vec![9, 0, 0, 0, 1, 0, 0x85, 1, 0xFF]).is_none());
    }
}
