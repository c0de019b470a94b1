//! Argument parsing helpers and Redis's shared error strings.

/// `-WRONGTYPE …`
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const SYNTAX: &str = "ERR syntax error";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const OUT_OF_RANGE: &str = "ERR index out of range";

/// An integer argument (Redis's `getLongLongFromObject`).
#[inline]
pub fn arg_i64(a: &[u8]) -> Option<i64> {
    crate::resp::parse_i64(a)
}

/// A float argument as Redis's `getLongDoubleFromObject`/`strtold`:
/// decimal or exponent notation, `inf`/`-inf`; no spaces, no NaN.
pub fn arg_f64(a: &[u8]) -> Option<f64> {
    if a.is_empty() || a[0].is_ascii_whitespace() || a[a.len() - 1].is_ascii_whitespace() {
        return None;
    }
    let s = std::str::from_utf8(a).ok()?;
    let v: f64 = match s.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => s.parse().ok()?,
    };
    if v.is_nan() {
        return None;
    }
    Some(v)
}

/// Case-insensitive comparison of an argument with an option name.
#[inline]
pub fn is(a: &[u8], word: &str) -> bool {
    a.eq_ignore_ascii_case(word.as_bytes())
}

pub use crate::sys::errno::strerror;
