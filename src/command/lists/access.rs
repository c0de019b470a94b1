//! LLEN LRANGE LINDEX LPOS (reads) and LSET LINSERT LREM LTRIM (edits in
//! place).

use super::super::sets::lookup;
use super::super::util::{arg_i64, NOT_INTEGER, NO_SUCH_KEY, OUT_OF_RANGE, SYNTAX, WRONGTYPE};
use super::super::{Class, Ctx};
use super::{bulk_value, delete_if_empty};
use crate::store::Value;

/// LLEN key
pub(super) fn llen(ctx: &mut Ctx, args: &[&[u8]]) {
    let (out, e) = lookup(ctx, args[1], true);
    match e.map(|e| &e.value) {
        None => out.int(0),
        Some(Value::List(l)) => out.int(l.len() as i64),
        Some(_) => out.error(WRONGTYPE),
    }
}

/// Clamps Redis's `start`/`end` (negative from the tail) to the list:
/// None when the range is empty.
fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    start = start.max(0);
    if start > end || start >= len {
        return None;
    }
    end = end.min(len - 1);
    Some((start as usize, end as usize))
}

/// Both integer arguments of LRANGE/LTRIM, or NOT_INTEGER.
fn two_ints(ctx: &mut Ctx, a: &[u8], b: &[u8]) -> Option<(i64, i64)> {
    match (arg_i64(a), arg_i64(b)) {
        (Some(x), Some(y)) => Some((x, y)),
        _ => {
            ctx.out.error(NOT_INTEGER);
            None
        }
    }
}

/// LRANGE key start stop
pub(super) fn lrange(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some((start, end)) = two_ints(ctx, args[2], args[3]) else {
        return;
    };
    let (out, e) = lookup(ctx, args[1], true);
    let l = match e.map(|e| &e.value) {
        None => return out.array(0),
        Some(Value::List(l)) => l,
        Some(_) => return out.error(WRONGTYPE),
    };
    match clamp_range(start, end, l.len()) {
        None => out.array(0),
        Some((s, e)) => {
            out.array(e - s + 1);
            l.for_range(s, e, |v| bulk_value(out, v));
        }
    }
}

/// LINDEX key index
pub(super) fn lindex(ctx: &mut Ctx, args: &[&[u8]]) {
    let (out, e) = lookup(ctx, args[1], true);
    let l = match e.map(|e| &e.value) {
        None => return out.null(),
        Some(Value::List(l)) => l,
        Some(_) => return out.error(WRONGTYPE),
    };
    let Some(index) = arg_i64(args[2]) else {
        return out.error(NOT_INTEGER);
    };
    match l.get(index) {
        Some(v) => bulk_value(out, v),
        None => out.null(),
    }
}

/// LSET key index element
pub(super) fn lset(ctx: &mut Ctx, args: &[&[u8]]) {
    let limits = ctx.limits;
    let (out, e) = lookup(ctx, args[1], false);
    let l = match e.map(|e| &mut e.value) {
        None => return out.error(NO_SUCH_KEY),
        Some(Value::List(l)) => l,
        Some(_) => return out.error(WRONGTYPE),
    };
    let Some(index) = arg_i64(args[2]) else {
        return out.error(NOT_INTEGER);
    };
    if !l.set(index, args[3], &limits.encodings) {
        return out.error(OUT_OF_RANGE);
    }
    out.ok();
    ctx.dirty += 1;
    ctx.notify(Class::List, "lset", args[1]);
}

/// LINSERT key BEFORE|AFTER pivot element: the new length, -1 when the
/// pivot is absent, 0 for a missing key.
pub(super) fn linsert(ctx: &mut Ctx, args: &[&[u8]]) {
    let after = if args[2].eq_ignore_ascii_case(b"after") {
        true
    } else if args[2].eq_ignore_ascii_case(b"before") {
        false
    } else {
        return ctx.out.error(SYNTAX);
    };
    let limits = ctx.limits;
    let (out, e) = lookup(ctx, args[1], false);
    let l = match e.map(|e| &mut e.value) {
        None => return out.int(0),
        Some(Value::List(l)) => l,
        Some(_) => return out.error(WRONGTYPE),
    };
    if !l.insert(args[3], after, args[4], &limits.encodings) {
        return out.int(-1);
    }
    out.int(l.len() as i64);
    ctx.dirty += 1;
    ctx.notify(Class::List, "linsert", args[1]);
}

