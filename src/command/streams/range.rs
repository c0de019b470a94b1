//! XRANGE XREVRANGE XLEN.

use super::id::interval;
use super::reply;
use crate::command::util::{arg_i64, is, NOT_INTEGER, SYNTAX};
use crate::command::Ctx;
use crate::store::stream::StreamId;

pub(super) fn xlen(ctx: &mut Ctx, args: &[&[u8]]) {
    let s = stream_read!(ctx, args[1], ctx.out.int(0));
    let n = s.len() as i64;
    ctx.out.int(n);
}

pub(super) fn xrange(ctx: &mut Ctx, args: &[&[u8]]) {
    range_generic(ctx, args, false)
}

pub(super) fn xrevrange(ctx: &mut Ctx, args: &[&[u8]]) {
    range_generic(ctx, args, true)
}

/// Bounds `(start, end)` of XRANGE-style arguments: an incomplete start
/// has sequence 0, an end u64::MAX; `(` excludes.
pub(super) fn bounds(start: &[u8], end: &[u8]) -> Result<(StreamId, StreamId), &'static str> {
    let (mut s, sx) = interval(start, 0)?;
    if sx {
        s = s.incr().ok_or("ERR invalid start ID for the interval")?;
    }
    let (mut e, ex) = interval(end, u64::MAX)?;
    if ex {
        e = e.decr().ok_or("ERR invalid end ID for the interval")?;
    }
    Ok((s, e))
}

fn range_generic(ctx: &mut Ctx, args: &[&[u8]], rev: bool) {
    let (a, b) = if rev {
        (args[3], args[2])
    } else {
        (args[2], args[3])
    };
    let (start, end) = match bounds(a, b) {
        Ok(r) => r,
        Err(e) => return ctx.out.error(e),
    };
    let mut count: Option<u64> = None;
    let mut j = 4;
    while j < args.len() {
        if is(args[j], "count") && j + 1 < args.len() {
            match arg_i64(args[j + 1]) {
                Some(c) => count = Some(c.max(0) as u64),
                None => return ctx.out.error(NOT_INTEGER),
            }
            j += 2;
        } else {
            return ctx.out.error(SYNTAX);
        }
    }
    let s = stream_read!(ctx, args[1], ctx.out.array(0));
    match count {
        Some(0) => ctx.out.null_array(),
        c => reply::range(ctx.out, s, start, end, c.unwrap_or(0), rev),
    }
}
