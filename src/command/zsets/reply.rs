//! Reply pieces of sorted-set commands: scores, members, range items.

use crate::resp::Out;
use crate::store::listpack::LpValue;

/// A score reply: integral values (the common case) without going
/// through `%.17g` formatting, which prints them the same way.
#[inline]
pub fn out_double(out: &mut Out, s: f64) {
    if s != 0.0 && s.fract() == 0.0 && s.abs() < 1e15 {
        let n = s as i64;
        if out.resp3 {
            out.raw(b",");
            let mut tmp = Vec::with_capacity(20);
            crate::resp::push_i64(&mut tmp, n);
            out.raw(&tmp);
            out.raw(b"\r\n");
        } else {
            out.bulk_i64(n);
        }
    } else {
        out.double(s);
    }
}

#[inline]
pub(super) fn bulk_lp(out: &mut Out, v: LpValue) {
    match v {
        LpValue::Str(s) => out.bulk(s),
        LpValue::Int(n) => out.bulk_i64(n),
    }
}

/// Emits one (member[, score]) item of a range reply: RESP3 nests each
/// pair in an array when scores are given.
#[inline]
pub(super) fn emit(out: &mut Out, m: LpValue, s: f64, withscores: bool) {
    if withscores && out.resp3 {
        out.array(2);
    }
    bulk_lp(out, m);
    if withscores {
        out_double(out, s);
    }
}

/// The array header of a range reply of `n` items.
#[inline]
pub(super) fn range_header(out: &mut Out, n: usize, withscores: bool) {
    out.array(if withscores && !out.resp3 { n * 2 } else { n });
}
