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
//!
//! The checks, their order and their messages are those of Redis 7.0's
//! `processMultibulkBuffer` / `processInlineBuffer`, including how Redis
//! finds line ends: with `strchr`, which stops at a NUL byte, so a NUL
//! before the line end hides it (the request looks unfinished until the
//! buffered bytes pass the inline limit). A partly received request is
//! resumed from where the last call stopped ([`Progress`]), so a request
//! that arrives in many small reads costs linear time, not quadratic.

use super::inline::split_inline;
use memchr::memchr2;

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

/// A malformed request. [`ProtocolError::text`] follows
/// `-ERR Protocol error: `; the connection is closed after it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    TooBigInline,
    UnbalancedQuotes,
    TooBigMultibulkCount,
    InvalidMultibulkLength,
    UnauthenticatedMultibulkLength,
    TooBigBulkCount,
    /// The byte found where a bulk's `$` belongs (sent raw, as Redis's `%c`).
    ExpectedDollar(u8),
    InvalidBulkLength,
    UnauthenticatedBulkLength,
}

impl ProtocolError {
    /// The message bytes, exactly as Redis words them.
    pub fn text(&self) -> Vec<u8> {
        let fixed: &str = match self {
            ProtocolError::TooBigInline => "too big inline request",
            ProtocolError::UnbalancedQuotes => "unbalanced quotes in request",
            ProtocolError::TooBigMultibulkCount => "too big mbulk count string",
            ProtocolError::InvalidMultibulkLength => "invalid multibulk length",
            ProtocolError::UnauthenticatedMultibulkLength => "unauthenticated multibulk length",
            ProtocolError::TooBigBulkCount => "too big bulk count string",
            ProtocolError::ExpectedDollar(got) => {
                let mut v = b"expected '$', got '".to_vec();
                v.push(*got);
                v.push(b'\'');
                return v;
            }
            ProtocolError::InvalidBulkLength => "invalid bulk length",
            ProtocolError::UnauthenticatedBulkLength => "unauthenticated bulk length",
        };
        fixed.as_bytes().to_vec()
    }

    /// The message for logs (a raw byte shown escaped).
    pub fn describe(&self) -> String {
        String::from_utf8_lossy(&self.text()).into_owned()
    }
}

/// Result of parsing one request from the front of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A whole request of `consumed` bytes. Arguments were pushed to the
    /// caller's vectors; an empty argument list means "nothing to run"
    /// (an empty line or `*0`).
    Complete { consumed: usize, inline: bool },
    /// More bytes are needed: at least `need` from the request's start
    /// when the pending element's size is known (a bulk), else one more.
    /// A hint for growing the buffer as data arrives, never a promise
    /// to allocate: the length is the client's claim.
    Incomplete { need: usize },
}

/// The size a buffer of `len` bytes holding a partly received request
/// should grow to, from the request's [`Parsed::Incomplete`] hint: the
/// request's size when a bulk's length made it known and it is past
/// `len`; None when the hint is only "one byte more" (a line is still
/// arriving).
pub fn size_to_hold(need: usize, len: usize) -> Option<usize> {
    (need > len + 1).then_some(need)
}

/// Where a partly received request stands between calls. Offsets are
/// relative to the request's first byte, so the caller may move the
/// request within its buffer; it must pass the same request again (and
/// the same `ranges`) until it is complete. `Progress::default()` starts
/// a new request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Multibulk arguments still expected; 0 before the `*` line is read.
    remaining: usize,
    /// Start of the next element (multibulk) or of the line (inline).
    pos: usize,
    /// How far the search for the current line's end went in vain.
    scanned: usize,
    /// While a bulk's data is arriving: where it starts, and its length.
    bulk: Option<(usize, usize)>,
}

impl Progress {
    /// True when no part of a request has been parsed.
    pub fn is_fresh(&self) -> bool {
        *self == Progress::default()
    }

    /// Where the data of the bulk still arriving starts, and its length
    /// (None between bulks).
    pub fn arriving_bulk(&self) -> Option<(usize, usize)> {
        self.bulk
    }
}

/// Largest multibulk count Redis accepts (INT_MAX in 7.0) for
/// authenticated clients, and 10 for unauthenticated ones.
const MAX_MULTIBULK: i64 = i32::MAX as i64;
const MAX_UNAUTH_MULTIBULK: i64 = 10;
/// Largest bulk an unauthenticated client may announce (Redis's constant).
pub const MAX_UNAUTH_BULK: usize = 16384;
/// Redis refuses a `*<n>` or `$<n>` line longer than this
/// (PROTO_INLINE_MAX_SIZE).
const MAX_HEADER_LINE: usize = 64 * 1024;

