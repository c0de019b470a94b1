//! Incremental request parser.
//!
//! A request is either a RESP array of bulk strings
//!
//! ```text
//! *2\r\n$3\r\nGET\r\n$3\r\nkey\r\n
//! ```
//!
//! or an inline command line (`PING\r\n`, as telnet and redis-benchmark's
//! PING_INLINE send). The parser never copies RESP arguments: it reports
//! their byte ranges inside the read buffer. Inline arguments may contain
//! escapes, so they are unescaped into a scratch buffer instead.

use super::inline::split_inline;
use memchr::memchr;

/// Size limits, checked before anything is allocated.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `proto-max-bulk-len`.
    pub max_bulk_len: usize,
    /// Largest accepted inline request line (Redis: 64 KiB).
    pub max_inline_len: usize,
    /// Unauthenticated clients get tighter limits, as in Redis.
    pub authenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_inline_len: 64 * 1024,
            authenticated: true,
        }
    }
}

/// A malformed request. The text follows `-ERR Protocol error: ` and the
/// connection is closed after it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl ProtocolError {
    fn new(msg: impl Into<String>) -> Self {
        ProtocolError(msg.into())
    }
}

/// Result of parsing one request from the front of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A whole request of `consumed` bytes. Arguments were pushed to the
    /// caller's vectors; an empty argument list means "nothing to run"
    /// (an empty line or `*0`).
    Complete { consumed: usize, inline: bool },
    /// More bytes are needed; at least `min_len` in total when known.
    Incomplete { min_len: usize },
}

/// Largest multibulk count Redis accepts (INT_MAX in 7.0) for
/// authenticated clients, and 10 for unauthenticated ones.
const MAX_MULTIBULK: i64 = i32::MAX as i64;
const MAX_UNAUTH_MULTIBULK: i64 = 10;
const MAX_UNAUTH_BULK: i64 = 16384;
/// Redis refuses a `*<n>` or `$<n>` header line longer than this.
const MAX_HEADER_LINE: usize = 64 * 1024;

/// Parses one request from `buf`.
///
/// RESP arguments are pushed to `ranges` as `(start, end)` offsets into
/// `buf`; inline arguments are unescaped onto the end of `scratch` and
/// their ranges refer to `scratch` instead (`Parsed::Complete::inline`
/// tells which). `ranges` is cleared first; `scratch` is not.
pub fn parse_command(
    buf: &[u8],
    limits: &Limits,
    ranges: &mut Vec<(usize, usize)>,
    scratch: &mut Vec<u8>,
) -> Result<Parsed, ProtocolError> {
    ranges.clear();
    if buf.is_empty() {
        return Ok(Parsed::Incomplete { min_len: 1 });
    }
    if buf[0] == b'*' {
        parse_multibulk(buf, limits, ranges)
    } else {
        parse_inline(buf, limits, ranges, scratch)
    }
}

fn parse_inline(
    buf: &[u8],
    limits: &Limits,
    ranges: &mut Vec<(usize, usize)>,
    scratch: &mut Vec<u8>,
) -> Result<Parsed, ProtocolError> {
    let Some(nl) = memchr(b'\n', buf) else {
        if buf.len() > limits.max_inline_len {
            return Err(ProtocolError::new("too big inline request"));
        }
        return Ok(Parsed::Incomplete {
            min_len: buf.len() + 1,
        });
    };
    if nl > limits.max_inline_len {
        return Err(ProtocolError::new("too big inline request"));
    }
    let mut line = &buf[..nl];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    if !split_inline(line, scratch, ranges) {
        return Err(ProtocolError::new("unbalanced quotes in request"));
    }
    Ok(Parsed::Complete {
        consumed: nl + 1,
        inline: true,
    })
}

/// Reads `<prefix><integer>\r\n` at `pos`; returns (value, next position),
/// or None when the line is not complete yet.
fn read_header_int(buf: &[u8], pos: usize) -> Result<Option<(i64, usize)>, ()> {
    let Some(rel) = memchr(b'\r', &buf[pos..]) else {
        if buf.len() - pos > MAX_HEADER_LINE {
            return Err(());
        }
        return Ok(None);
    };
    let end = pos + rel;
    if end + 1 >= buf.len() {
        return Ok(None);
    }
    match parse_i64(&buf[pos + 1..end]) {
        Some(v) => Ok(Some((v, end + 2))),
        None => Err(()),
    }
}

fn parse_multibulk(
    buf: &[u8],
    limits: &Limits,
    ranges: &mut Vec<(usize, usize)>,
) -> Result<Parsed, ProtocolError> {
    let (count, mut pos) = match read_header_int(buf, 0) {
        Ok(Some(v)) => v,
        Ok(None) => {
            return Ok(Parsed::Incomplete {
                min_len: buf.len() + 1,
            })
        }
        Err(()) if memchr(b'\r', buf).is_none() => {
            return Err(ProtocolError::new("too big mbulk count string"))
        }
        Err(()) => return Err(ProtocolError::new("invalid multibulk length")),
    };
    if count > MAX_MULTIBULK {
        return Err(ProtocolError::new("invalid multibulk length"));
    }
    if !limits.authenticated && count > MAX_UNAUTH_MULTIBULK {
        return Err(ProtocolError::new("unauthenticated multibulk length"));
    }
    if count <= 0 {
        return Ok(Parsed::Complete {
            consumed: pos,
            inline: false,
        });
    }
    // Reserve modestly: the count is client-controlled.
    ranges.reserve((count as usize).min(1024));
    for _ in 0..count {
        if pos >= buf.len() {
            return Ok(Parsed::Incomplete { min_len: pos + 1 });
        }
        if buf[pos] != b'$' {
            let got = buf[pos] as char;
            return Err(ProtocolError(format!("expected '$', got '{got}'")));
        }
        let (len, data_start) = match read_header_int(buf, pos) {
            Ok(Some(v)) => v,
            Ok(None) => {
                return Ok(Parsed::Incomplete {
                    min_len: buf.len() + 1,
                })
            }
            Err(()) if memchr(b'\r', &buf[pos..]).is_none() => {
                return Err(ProtocolError::new("too big bulk count string"))
            }
            Err(()) => return Err(ProtocolError::new("invalid bulk length")),
        };
        if len < 0 || len as u64 > limits.max_bulk_len as u64 {
            return Err(ProtocolError::new("invalid bulk length"));
        }
        if !limits.authenticated && len > MAX_UNAUTH_BULK {
            return Err(ProtocolError::new("unauthenticated bulk length"));
        }
        let data_end = data_start + len as usize;
        if data_end + 2 > buf.len() {
            return Ok(Parsed::Incomplete {
                min_len: data_end + 2,
            });
        }
        ranges.push((data_start, data_end));
        pos = data_end + 2;
    }
    Ok(Parsed::Complete {
        consumed: pos,
        inline: false,
    })
}

