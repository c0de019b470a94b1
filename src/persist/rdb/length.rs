//! RDB length encoding (`rdbSaveLen` / `rdbLoadLenByRef`). The top two
//! bits of the first byte select the form:
//!
//! ```text
//! 00xxxxxx                      6-bit length (0..63)
//! 01xxxxxx yyyyyyyy             14-bit length, big-endian
//! 10000000 <u32 BE>             32-bit length
//! 10000001 <u64 BE>             64-bit length
//! 11xxxxxx                      a specially encoded string follows;
//!                               xxxxxx = kind (see `string`)
//! ```
//!
//! Writers always use the shortest form.

use super::reader::Reader;
use super::{RdbError, Result};

/// What a length prefix announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Len {
    Plain(u64),
    /// `11xxxxxx`: a special string encoding of kind `xxxxxx`.
    Special(u8),
}

/// Appends `n` in the shortest form.
pub fn write_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else if n <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

impl Reader<'_> {
    /// A length or a special-string marker.
    pub fn len_or_special(&mut self) -> Result<Len> {
        let b = self.u8()?;
        Ok(match b >> 6 {
            0 => Len::Plain((b & 0x3F) as u64),
            1 => Len::Plain((((b & 0x3F) as u64) << 8) | self.u8()? as u64),
            3 => Len::Special(b & 0x3F),
            _ => match b {
                0x80 => Len::Plain(u32::from_be_bytes(self.array()?) as u64),
                0x81 => Len::Plain(u64::from_be_bytes(self.array()?)),
                _ => return Err(RdbError("unknown length encoding")),
            },
        })
    }

    /// A plain length.
    pub fn length(&mut self) -> Result<u64> {
        match self.len_or_special()? {
            Len::Plain(n) => Ok(n),
            Len::Special(_) => Err(RdbError("encoded string where a length was expected")),
        }
    }

    /// A count of items that each take at least one more byte: refused
    /// when the input cannot hold that many, so no huge allocation follows.
    pub fn count(&mut self) -> Result<usize> {
        let n = self.length()?;
        if n > self.remaining() as u64 {
            return Err(RdbError("count larger than the data"));
        }
        Ok(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_roundtrips() {
        for (n, bytes) in [
            (0u64, vec![0x00]),
            (63, vec![0x3F]),
            (64, vec![0x40, 0x40]),
            (16383, vec![0x7F, 0xFF]),
            (16384, vec![0x80, 0, 0, 0x40, 0]),
            (u32::MAX as u64 + 1, vec![0x81, 0, 0, 0, 1, 0, 0, 0, 0]),
        ] {
            let mut out = Vec::new();
            write_len(&mut out, n);
            assert_eq!(out, bytes);
            assert_eq!(Reader::new(&out).length().unwrap(), n);
        }
        assert_eq!(
            Reader::new(&[0xC3]).len_or_special().unwrap(),
            Len::Special(3)
        );
        assert!(Reader::new(&[0x82]).length().is_err());
        assert!(Reader::new(&[0x80, 1]).length().is_err());
        assert!(Reader::new(&[]).length().is_err());
    }
}