/// Parses one request from `buf`, resuming `progress`.
///
/// RESP arguments are pushed to `ranges` as `(start, end)` offsets into
/// `buf`; inline arguments are unescaped onto the end of `scratch` and
/// their ranges refer to `scratch` instead (`Parsed::Complete::inline`
/// tells which). A fresh `progress` clears `ranges`; `scratch` is never
/// cleared. `progress` is reset when the request completes or fails.
pub fn parse_command(
    buf: &[u8],
    limits: &Limits,
    progress: &mut Progress,
    ranges: &mut Vec<(usize, usize)>,
    scratch: &mut Vec<u8>,
) -> Result<Parsed, ProtocolError> {
    if progress.is_fresh() {
        ranges.clear();
    }
    if buf.is_empty() {
        return Ok(Parsed::Incomplete { need: 1 });
    }
    let result = if buf[0] == b'*' {
        parse_multibulk(buf, limits, progress, ranges)
    } else {
        parse_inline(buf, limits, progress, ranges, scratch)
    };
    if !matches!(result, Ok(Parsed::Incomplete { .. })) {
        *progress = Progress::default();
    }
    result
}

/// The end of the line starting at `from` as Redis's `strchr(p, c)` finds
/// it: the first `c`, unless a NUL comes first. `scanned` remembers how
/// far a fruitless search went, so the next call does not search again.
fn line_end(buf: &[u8], from: usize, c: u8, scanned: &mut usize) -> Option<usize> {
    let start = from.max(*scanned);
    match memchr2(c, 0, &buf[start..]) {
        Some(rel) if buf[start + rel] == c => Some(start + rel),
        Some(rel) => {
            // A NUL: nothing after it is ever seen, so stay here.
            *scanned = start + rel;
            None
        }
        None => {
            *scanned = buf.len();
            None
        }
    }
}

fn parse_inline(
    buf: &[u8],
    limits: &Limits,
    progress: &mut Progress,
    ranges: &mut Vec<(usize, usize)>,
    scratch: &mut Vec<u8>,
) -> Result<Parsed, ProtocolError> {
    let Some(nl) = line_end(buf, 0, b'\n', &mut progress.scanned) else {
        if buf.len() > limits.max_inline_len {
            return Err(ProtocolError::TooBigInline);
        }
        return Ok(Parsed::Incomplete {
            need: buf.len() + 1,
        });
    };
    if nl > limits.max_inline_len {
        return Err(ProtocolError::TooBigInline);
    }
    let mut line = &buf[..nl];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    if !split_inline(line, scratch, ranges) {
        return Err(ProtocolError::UnbalancedQuotes);
    }
    Ok(Parsed::Complete {
        consumed: nl + 1,
        inline: true,
    })
}

/// One `<prefix><digits>\r\n` line at `pos`, as Redis reads it: the line
/// ends at the first `\r` (a NUL first hides it) and needs one more byte
/// after it, which is skipped whatever it is. Returns the digits and where
/// the next element starts, `Ok(None)` while incomplete, or `Err(())` when
/// more than 64 KiB are buffered without a line end.
fn header_line<'b>(
    buf: &'b [u8],
    pos: usize,
    scanned: &mut usize,
) -> Result<Option<(&'b [u8], usize)>, ()> {
    match line_end(buf, pos, b'\r', scanned) {
        None if buf.len() - pos > MAX_HEADER_LINE => Err(()),
        None => Ok(None),
        Some(end) if end + 2 > buf.len() => {
            // The `\r` is the last byte: look at it again next time.
            *scanned = end;
            Ok(None)
        }
        // An empty line (`\r` right at `pos`) has no digits.
        Some(end) => Ok(Some((&buf[(pos + 1).min(end)..end], end + 2))),
    }
}