/// Strict decimal i64 as Redis's `string2ll`: optional '-', no '+', no
/// leading zeros, no spaces, no overflow.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let (neg, digits) = if s[0] == b'-' {
        (true, &s[1..])
    } else {
        (false, s)
    };
    if digits.is_empty() || (digits[0] == b'0' && digits.len() > 1) {
        return None;
    }
    if neg && digits == b"0" {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(buf: &[u8]) -> Result<(Parsed, Vec<Vec<u8>>), ProtocolError> {
        let mut ranges = Vec::new();
        let mut scratch = Vec::new();
        let p = parse_command(buf, &Limits::default(), &mut ranges, &mut scratch)?;
        let src = match p {
            Parsed::Complete { inline: true, .. } => &scratch[..],
            _ => buf,
        };
        let args = ranges.iter().map(|&(s, e)| src[s..e].to_vec()).collect();
        Ok((p, args))
    }

    #[test]
    fn multibulk() {
        let (p, args) = parse(b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\nrest").unwrap();
        assert_eq!(
            p,
            Parsed::Complete {
                consumed: 22,
                inline: false
            }
        );
        assert_eq!(args, vec![b"GET".to_vec(), b"key".to_vec()]);
    }

    #[test]
    fn binary_bulk_with_crlf_inside() {
        let (_, args) = parse(b"*1\r\n$4\r\n\r\n\r\n\r\n").unwrap();
        assert_eq!(args, vec![b"\r\n\r\n".to_vec()]);
    }

    #[test]
    fn every_prefix_of_a_request_is_incomplete() {
        let full = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n";
        for cut in 0..full.len() {
            let r = parse(&full[..cut]).unwrap();
            assert!(matches!(r.0, Parsed::Incomplete { .. }), "cut at {cut}");
        }
        assert!(matches!(parse(full).unwrap().0, Parsed::Complete { .. }));
    }

    #[test]
    fn inline_with_quotes() {
        let (p, args) = parse(b"SET \"a b\" 'c\\'d' \"\\x41\\n\"\r\n").unwrap();
        assert!(matches!(p, Parsed::Complete { inline: true, .. }));
        assert_eq!(
            args,
            vec![
                b"SET".to_vec(),
                b"a b".to_vec(),
                b"c'd".to_vec(),
                b"A\n".to_vec()
            ]
        );
    }

    #[test]
    fn protocol_errors_match_redis() {
        assert_eq!(
            parse(b"*abc\r\n").unwrap_err().0,
            "invalid multibulk length"
        );
        assert_eq!(
            parse(b"*1\r\n+x\r\n").unwrap_err().0,
            "expected '$', got '+'"
        );
        assert_eq!(
            parse(b"*1\r\n$-5\r\n").unwrap_err().0,
            "invalid bulk length"
        );
        assert_eq!(
            parse(b"*1\r\n$999999999999\r\n").unwrap_err().0,
            "invalid bulk length"
        );
        assert_eq!(
            parse(b"SET \"a\r\n").unwrap_err().0,
            "unbalanced quotes in request"
        );
    }

    #[test]
    fn oversize_lengths_refused_before_allocation() {
        // A client claims a 2^31-1 element array: refused at once.
        let r = parse(b"*2147483648\r\n");
        assert_eq!(r.unwrap_err().0, "invalid multibulk length");
        let limits = Limits {
            authenticated: false,
            ..Limits::default()
        };
        let mut ranges = Vec::new();
        let e = parse_command(b"*11\r\n", &limits, &mut ranges, &mut Vec::new()).unwrap_err();
        assert_eq!(e.0, "unauthenticated multibulk length");
    }

    #[test]
    fn empty_requests() {
        assert_eq!(parse(b"*0\r\n").unwrap().1.len(), 0);
        assert_eq!(parse(b"\r\n").unwrap().1.len(), 0);
    }

    #[test]
    fn random_and_truncated_input_never_panics() {
        // Deterministic pseudo-random fuzz: the parser must return, not panic.
        let mut seed: u64 = 0x9E3779B97F4A7C15;
        let alphabet = b"*$\r\n0123456789-abc \"'\\x";
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 40) as usize;
            let mut buf = Vec::with_capacity(len);
            let mut s = seed;
            for _ in 0..len {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                buf.push(alphabet[(s >> 33) as usize % alphabet.len()]);
            }
            let _ = parse(&buf);
        }
    }

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64(b"123"), Some(123));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"01"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b"-0"), None);
        assert_eq!(parse_i64(b" 1"), None);
    }
}
