//! LZF, the compression Redis applies to long strings in RDB files and
//! DUMP payloads. The compressor makes the same choices as Redis's
//! `lzf_c.c` (liblzf 3.6) in its default configuration (16-bit hash table, "very fast"
//! re-hashing after a match, a zeroed table), so payloads are byte-equal.
//!
//! Compressed stream, a sequence of:
//!
//! ```text
//! 000LLLLL <L+1 literal bytes>           literal run of 1..32 bytes
//! LLLooooo oooooooo                      back-reference, length L+2 (L 1..6)
//! 111ooooo LLLLLLLL oooooooo             back-reference, length L+9
//! ```
//!
//! The offset `o` (13 bits, high bits in the first byte) counts back from
//! the current output end, minus one; references may overlap the output.

const HLOG: u32 = 16;
const HSIZE: usize = 1 << HLOG;
const MAX_LIT: usize = 1 << 5;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

#[inline]
fn first(b: &[u8], p: usize) -> u32 {
    ((b[p] as u32) << 8) | b[p + 1] as u32
}

#[inline]
fn next(v: u32, b: &[u8], p: usize) -> u32 {
    (v << 8) | b[p + 2] as u32
}

#[inline]
fn slot(h: u32) -> usize {
    ((h >> (24 - HLOG)).wrapping_sub(h.wrapping_mul(5)) as usize) & (HSIZE - 1)
}

/// The compressor's hash table, kept per thread and reused: a fresh
/// zeroed 256 KiB table per string (as liblzf's zeroed table would be)
/// cost an mmap, ~64 page faults and an munmap with its TLB flush for
/// every value a snapshot wrote, on the shard's own thread. An entry
/// stores `base + position`; entries below `base` were written by an
/// earlier call and read as empty, so every call sees a zeroed table.
struct Table {
    slots: Box<[u32]>,
    base: u32,
}

impl Table {
    /// Makes room for an input of `n` bytes: the positions this call
    /// stores must stay above every earlier call's.
    fn start(&mut self, n: usize) {
        if self.slots.is_empty() || u64::from(self.base) + n as u64 + 1 >= u64::from(u32::MAX) {
            self.slots = vec![0u32; HSIZE].into_boxed_slice();
            self.base = 1;
        }
    }

    /// The position stored at `h` by this call (0: none).
    #[inline]
    fn get(&self, h: usize) -> usize {
        self.slots[h].saturating_sub(self.base) as usize
    }

    #[inline]
    fn set(&mut self, h: usize, position: usize) {
        self.slots[h] = self.base + position as u32;
    }

    fn finish(&mut self, n: usize) {
        self.base += n as u32 + 1;
    }
}

thread_local! {
    static TABLE: std::cell::RefCell<Table> =
        std::cell::RefCell::new(Table { slots: Box::new([]), base: 1 });
}

/// Compresses `input` into at most `max_out` bytes; None when the result
/// would not fit (or the input is empty), as `lzf_compress` returning 0.
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    let n = input.len();
    if n == 0 || max_out == 0 {
        return None;
    }
    TABLE.with_borrow_mut(|htab| {
        htab.start(n);
        let out = compress_with(input, max_out, htab);
        htab.finish(n);
        out
    })
}

fn compress_with(input: &[u8], max_out: usize, htab: &mut Table) -> Option<Vec<u8>> {
    let n = input.len();
    let mut out = vec![0u8; max_out];
    let mut ip = 0usize;
    let mut op = 1usize; // room for the first run's control byte
    let mut lit = 0usize;
    let mut hval = if n >= 2 { first(input, 0) } else { 0 };
    while ip + 2 < n {
        hval = next(hval, input, ip);
        let h = slot(hval);
        // Positions; 0 doubles as "empty" since position 0 is never a match.
        let r = htab.get(h);
        htab.set(h, ip);
        let off = ip.wrapping_sub(r).wrapping_sub(1);
        if off < MAX_OFF
            && r > 0
            && input[r] == input[ip]
            && input[r + 1] == input[ip + 1]
            && input[r + 2] == input[ip + 2]
        {
            let mut len = 2usize;
            let maxlen = (n - ip - len).min(MAX_REF);
            // The exact room test of liblzf 3.6: the run byte of an
            // empty literal run is taken back.
            if op - usize::from(lit == 0) + 3 + 1 >= max_out {
                return None;
            }
            out[op - lit - 1] = (lit as u8).wrapping_sub(1);
            if lit == 0 {
                op -= 1;
            }
            let mut unrolled_miss = false;
            if maxlen > 16 {
                for _ in 0..16 {
                    len += 1;
                    if input[r + len] != input[ip + len] {
                        unrolled_miss = true;
                        break;
                    }
                }
            }
            if !unrolled_miss {
                loop {
                    len += 1;
                    if !(len < maxlen && input[r + len] == input[ip + len]) {
                        break;
                    }
                }
            }
            len -= 2;
            ip += 1;
            if len < 7 {
                out[op] = ((off >> 8) + (len << 5)) as u8;
                op += 1;
            } else {
                out[op] = ((off >> 8) + (7 << 5)) as u8;
                out[op + 1] = (len - 7) as u8;
                op += 2;
            }
            out[op] = off as u8;
            op += 2; // the byte plus room for the next run's control byte
            lit = 0;
            ip += len + 1;
            if ip + 2 >= n {
                break;
            }
            ip -= 2;
            hval = first(input, ip);
            for _ in 0..2 {
                hval = next(hval, input, ip);
                htab.set(slot(hval), ip);
                ip += 1;
            }
        } else {
            if op >= max_out {
                return None;
            }
            push_literal(&mut out, &mut op, &mut lit, input[ip]);
            ip += 1;
        }
    }
    if op + 3 > max_out {
        return None;
    }
    while ip < n {
        push_literal(&mut out, &mut op, &mut lit, input[ip]);
        ip += 1;
    }
    out[op - lit - 1] = (lit as u8).wrapping_sub(1);
    if lit == 0 {
        op -= 1;
    }
    out.truncate(op);
    Some(out)
}