fn parse_multibulk(
    buf: &[u8],
    limits: &Limits,
    progress: &mut Progress,
    ranges: &mut Vec<(usize, usize)>,
) -> Result<Parsed, ProtocolError> {
    let incomplete = Ok(Parsed::Incomplete {
        need: buf.len() + 1,
    });
    if progress.remaining == 0 {
        let (digits, next) = match header_line(buf, 0, &mut progress.scanned) {
            Ok(Some(line)) => line,
            Ok(None) => return incomplete,
            Err(()) => return Err(ProtocolError::TooBigMultibulkCount),
        };
        let count = match parse_i64(digits) {
            Some(n) if n <= MAX_MULTIBULK => n,
            _ => return Err(ProtocolError::InvalidMultibulkLength),
        };
        if !limits.authenticated && count > MAX_UNAUTH_MULTIBULK {
            return Err(ProtocolError::UnauthenticatedMultibulkLength);
        }
        if count <= 0 {
            return Ok(Parsed::Complete {
                consumed: next,
                inline: false,
            });
        }
        // Reserve modestly: the count is the client's claim.
        ranges.reserve((count as usize).min(1024));
        *progress = Progress {
            remaining: count as usize,
            pos: next,
            scanned: next,
            bulk: None,
        };
    }
    while progress.remaining > 0 {
        let pos = progress.pos;
        let (digits, data_start) = match header_line(buf, pos, &mut progress.scanned) {
            Ok(Some(line)) => line,
            Ok(None) => return incomplete,
            Err(()) => return Err(ProtocolError::TooBigBulkCount),
        };
        if buf[pos] != b'$' {
            return Err(ProtocolError::ExpectedDollar(buf[pos]));
        }
        let len = match parse_i64(digits) {
            Some(n) if n >= 0 && n as u64 <= limits.max_bulk_len as u64 => n as usize,
            _ => return Err(ProtocolError::InvalidBulkLength),
        };
        if !limits.authenticated && len > MAX_UNAUTH_BULK {
            return Err(ProtocolError::UnauthenticatedBulkLength);
        }
        // Redis skips the two bytes after the data without looking at them.
        let next = data_start + len + 2;
        if next > buf.len() {
            // Keep `scanned` at the `\r` so the header is not searched
            // again; the data length is known.
            progress.bulk = Some((data_start, len));
            return Ok(Parsed::Incomplete { need: next });
        }
        progress.bulk = None;
        ranges.push((data_start, data_start + len));
        progress.remaining -= 1;
        progress.pos = next;
        progress.scanned = next;
    }
    Ok(Parsed::Complete {
        consumed: progress.pos,
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

    fn parse_with(buf: &[u8], limits: &Limits) -> Result<(Parsed, Vec<Vec<u8>>), ProtocolError> {
        let mut ranges = Vec::new();
        let mut scratch = Vec::new();
        let p = parse_command(
            buf,
            limits,
            &mut Progress::default(),
            &mut ranges,
            &mut scratch,
        )?;
        let src = match p {
            Parsed::Complete { inline: true, .. } => &scratch[..],
            _ => buf,
        };
        let args = ranges.iter().map(|&(s, e)| src[s..e].to_vec()).collect();
        Ok((p, args))
    }

    fn parse(buf: &[u8]) -> Result<(Parsed, Vec<Vec<u8>>), ProtocolError> {
        parse_with(buf, &Limits::default())
    }

    fn err(buf: &[u8]) -> String {
        parse(buf).unwrap_err().describe()
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

    /// Fed one byte at a time with one `Progress`, a request parses to the
    /// same arguments as in one piece, and each byte is looked at about
    /// once (the work stays linear).
    #[test]
    fn resumes_byte_by_byte() {
        let mut full = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n".to_vec();
        full.extend_from_slice(b"SET \"a b\" c\r\n");
        let limits = Limits::default();
        let mut progress = Progress::default();
        let mut ranges = Vec::new();
        let mut scratch = Vec::new();
        let mut start = 0;
        let mut got = Vec::new();
        for end in 1..=full.len() {
            match parse_command(
                &full[start..end],
                &limits,
                &mut progress,
                &mut ranges,
                &mut scratch,
            )
            .unwrap()
            {
                Parsed::Incomplete { .. } => {}
                Parsed::Complete { consumed, inline } => {
                    let src = if inline { &scratch[..] } else { &full[start..] };
                    got.push(
                        ranges
                            .iter()
                            .map(|&(s, e)| src[s..e].to_vec())
                            .collect::<Vec<_>>(),
                    );
                    start += consumed;
                }
            }
        }
        assert_eq!(start, full.len());
        assert_eq!(
            got[0],
            vec![b"SET".to_vec(), b"k".to_vec(), b"value".to_vec()]
        );
        assert_eq!(
            got[1],
            vec![b"SET".to_vec(), b"a b".to_vec(), b"c".to_vec()]
        );
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
        assert_eq!(err(b"*abc\r\n"), "invalid multibulk length");
        assert_eq!(err(b"*1\r\n+x\r\n"), "expected '$', got '+'");
        assert_eq!(err(b"*1\r\n$-5\r\n"), "invalid bulk length");
        assert_eq!(err(b"*1\r\n$999999999999\r\n"), "invalid bulk length");
        assert_eq!(err(b"SET \"a\r\n"), "unbalanced quotes in request");
        assert_eq!(err(b"a \"b\"c\n"), "unbalanced quotes in request");
        // The raw byte is echoed, as Redis's %c.
        assert_eq!(
            parse(b"*1\r\n\xff\r\n").unwrap_err().text(),
            b"expected '$', got '\xff'".to_vec()
        );
    }

    /// Redis looks for the `\r` first and only then at the `$`.
    #[test]
    fn the_dollar_is_checked_once_the_line_is_complete() {
        assert!(matches!(
            parse(b"*1\r\nfoo").unwrap().0,
            Parsed::Incomplete { .. }
        ));
        assert_eq!(err(b"*1\r\nfoo\r\n"), "expected '$', got 'f'");
        // An empty line where a bulk header belongs (found by fuzz_port).
        assert_eq!(
            err(b"*2\r\n$1\r\na\r\n\r\n$1\r\n"),
            "expected '$', got '\r'"
        );
    }

    /// A NUL before the line end hides it, as `strchr` does in Redis: the
    /// request stays incomplete (nothing is allocated for it) until more
    /// than 64 KiB are buffered, then it is too big.
    #[test]
    fn a_nul_hides_the_line_end() {
        for req in [
            &b"\x00\n"[..],
            b"PING\x00\r\n",
            b"a\x00b\r\n",
            b"*1\x00\r\n$4\r\nPING\r\n",
            b"*1\r\n$4\x00\r\nPING\r\n",
        ] {
            let (p, args) = parse(req).unwrap();
            assert!(matches!(p, Parsed::Incomplete { .. }), "{req:?}");
            assert!(args.is_empty());
        }
        let mut big = b"PING\x00\r\n".to_vec();
        big.resize(64 * 1024 + 1, b'x');
        assert_eq!(err(&big), "too big inline request");
        let mut big = b"*1\x00".to_vec();
        big.resize(64 * 1024 + 1, b'x');
        assert_eq!(err(&big), "too big mbulk count string");
        // A NUL inside a bulk's data is just data.
        let (_, args) = parse(b"*1\r\n$3\r\na\x00b\r\n").unwrap();
        assert_eq!(args, vec![b"a\x00b".to_vec()]);
    }

    #[test]
    fn oversize_lengths_refused_before_allocation() {
        // A client claims a 2^31-1 element array: refused at once.
        assert_eq!(err(b"*2147483648\r\n"), "invalid multibulk length");
        let limits = Limits {
            authenticated: false,
            ..Limits::default()
        };
        let e = parse_with(b"*11\r\n", &limits).unwrap_err();
        assert_eq!(e, ProtocolError::UnauthenticatedMultibulkLength);
        let e = parse_with(b"*1\r\n$16385\r\n", &limits).unwrap_err();
        assert_eq!(e, ProtocolError::UnauthenticatedBulkLength);
        // A claimed bulk is only reported as needed, never reserved.
        let (p, _) = parse(b"*1\r\n$536870912\r\nabc").unwrap();
        assert_eq!(
            p,
            Parsed::Incomplete {
                need: 16 + 536870912 + 2
            }
        );
    }

    #[test]
    fn empty_requests() {
        assert_eq!(parse(b"*0\r\n").unwrap().1.len(), 0);
        assert_eq!(parse(b"*-1\r\n").unwrap().1.len(), 0);
        assert_eq!(parse(b"\r\n").unwrap().1.len(), 0);
    }

    #[test]
    fn random_and_truncated_input_never_panics() {
        // Deterministic pseudo-random fuzz: the parser must return, not
        // panic, and never report more arguments than bytes.
        let mut seed: u64 = 0x9E3779B97F4A7C15;
        let alphabet = b"*$\r\n0123456789-abc \"'\\x\x00\x0b";
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
            if let Ok((_, args)) = parse(&buf) {
                assert!(args.len() <= buf.len(), "{buf:?}");
            }
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
