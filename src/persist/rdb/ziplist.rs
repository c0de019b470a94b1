//! The blobs older Redis versions wrote and 7.0 still loads (read only):
//!
//! Ziplist (types 10, 12, 13, and the nodes of type 14):
//!
//! ```text
//! <zlbytes u32 LE> <zltail u32 LE> <zllen u16 LE> <entry>... <0xFF>
//! entry = <prevlen: 1 byte < 254, or 0xFE + u32 LE> <encoding> <data>
//! encoding: 00llllll | 01llllll llllllll (BE) | 10000000 <u32 BE>: string
//!           0xC0 i16 | 0xD0 i32 | 0xE0 i64 | 0xF0 i24 | 0xFE i8 (all LE)
//!           0xF1..0xFD: the integer 0..12 inline
//! ```
//!
//! Zipmap (type 9): `<count u8> (<len> key <len> <free u8> value <free
//! bytes>)... 0xFF`, with `len` one byte below 254 or `0xFE` + u32 LE.

use super::{RdbError, Result};

const BAD_ZIPLIST: RdbError = RdbError("Ziplist integrity check failed.");
const BAD_ZIPMAP: RdbError = RdbError("Zipmap integrity check failed.");

/// The entries of a ziplist, checked end to end (header, every entry's
/// prevlen, the tail offset, the count and the terminator); integers in
/// decimal.
pub fn entries(zl: &[u8]) -> Result<Vec<Vec<u8>>> {
    if zl.len() < 11 || zl[zl.len() - 1] != 0xFF {
        return Err(BAD_ZIPLIST);
    }
    let u32le = |p: usize| u32::from_le_bytes([zl[p], zl[p + 1], zl[p + 2], zl[p + 3]]) as usize;
    if u32le(0) != zl.len() {
        return Err(BAD_ZIPLIST);
    }
    let tail = u32le(4);
    let count = u16::from_le_bytes([zl[8], zl[9]]) as usize;
    let end = zl.len() - 1;
    let mut p = 10;
    let mut prev_size = 0usize;
    let mut last_start = 10;
    let mut out = Vec::new();
    while p < end {
        let start = p;
        let prevlen = if zl[p] < 254 {
            p += 1;
            zl[start] as usize
        } else if zl[p] == 254 {
            if p + 5 > end {
                return Err(BAD_ZIPLIST);
            }
            p += 5;
            u32le(start + 1)
        } else {
            return Err(BAD_ZIPLIST);
        };
        if prevlen != prev_size {
            return Err(BAD_ZIPLIST);
        }
        let need = |p: usize, n: usize| {
            if p + n > end {
                Err(BAD_ZIPLIST)
            } else {
                Ok(())
            }
        };
        need(p, 1)?;
        let c = zl[p];
        let (value, next) = match c >> 6 {
            0 => {
                let n = (c & 0x3F) as usize;
                need(p + 1, n)?;
                (zl[p + 1..p + 1 + n].to_vec(), p + 1 + n)
            }
            1 => {
                need(p, 2)?;
                let n = (((c & 0x3F) as usize) << 8) | zl[p + 1] as usize;
                need(p + 2, n)?;
                (zl[p + 2..p + 2 + n].to_vec(), p + 2 + n)
            }
            2 => {
                if c != 0x80 {
                    return Err(BAD_ZIPLIST);
                }
                need(p, 5)?;
                let n = u32::from_be_bytes([zl[p + 1], zl[p + 2], zl[p + 3], zl[p + 4]]) as usize;
                need(p + 5, n)?;
                (zl[p + 5..p + 5 + n].to_vec(), p + 5 + n)
            }
            _ => {
                let (v, width): (i64, usize) = match c {
                    0xC0 => {
                        need(p, 3)?;
                        (i16::from_le_bytes([zl[p + 1], zl[p + 2]]) as i64, 2)
                    }
                    0xD0 => {
                        need(p, 5)?;
                        let b = [zl[p + 1], zl[p + 2], zl[p + 3], zl[p + 4]];
                        (i32::from_le_bytes(b) as i64, 4)
                    }
                    0xE0 => {
                        need(p, 9)?;
                        let mut b = [0u8; 8];
                        b.copy_from_slice(&zl[p + 1..p + 9]);
                        (i64::from_le_bytes(b), 8)
                    }
                    0xF0 => {
                        need(p, 4)?;
                        let b = [0, zl[p + 1], zl[p + 2], zl[p + 3]];
                        ((i32::from_le_bytes(b) >> 8) as i64, 3)
                    }
                    0xFE => {
                        need(p, 2)?;
                        (zl[p + 1] as i8 as i64, 1)
                    }
                    0xF1..=0xFD => ((c & 0x0F) as i64 - 1, 0),
                    _ => return Err(BAD_ZIPLIST),
                };
                let mut s = Vec::with_capacity(20);
                crate::resp::push_i64(&mut s, v);
                (s, p + 1 + width)
            }
        };
        out.push(value);
        prev_size = next - start;
        last_start = start;
        p = next;
    }
    if p != end || (count != u16::MAX as usize && count != out.len()) {
        return Err(BAD_ZIPLIST);
    }
    // The tail points at the last entry (at the header end when empty).
    if tail != last_start {
        return Err(BAD_ZIPLIST);
    }
    Ok(out)
}