/// Decompresses `input`, which must expand to exactly `out_len` bytes.
pub fn decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(out_len);
    let mut ip = 0usize;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            if ip + run > input.len() || out.len() + run > out_len {
                return None;
            }
            out.extend_from_slice(&input[ip..ip + run]);
            ip += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(ip)? as usize;
                ip += 1;
            }
            let lo = *input.get(ip)? as usize;
            ip += 1;
            let back = ((ctrl & 31) << 8) + lo + 1;
            len += 2;
            if back > out.len() || out.len() + len > out_len {
                return None;
            }
            let start = out.len() - back;
            for i in 0..len {
                let b = out[start + i];
                out.push(b);
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

/// Appends one literal byte to the current literal run; a full run
/// (MAX_LIT bytes) gets its length byte and a new run starts after it.
#[inline]
fn push_literal(out: &mut [u8], op: &mut usize, lit: &mut usize, byte: u8) {
    out[*op] = byte;
    *op += 1;
    *lit += 1;
    if *lit == MAX_LIT {
        out[*op - *lit - 1] = (*lit - 1) as u8;
        *lit = 0;
        *op += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_various() {
        let mut inputs: Vec<Vec<u8>> = vec![
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
            b"abcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabc".to_vec(),
            (0..5000u32).map(|i| (i % 251) as u8).collect(),
            (0..3000u32).map(|i| (i * 7 % 13) as u8).collect(),
        ];
        let mut x = 12345u64;
        inputs.push(
            (0..4000)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    b"ab"[(x % 2) as usize]
                })
                .collect(),
        );
        for inp in inputs {
            let c = compress(&inp, inp.len() - 4).expect("compressible");
            assert_eq!(decompress(&c, inp.len()).unwrap(), inp);
        }
    }

    #[test]
    fn a_reused_table_compresses_as_a_fresh_one() {
        // An earlier input's positions must not be read as matches.
        let a: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 13) as u8).collect();
        let b: Vec<u8> = (0..2000u32).map(|i| (i * 5 % 11) as u8).collect();
        let first = compress(&b, b.len() - 4);
        compress(&a, a.len() - 4);
        assert_eq!(compress(&b, b.len() - 4), first);
        // And across the reset when the positions would overflow.
        TABLE.with_borrow_mut(|t| t.base = u32::MAX - 100);
        assert_eq!(compress(&b, b.len() - 4), first);
        TABLE.with_borrow_mut(|t| assert!(t.base < 10_000));
        assert_eq!(compress(&b, b.len() - 4), first);
    }

    #[test]
    fn incompressible_gives_none() {
        let inp: Vec<u8> = (0..=255u8).collect();
        assert!(compress(&inp, inp.len() - 4).is_none());
    }

    #[test]
    fn corrupt_streams_are_refused() {
        assert!(decompress(&[0x05, b'a'], 6).is_none()); // short literal
        assert!(decompress(&[0x00, b'a', 0x20, 0x05], 4).is_none()); // offset too far
        assert!(decompress(&[0x00, b'a', 0x20, 0x00], 10).is_none()); // too short
        assert!(decompress(&[0x00, b'a', 0x20], 3).is_none()); // truncated
        assert_eq!(decompress(&[0x00, b'a', 0x20, 0x00], 4).unwrap(), b"aaaa");
    }
}
