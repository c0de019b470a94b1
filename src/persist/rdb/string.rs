//! RDB string encoding (`rdbSaveRawString`, `rdbGenericLoadStringObject`).
//!
//! ```text
//! <len> <bytes>                          plain
//! 0xC0 <i8>                              integer, 8 bits
//! 0xC1 <i16 LE>                          integer, 16 bits
//! 0xC2 <i32 LE>                          integer, 32 bits
//! 0xC3 <clen> <len> <clen LZF bytes>     compressed (see `lzf`)
//! ```
//!
//! Writers try the integer forms for strings of at most 11 characters
//! that are canonical decimal integers, then (with `rdbcompression yes`)
//! LZF for strings longer than 20 bytes when it saves at least 4 bytes,
//! else plain.

use super::length::{write_len, Len};
use super::reader::Reader;
use super::{lzf, RdbError, Result};

const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// The integer encoding of `s` (Redis's `rdbTryIntegerEncoding`), if any.
fn int_encoding(s: &[u8], out: &mut Vec<u8>) -> bool {
    if s.len() > 11 {
        return false;
    }
    let Some(v) = crate::resp::parse_i64(s) else {
        return false;
    };
    // Canonical only: the decimal form must give back the same bytes.
    let mut canon = Vec::with_capacity(20);
    crate::resp::push_i64(&mut canon, v);
    if canon != s {
        return false;
    }
    if let Ok(b) = i8::try_from(v) {
        out.extend_from_slice(&[0xC0 | ENC_INT8, b as u8]);
    } else if let Ok(h) = i16::try_from(v) {
        out.push(0xC0 | ENC_INT16);
        out.extend_from_slice(&h.to_le_bytes());
    } else if let Ok(w) = i32::try_from(v) {
        out.push(0xC0 | ENC_INT32);
        out.extend_from_slice(&w.to_le_bytes());
    } else {
        return false;
    }
    true
}

/// Appends `s` as Redis writes it; `compress` is `rdbcompression`.
pub fn write_string(out: &mut Vec<u8>, s: &[u8], compress: bool) {
    if int_encoding(s, out) {
        return;
    }
    if compress && s.len() > 20 {
        if let Some(c) = lzf::compress(s, s.len() - 4) {
            out.push(0xC0 | ENC_LZF);
            write_len(out, c.len() as u64);
            write_len(out, s.len() as u64);
            out.extend_from_slice(&c);
            return;
        }
    }
    write_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

impl Reader<'_> {
    /// A string in any encoding, as bytes (integers in decimal).
    pub fn string(&mut self) -> Result<Vec<u8>> {
        match self.len_or_special()? {
            Len::Plain(n) => {
                let n = usize::try_from(n).map_err(|_| RdbError("string too long"))?;
                Ok(self.take(n)?.to_vec())
            }
            Len::Special(kind) => {
                let v: i64 = match kind {
                    ENC_INT8 => self.u8()? as i8 as i64,
                    ENC_INT16 => i16::from_le_bytes(self.array()?) as i64,
                    ENC_INT32 => i32::from_le_bytes(self.array()?) as i64,
                    ENC_LZF => return self.lzf_string(),
                    _ => return Err(RdbError("unknown string encoding")),
                };
                let mut s = Vec::with_capacity(11);
                crate::resp::push_i64(&mut s, v);
                Ok(s)
            }
        }
    }

    fn lzf_string(&mut self) -> Result<Vec<u8>> {
        let clen = self.length()?;
        let len = self.length()?;
        let clen = usize::try_from(clen).map_err(|_| RdbError("string too long"))?;
        let data = self.take(clen)?;
        // Redis takes an announced length of 0 as the empty string whatever
        // the data (its decompressor's 0 = error result equals it).
        if len == 0 {
            return Ok(Vec::new());
        }
        // LZF expands at most ~ 264/3 times; refuse absurd announced sizes
        // before allocating.
        if len > (clen as u64).saturating_mul(90) {
            return Err(RdbError("invalid LZF lengths"));
        }
        lzf::decompress(data, len as usize).ok_or(RdbError("invalid LZF compressed string"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_string(&mut out, s, true);
        out
    }

    #[test]
    fn integer_forms() {
        assert_eq!(enc(b"5"), [0xC0, 5]);
        assert_eq!(enc(b"-128"), [0xC0, 0x80]);
        assert_eq!(enc(b"1000"), [0xC1, 0xE8, 0x03]);
        assert_eq!(enc(b"-2147483648"), [0xC2, 0, 0, 0, 0x80]);
        assert_eq!(enc(b"2147483648")[0], 10); // too wide: plain
        assert_eq!(enc(b"01")[0], 2); // not canonical: plain
        for s in [&b"5"[..], b"-128", b"1000", b"-2147483648", b"2147483648"] {
            assert_eq!(Reader::new(&enc(s)).string().unwrap(), s);
        }
    }

    #[test]
    fn compressed_and_plain() {
        let long = vec![b'x'; 100];
        let e = enc(&long);
        assert_eq!(e[0], 0xC3);
        assert_eq!(Reader::new(&e).string().unwrap(), long);
        let mut out = Vec::new();
        write_string(&mut out, &long, false);
        assert_eq!(out[..2], [0x40, 100]);
        assert_eq!(Reader::new(&out).string().unwrap(), long);
        assert!(Reader::new(&[0xC4]).string().is_err());
        // Announced length 0: the empty string, as Redis reads it.
        assert_eq!(
            Reader::new(&[0xC3, 2, 0x40, 0, 0x00, b'a'])
                .string()
                .unwrap(),
            b""
        );
        assert!(Reader::new(&[0xC3, 2, 5, 0x00, b'a']).string().is_err());
    }
}