/// LREM key count element
pub(super) fn lrem(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(count) = arg_i64(args[2]) else {
        return ctx.out.error(NOT_INTEGER);
    };
    let (out, e) = lookup(ctx, args[1], false);
    let l = match e.map(|e| &mut e.value) {
        None => return out.int(0),
        Some(Value::List(l)) => l,
        Some(_) => return out.error(WRONGTYPE),
    };
    let removed = l.remove(args[3], count);
    out.int(removed as i64);
    if removed > 0 {
        ctx.notify(Class::List, "lrem", args[1]);
    }
    delete_if_empty(ctx, args[1]);
    ctx.dirty += removed as u64;
}

/// LTRIM key start stop
pub(super) fn ltrim(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some((start, end)) = two_ints(ctx, args[2], args[3]) else {
        return;
    };
    let (out, e) = lookup(ctx, args[1], false);
    let l = match e.map(|e| &mut e.value) {
        None => return out.ok(),
        Some(Value::List(l)) => l,
        Some(_) => return out.error(WRONGTYPE),
    };
    match clamp_range(start, end, l.len()) {
        None => l.trim(1, 0),
        Some((s, e)) => l.trim(s, e),
    }
    out.ok();
    ctx.notify(Class::List, "ltrim", args[1]);
    delete_if_empty(ctx, args[1]);
    ctx.dirty += 1;
}

/// LPOS's options.
struct LposOpts {
    /// Which match to start from; negative searches from the tail.
    rank: i64,
    /// None: COUNT not given (reply one index); Some(0): all matches.
    count: Option<u64>,
    /// Elements to scan at most; 0: all.
    maxlen: u64,
}

fn parse_lpos(ctx: &mut Ctx, args: &[&[u8]]) -> Option<LposOpts> {
    let mut o = LposOpts {
        rank: 1,
        count: None,
        maxlen: 0,
    };
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        let opt = args[j];
        let num = args.get(j + 1).and_then(|a| arg_i64(a));
        if !more
            || !(opt.eq_ignore_ascii_case(b"rank")
                || opt.eq_ignore_ascii_case(b"count")
                || opt.eq_ignore_ascii_case(b"maxlen"))
        {
            ctx.out.error(SYNTAX);
            return None;
        }
        let is_rank = opt.eq_ignore_ascii_case(b"rank");
        let n = match num {
            Some(n) => n,
            // COUNT and MAXLEN say "can't be negative" for a non-integer.
            None if is_rank => {
                ctx.out.error(NOT_INTEGER);
                return None;
            }
            None => -1,
        };
        if is_rank {
            if n == 0 {
                ctx.out.error(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                );
                return None;
            }
            o.rank = n;
        } else if n < 0 {
            let name = if opt.eq_ignore_ascii_case(b"count") {
                "COUNT"
            } else {
                "MAXLEN"
            };
            ctx.out.error(&format!("ERR {name} can't be negative"));
            return None;
        } else if opt.eq_ignore_ascii_case(b"count") {
            o.count = Some(n as u64);
        } else {
            o.maxlen = n as u64;
        }
        j += 2;
    }
    Some(o)
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
///
/// Without COUNT: the index of the rank-th match or null; with COUNT: an
/// array of up to `count` indexes (all when 0) from the rank-th match on.
/// Indexes always count from the head.
pub(super) fn lpos(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(o) = parse_lpos(ctx, args) else {
        return;
    };
    let (out, e) = lookup(ctx, args[1], true);
    let l = match e.map(|e| &e.value) {
        None if o.count.is_some() => return out.array(0),
        None => return out.null(),
        Some(Value::List(l)) => l,
        Some(_) => return out.error(WRONGTYPE),
    };
    let ele = args[2];
    let from_tail = o.rank < 0;
    let skip = o.rank.unsigned_abs() - 1;
    let len = l.len();
    let scan = if o.maxlen == 0 {
        len
    } else {
        (o.maxlen.min(len as u64)) as usize
    };
    let want = match o.count {
        None => 1,
        Some(0) => u64::MAX,
        Some(n) => n,
    };
    let mut hits: Vec<usize> = Vec::new();
    let mut matches = 0u64;
    let mut visit = |i: usize, v: crate::store::listpack::LpValue<'_>| -> bool {
        if v.eq_bytes(ele) {
            matches += 1;
            if matches > skip {
                hits.push(if from_tail { len - 1 - i } else { i });
                if hits.len() as u64 >= want {
                    return false;
                }
            }
        }
        true
    };
    if from_tail {
        for (i, v) in l.iter_rev().take(scan).enumerate() {
            if !visit(i, v) {
                break;
            }
        }
    } else {
        for (i, v) in l.iter().take(scan).enumerate() {
            if !visit(i, v) {
                break;
            }
        }
    }
    match o.count {
        Some(_) => {
            out.array(hits.len());
            for h in hits {
                out.int(h as i64);
            }
        }
        None => match hits.first() {
            Some(&h) => out.int(h as i64),
            None => out.null(),
        },
    }
}
