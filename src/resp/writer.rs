//! Reply writer for RESP2 and RESP3.
//!
//! Handlers write typed replies; this type chooses the encoding for the
//! client's protocol, e.g. a null is `$-1\r\n` in RESP2 and `_\r\n` in
//! RESP3, a map `*4` (flattened) in RESP2 and `%2` in RESP3.

thread_local! {
    /// This thread's default cap on one buffer's reply bytes.
    static REPLY_CAP: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}

/// Sets the default cap of the buffers [`Out::new`] makes on this thread.
pub fn set_reply_cap(bytes: usize) {
    REPLY_CAP.with(|c| c.set(bytes));
}

/// The default cap on this thread (usize::MAX when never set).
pub fn reply_cap() -> usize {
    REPLY_CAP.with(|c| c.get())
}

/// The bytes of a bulk string of `len` bytes: `$<len>\r\n<bytes>\r\n`.
pub fn bulk_len(len: usize) -> usize {
    let mut digits = 1;
    let mut n = len;
    while n >= 10 {
        n /= 10;
        digits += 1;
    }
    1 + digits + 2 + len + 2
}

/// An output buffer plus the client's protocol version and the most
/// reply bytes it may take.
#[derive(Debug, Clone)]
pub struct Out {
    pub buf: Vec<u8>,
    pub resp3: bool,
    cap: usize,
}

impl Default for Out {
    fn default() -> Self {
        Out::new(false)
    }
}

impl Out {
    /// A buffer under this thread's default cap.
    pub fn new(resp3: bool) -> Self {
        Out {
            buf: Vec::with_capacity(256),
            resp3,
            cap: reply_cap(),
        }
    }

    /// A buffer around `buf`, under this thread's default cap.
    pub fn around(buf: Vec<u8>, resp3: bool) -> Self {
        Out {
            buf,
            resp3,
            cap: reply_cap(),
        }
    }

    /// An empty buffer for more of the same client's replies: its
    /// protocol, and the room its cap leaves (a batch's share run on
    /// another shard stops where the client's own buffer would).
    pub fn part(&self) -> Out {
        Out {
            buf: Vec::with_capacity(256),
            resp3: self.resp3,
            cap: self.room(),
        }
    }

    /// Sets the cap (a connection's own, per client: client_mem.rs).
    pub fn set_cap(&mut self, cap: usize) {
        self.cap = cap;
    }

    /// The reply bytes this buffer may still take before its cap.
    pub fn room(&self) -> usize {
        self.cap.saturating_sub(self.buf.len())
    }

    /// True once the replies passed the cap: a command whose reply size
    /// is the client's choice (a negative RANDMEMBER count, KEYS) stops
    /// there; the connection then closes without sending it.
    #[inline]
    pub fn over_cap(&self) -> bool {
        self.buf.len() > self.cap
    }

    /// `+OK\r\n`
    #[inline]
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// `+<s>\r\n`
    pub fn simple(&mut self, s: &str) {
        self.simple_bytes(s.as_bytes());
    }

    pub fn simple_bytes(&mut self, s: &[u8]) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `-<msg>\r\n`; `msg` carries its own prefix (`ERR`, `WRONGTYPE`, …).
    pub fn error(&mut self, msg: &str) {
        self.error_bytes(msg.as_bytes());
    }

