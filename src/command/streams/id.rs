//! Parsing stream IDs as Redis 7.0's streamGenericParseIDOrReply: `-`,
//! `+`, `<ms>`, `<ms>-<seq>`, and for XADD `<ms>-*`.

use crate::store::stream::StreamId;

pub const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

/// Redis's string2ull: a strict integer (negative refused), else C's
/// strtoull (leading spaces, a sign, leading zeros; `-n` wraps).
fn parse_u64(s: &[u8]) -> Option<u64> {
    if let Some(n) = crate::resp::parse_i64(s) {
        return u64::try_from(n).ok();
    }
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits = &s[i..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Parses an ID; a missing sequence is `missing_seq`. `strict` refuses
/// `-` and `+`. With `allow_star`, `<ms>-*` gives `(id, false)` (the
/// sequence is to be generated).
pub fn parse(
    a: &[u8],
    missing_seq: u64,
    strict: bool,
    allow_star: bool,
) -> Result<(StreamId, bool), &'static str> {
    if a.len() > 127 {
        return Err(INVALID_ID);
    }
    // C strings end at the first NUL.
    let a = a.split(|&b| b == 0).next().unwrap_or_default();
    match a {
        b"-" | b"+" if strict => return Err(INVALID_ID),
        b"-" => return Ok((StreamId::MIN, true)),
        b"+" => return Ok((StreamId::MAX, true)),
        _ => {}
    }
    let (ms, seq) = match a.iter().position(|&b| b == b'-') {
        Some(i) => (&a[..i], Some(&a[i + 1..])),
        None => (a, None),
    };
    let ms = parse_u64(ms).ok_or(INVALID_ID)?;
    match seq {
        Some(b"*") if allow_star => Ok((StreamId::new(ms, 0), false)),
        Some(s) => Ok((StreamId::new(ms, parse_u64(s).ok_or(INVALID_ID)?), true)),
        None => Ok((StreamId::new(ms, missing_seq), true)),
    }
}

/// A strict ID (no `-`/`+`).
pub fn strict(a: &[u8]) -> Result<StreamId, &'static str> {
    parse(a, 0, true, false).map(|(id, _)| id)
}

/// A range bound: `(` makes it exclusive (then strict). Returns the ID
/// and whether it is exclusive.
pub fn interval(a: &[u8], missing_seq: u64) -> Result<(StreamId, bool), &'static str> {
    if a.len() > 1 && a[0] == b'(' {
        Ok((parse(&a[1..], missing_seq, true, false)?.0, true))
    } else {
        Ok((parse(a, missing_seq, false, false)?.0, false))
    }
}
