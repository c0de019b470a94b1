//! Reply pieces: integers and set members as bulk strings.

use crate::resp::Out;
use crate::store::set::Member;

/// An integer as a bulk string, without allocating.
#[inline]
pub(crate) fn bulk_int(out: &mut Out, n: i64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let neg = n < 0;
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if neg {
        out.buf.extend_from_slice(b"$");
        crate::resp::push_i64(&mut out.buf, (buf.len() - i + 1) as i64);
        out.buf.extend_from_slice(b"\r\n-");
    } else {
        out.buf.push(b'$');
        crate::resp::push_i64(&mut out.buf, (buf.len() - i) as i64);
        out.buf.extend_from_slice(b"\r\n");
    }
    out.buf.extend_from_slice(&buf[i..]);
    out.buf.extend_from_slice(b"\r\n");
}

#[inline]
pub(super) fn bulk_member(out: &mut Out, m: Member) {
    match m {
        Member::Int(n) => bulk_int(out, n),
        Member::Str(s) => out.bulk(s),
    }
}