    /// `-<msg>\r\n` for a message that may hold any byte.
    pub fn error_bytes(&mut self, msg: &[u8]) {
        self.buf.push(b'-');
        // Redis replaces newlines so an error stays one line.
        for &c in msg {
            self.buf
                .push(if c == b'\r' || c == b'\n' { b' ' } else { c });
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `:<n>\r\n`
    #[inline]
    pub fn int(&mut self, n: i64) {
        self.buf.push(b':');
        push_i64(&mut self.buf, n);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `$<len>\r\n<bytes>\r\n`
    #[inline]
    pub fn bulk(&mut self, b: &[u8]) {
        self.buf.push(b'$');
        push_i64(&mut self.buf, b.len() as i64);
        self.buf.extend_from_slice(b"\r\n");
        self.buf.extend_from_slice(b);
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn bulk_str(&mut self, s: &str) {
        self.bulk(s.as_bytes());
    }

    /// An integer sent as a bulk string, as Redis does for some replies.
    pub fn bulk_i64(&mut self, n: i64) {
        let mut tmp = Vec::with_capacity(20);
        push_i64(&mut tmp, n);
        self.bulk(&tmp);
    }

    /// Null bulk: `$-1` (RESP2) / `_` (RESP3).
    #[inline]
    pub fn null(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"$-1\r\n");
        }
    }

    /// Null array: `*-1` (RESP2) / `_` (RESP3).
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"*-1\r\n");
        }
    }

    /// `*<n>\r\n`
    #[inline]
    pub fn array(&mut self, n: usize) {
        self.header(b'*', n);
    }

    /// `%<n>` in RESP3, `*<2n>` in RESP2.
    pub fn map(&mut self, pairs: usize) {
        if self.resp3 {
            self.header(b'%', pairs);
        } else {
            self.header(b'*', pairs * 2);
        }
    }

    /// `~<n>` in RESP3, `*<n>` in RESP2.
    pub fn set(&mut self, n: usize) {
        self.header(if self.resp3 { b'~' } else { b'*' }, n);
    }

    /// `><n>` in RESP3, `*<n>` in RESP2.
    pub fn push(&mut self, n: usize) {
        self.header(if self.resp3 { b'>' } else { b'*' }, n);
    }

    /// `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, v: bool) {
        if self.resp3 {
            self.buf
                .extend_from_slice(if v { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(v as i64);
        }
    }

    /// `,<d>` in RESP3, a bulk string in RESP2 (Redis's `addReplyDouble`).
    pub fn double(&mut self, d: f64) {
        let s = fmt_double(d);
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(s.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }

    /// Verbatim text: `=<len>\r\ntxt:<s>` in RESP3, a bulk in RESP2.
    pub fn verbatim(&mut self, s: &[u8]) {
        if self.resp3 {
            self.buf.push(b'=');
            push_i64(&mut self.buf, s.len() as i64 + 4);
            self.buf.extend_from_slice(b"\r\ntxt:");
            self.buf.extend_from_slice(s);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s);
        }
    }

    fn header(&mut self, prefix: u8, n: usize) {
        self.buf.push(prefix);
        push_i64(&mut self.buf, n as i64);
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn raw(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// Appends the decimal form of `n`.
#[inline]
pub fn push_i64(buf: &mut Vec<u8>, n: i64) {
    if (0..10).contains(&n) {
        buf.push(b'0' + n as u8);
        return;
    }
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    let neg = n < 0;
    let mut v = n.unsigned_abs();
    while v > 0 {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    if neg {
        buf.push(b'-');
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// A double as Redis 7.0 prints it in replies: `%.17g`, with `inf`,
/// `-inf` and `nan` spelled out.
pub fn fmt_double(d: f64) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    fmt_g(d, 17)
}

/// C's `%.<prec>g`.
pub fn fmt_g(d: f64, prec: usize) -> String {
    if !d.is_finite() {
        return fmt_double(d);
    }
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let prec = prec.max(1);
    let exp = format!("{:.*e}", prec - 1, d);
    let (mantissa, e) = exp.split_once('e').unwrap();
    let e: i32 = e.parse().unwrap();
    if e < -4 || e >= prec as i32 {
        let m = trim_zeros(mantissa);
        let sign = if e < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", e.abs())
    } else {
        let decimals = (prec as i32 - 1 - e).max(0) as usize;
        trim_zeros(&format!("{:.*}", decimals, d)).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fmt_g_spells_out_infinities() {
        assert_eq!(fmt_g(f64::INFINITY, 17), "inf");
        assert_eq!(fmt_g(f64::NEG_INFINITY, 17), "-inf");
        assert_eq!(fmt_g(f64::NAN, 17), "nan");
        assert_eq!(fmt_g(1.5, 17), "1.5");
    }

    #[test]
    fn encodings_follow_protocol() {
        let mut o2 = Out::new(false);
        let mut o3 = Out::new(true);
        for o in [&mut o2, &mut o3] {
            o.null();
            o.map(1);
            o.boolean(true);
            o.double(1.5);
        }
        assert_eq!(o2.buf, b"$-1\r\n*2\r\n:1\r\n$3\r\n1.5\r\n");
        assert_eq!(o3.buf, b"_\r\n%1\r\n#t\r\n,1.5\r\n");
    }

    #[test]
    fn bulk_len_is_the_encoded_size() {
        for len in [0, 9, 10, 99, 100, 12345] {
            let mut o = Out::new(false);
            o.bulk(&vec![b'x'; len]);
            assert_eq!(bulk_len(len), o.buf.len(), "{len}");
        }
    }

    #[test]
    fn integers() {
        let mut o = Out::new(false);
        o.int(i64::MIN);
        o.int(0);
        o.int(12345);
        assert_eq!(o.buf, b":-9223372036854775808\r\n:0\r\n:12345\r\n");
    }

    #[test]
    fn doubles_like_printf_g17() {
        assert_eq!(fmt_double(3.0), "3");
        assert_eq!(fmt_double(0.1), "0.10000000000000001");
        assert_eq!(fmt_double(1e20), "1e+20");
        assert_eq!(fmt_double(1.5e-7), "1.4999999999999999e-07");
        assert_eq!(fmt_double(f64::INFINITY), "inf");
    }
}
