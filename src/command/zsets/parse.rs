//! Sorted-set argument parsing as Redis's C code does it (strtod, score and
//! lex ranges), shared with SORT.

use crate::store::zset::{LexBound, LexRange, ScoreRange};

/// C's `isspace` in the "C" locale.
#[inline]
pub(super) fn c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// C's `strtod`: parses the longest valid prefix of `s` (after leading
/// spaces), as glibc does: decimal and hexadecimal floats, `inf`,
/// `infinity`, `nan`, `nan(...)`. Returns (value, bytes consumed, ERANGE);
/// 0 bytes consumed when there is no number.
pub fn strtod(s: &[u8]) -> (f64, usize, bool) {
    let mut i = 0;
    while i < s.len() && c_space(s[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'-' || s[i] == b'+') {
        neg = s[i] == b'-';
        i += 1;
    }
    let sign = |v: f64| if neg { -v } else { v };
    let rest = &s[i..];
    let starts = |w: &[u8]| rest.len() >= w.len() && rest[..w.len()].eq_ignore_ascii_case(w);
    if starts(b"inf") {
        let n = if starts(b"infinity") { 8 } else { 3 };
        return (sign(f64::INFINITY), i + n, false);
    }
    if starts(b"nan") {
        let mut n = 3;
        if rest.get(3) == Some(&b'(') {
            let close = rest[4..]
                .iter()
                .position(|&c| !(c.is_ascii_alphanumeric() || c == b'_'));
            if let Some(k) = close {
                if rest[4 + k] == b')' {
                    n = 4 + k + 1;
                }
            }
        }
        return (f64::NAN, i + n, false);
    }
    if rest.len() >= 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
        if let Some((v, n, erange)) = strtod_hex(&rest[2..]) {
            return (sign(v), i + 2 + n, erange);
        }
        // "0x" with no hex digits: just the "0".
        return (sign(0.0), i + 1, false);
    }
    // Decimal: digits [. digits] [e [sign] digits]
    let mut j = 0;
    let mut digits = 0;
    let mut nonzero = false;
    while j < rest.len() && rest[j].is_ascii_digit() {
        nonzero |= rest[j] != b'0';
        j += 1;
        digits += 1;
    }
    if j < rest.len() && rest[j] == b'.' {
        j += 1;
        while j < rest.len() && rest[j].is_ascii_digit() {
            nonzero |= rest[j] != b'0';
            j += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return (0.0, 0, false);
    }
    if j < rest.len() && (rest[j] | 0x20) == b'e' {
        let mut k = j + 1;
        if k < rest.len() && (rest[k] == b'+' || rest[k] == b'-') {
            k += 1;
        }
        if k < rest.len() && rest[k].is_ascii_digit() {
            while k < rest.len() && rest[k].is_ascii_digit() {
                k += 1;
            }
            j = k;
        }
    }
    let text = std::str::from_utf8(&rest[..j]).unwrap_or("0");
    // Rust's parser is correctly rounded, like glibc's; it wants digits
    // on at least one side of the point, which we have.
    let v: f64 = text.parse().unwrap_or(0.0);
    let erange = v.is_infinite() || (v == 0.0 && nonzero);
    (sign(v), i + j, erange)
}

/// Hexadecimal float digits after "0x": `h* [. h*] [p [sign] d+]`.
pub(super) fn strtod_hex(s: &[u8]) -> Option<(f64, usize, bool)> {
    let mut mant: u64 = 0;
    let mut exp: i64 = 0;
    let mut j = 0;
    let mut any = false;
    let mut nonzero = false;
    let mut seen_point = false;
    while j < s.len() {
        let c = s[j];
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            b'.' if !seen_point => {
                seen_point = true;
                j += 1;
                continue;
            }
            _ => break,
        };
        any = true;
        nonzero |= d != 0;
        if mant >> 56 == 0 {
            mant = mant * 16 + d as u64;
            if seen_point {
                exp -= 4;
            }
        } else if !seen_point {
            exp += 4;
        }
        j += 1;
    }
    if !any {
        return None;
    }
    if j < s.len() && (s[j] | 0x20) == b'p' {
        let mut k = j + 1;
        let mut eneg = false;
        if k < s.len() && (s[k] == b'+' || s[k] == b'-') {
            eneg = s[k] == b'-';
            k += 1;
        }
        if k < s.len() && s[k].is_ascii_digit() {
            let mut e: i64 = 0;
            while k < s.len() && s[k].is_ascii_digit() {
                e = (e * 10 + (s[k] - b'0') as i64).min(1 << 20);
                k += 1;
            }
            exp += if eneg { -e } else { e };
            j = k;
        }
    }
    let mut v = mant as f64;
    // Scale in steps that stay exact until the result over/underflows.
    let mut e = exp;
    while e > 0 {
        let step = e.min(1000);
        v *= 2f64.powi(step as i32);
        e -= step;
    }
    while e < 0 {
        let step = (-e).min(1000);
        v /= 2f64.powi(step as i32);
        e += step;
    }
    let erange = v.is_infinite() || (v == 0.0 && nonzero);
    Some((v, j, erange))
}

/// A score or float argument as Redis's `getDoubleFromObject`: the whole
/// string must be a number, no leading space, no overflow or underflow to
/// zero, not NaN.
pub fn parse_double(a: &[u8]) -> Option<f64> {
    if a.is_empty() || c_space(a[0]) {
        return None;
    }
    let (v, n, erange) = strtod(a);
    if n != a.len() || v.is_nan() || (erange && (v.is_infinite() || v == 0.0)) {
        return None;
    }
    Some(v)
}

/// The bytes C code sees in an argument: up to the first NUL.
pub(super) fn c_str(a: &[u8]) -> &[u8] {
    match memchr::memchr(0, a) {
        Some(i) => &a[..i],
        None => a,
    }
}

/// One end of a score range (`zslParseRange`): `(` makes it exclusive;
/// strtod must consume the rest; NaN is refused.
pub(super) fn parse_score_bound(a: &[u8]) -> Option<(f64, bool)> {
    let s = c_str(a);
    let (ex, body) = match s.first() {
        Some(b'(') => (true, &s[1..]),
        _ => (false, s),
    };
    let (v, n, _) = strtod(body);
    if n != body.len() || v.is_nan() {
        return None;
    }
    Some((v, ex))
}

pub fn parse_score_range(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
    let (min, minex) = parse_score_bound(min)?;
    let (max, maxex) = parse_score_bound(max)?;
    Some(ScoreRange {
        min,
        max,
        minex,
        maxex,
    })
}

/// One end of a lex range (`zslParseLexRangeItem`).
pub(super) fn parse_lex_bound(a: &[u8]) -> Option<(LexBound, bool)> {
    let end_at_1 = a.len() == 1 || a.get(1) == Some(&0);
    match a.first()? {
        b'+' if end_at_1 => Some((LexBound::Max, true)),
        b'-' if end_at_1 => Some((LexBound::Min, true)),
        b'(' => Some((LexBound::Value(a[1..].to_vec()), true)),
        b'[' => Some((LexBound::Value(a[1..].to_vec()), false)),
        _ => None,
    }
}

pub fn parse_lex_range(min: &[u8], max: &[u8]) -> Option<LexRange> {
    let (min, minex) = parse_lex_bound(min)?;
    let (max, maxex) = parse_lex_bound(max)?;
    Some(LexRange {
        min,
        max,
        minex,
        maxex,
    })
}

pub(super) const NOT_FLOAT_RANGE: &str = "ERR min or max is not a float";
pub(super) const NOT_LEX_RANGE: &str = "ERR min or max not valid string range item";
pub(super) const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";