/// The (key, value) pairs of a zipmap, checked.
pub fn zipmap_pairs(zm: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut p = 1usize;
    let mut out = Vec::new();
    let len_at = |p: &mut usize| -> Result<usize> {
        let b = *zm.get(*p).ok_or(BAD_ZIPMAP)?;
        if b < 254 {
            *p += 1;
            Ok(b as usize)
        } else if b == 254 {
            let s = zm.get(*p + 1..*p + 5).ok_or(BAD_ZIPMAP)?;
            *p += 5;
            let n = u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize;
            // A length below 254 written in five bytes is refused, as by
            // Debian's redis-server (CVE-2026-25243): a zipmap never holds one.
            if n < 254 {
                return Err(BAD_ZIPMAP);
            }
            Ok(n)
        } else {
            Err(BAD_ZIPMAP)
        }
    };
    if zm.is_empty() {
        return Err(BAD_ZIPMAP);
    }
    loop {
        if *zm.get(p).ok_or(BAD_ZIPMAP)? == 0xFF {
            p += 1;
            break;
        }
        let kl = len_at(&mut p)?;
        let k = zm.get(p..p + kl).ok_or(BAD_ZIPMAP)?.to_vec();
        p += kl;
        let vl = len_at(&mut p)?;
        let free = *zm.get(p).ok_or(BAD_ZIPMAP)? as usize;
        p += 1;
        let v = zm.get(p..p + vl).ok_or(BAD_ZIPMAP)?.to_vec();
        p += vl + free;
        out.push((k, v));
    }
    if p != zm.len() || out.is_empty() {
        return Err(BAD_ZIPMAP);
    }
    // The count byte is exact below 254.
    if zm[0] < 254 && zm[0] as usize != out.len() {
        return Err(BAD_ZIPMAP);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ziplist of "a", 1, 300, "hello" built by hand.
    fn sample() -> Vec<u8> {
        let mut e = Vec::new();
        e.extend_from_slice(&[0, 0x01, b'a']); // "a": prevlen 0
        e.extend_from_slice(&[3, 0xF2]); // 1
        e.extend_from_slice(&[2, 0xC0, 0x2C, 0x01]); // 300
        e.extend_from_slice(&[4, 0x05, b'h', b'e', b'l', b'l', b'o']);
        let tail = 10 + 3 + 2 + 4;
        let mut zl = Vec::new();
        zl.extend_from_slice(&((11 + e.len()) as u32).to_le_bytes());
        zl.extend_from_slice(&(tail as u32).to_le_bytes());
        zl.extend_from_slice(&4u16.to_le_bytes());
        zl.extend_from_slice(&e);
        zl.push(0xFF);
        zl
    }

    #[test]
    fn reads_and_checks_ziplists() {
        let zl = sample();
        let got = entries(&zl).unwrap();
        assert_eq!(
            got,
            vec![
                b"a".to_vec(),
                b"1".to_vec(),
                b"300".to_vec(),
                b"hello".to_vec()
            ]
        );
        for i in 0..zl.len() {
            let mut bad = zl.clone();
            bad[i] ^= 0x5A;
            let _ = entries(&bad); // never panics
            let _ = entries(&zl[..i]);
        }
        let mut bad = zl.clone();
        bad[8] = 3; // count
        assert!(entries(&bad).is_err());
    }

    #[test]
    fn reads_zipmaps() {
        let zm = [
            2, 1, b'a', 1, 0, b'x', 2, b'b', b'c', 2, 1, b'y', b'z', 0, 0xFF,
        ];
        let got = zipmap_pairs(&zm).unwrap();
        assert_eq!(
            got,
            vec![
                (b"a".to_vec(), b"x".to_vec()),
                (b"bc".to_vec(), b"yz".to_vec())
            ]
        );
        for i in 0..zm.len() {
            let _ = zipmap_pairs(&zm[..i]);
        }
    }

    #[test]
    fn refuses_long_lengths_for_short_strings_and_empty_zipmaps() {
        // "k" -> "val1" with the key's length 1 written in five bytes.
        let long_key = [
            1, 0xFE, 1, 0, 0, 0, b'k', 4, 0, b'v', b'a', b'l', b'1', 0xFF,
        ];
        assert_eq!(zipmap_pairs(&long_key), Err(BAD_ZIPMAP));
        let long_value = [
            1, 1, b'k', 0xFE, 4, 0, 0, 0, 0, b'v', b'a', b'l', b'1', 0xFF,
        ];
        assert_eq!(zipmap_pairs(&long_value), Err(BAD_ZIPMAP));
        let short = [1, 1, b'k', 4, 0, b'v', b'a', b'l', b'1', 0xFF];
        assert_eq!(zipmap_pairs(&short).unwrap().len(), 1);
        assert_eq!(zipmap_pairs(&[0, 0xFF]), Err(BAD_ZIPMAP));
    }
}
