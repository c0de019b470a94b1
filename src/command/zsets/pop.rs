//! ZPOPMIN ZPOPMAX ZMPOP, and the pop shared with the blocking forms.

use super::parse::MUST_BE_POSITIVE;
use super::reply::out_double;
use crate::command::util::{arg_i64, is, SYNTAX, WRONGTYPE};
use crate::command::{Class, Ctx};
use crate::store::Value;

pub(super) fn zpopmin(ctx: &mut Ctx, args: &[&[u8]]) {
    zpop_minmax(ctx, args, false)
}

pub(super) fn zpopmax(ctx: &mut Ctx, args: &[&[u8]]) {
    zpop_minmax(ctx, args, true)
}

pub(super) fn zpop_minmax(ctx: &mut Ctx, args: &[&[u8]], max: bool) {
    if args.len() > 3 {
        return ctx.out.error(SYNTAX);
    }
    let mut count = -1i64;
    if args.len() == 3 {
        match arg_i64(args[2]) {
            Some(c) if c >= 0 => count = c,
            _ => return ctx.out.error(MUST_BE_POSITIVE),
        }
    }
    let nested = ctx.out.resp3 && count != -1;
    generic_zpop(ctx, &args[1..2], max, false, count, nested, false);
}

/// Redis's `genericZpopCommand`: pops up to `count` (-1: one, flat) items
/// from the first existing key of `keys`. `emitkey` adds the key name;
/// `nested` nests (member, score) pairs; `nil_when_empty` answers a null
/// array instead of an empty one when no key exists. Returns whether it
/// popped anything.
pub fn generic_zpop(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    max: bool,
    emitkey: bool,
    count: i64,
    nested: bool,
    nil_when_empty: bool,
) -> bool {
    let now = ctx.now_ms;
    let lru = ctx.lru;
    let db = &mut ctx.store.dbs[ctx.db];
    let out = &mut *ctx.out;
    let mut found = None;
    for k in keys {
        if db.lookup(k, now).is_some() {
            found = Some(*k);
            break;
        }
    }
    let Some(key) = found else {
        if nil_when_empty {
            out.null_array();
        } else {
            out.array(0);
        }
        return false;
    };
    let e = db.lookup(key, now).expect("just found");
    let Value::ZSet(z) = &mut e.value else {
        out.error(WRONGTYPE);
        return false;
    };
    e.lru = lru;
    if count == 0 {
        out.array(0);
        return false;
    }
    let count = if count == -1 { 1 } else { count as usize };
    let n = count.min(z.len());
    match (nested, emitkey) {
        (false, false) => out.array(n * 2),
        (true, false) => out.array(n),
        (false, true) => {
            out.array(n * 2 + 1);
            out.bulk(key);
        }
        (true, true) => {
            out.array(2);
            out.bulk(key);
            out.array(n);
        }
    }
    for _ in 0..n {
        z.pop_with(max, |m, s| {
            if nested {
                out.array(2);
            }
            out.bulk(m);
            out_double(out, s);
        });
    }
    let emptied = z.is_empty();
    if emptied {
        db.remove(key);
    }
    ctx.dirty += n as u64;
    if n > 0 {
        ctx.notify(Class::Zset, if max { "zpopmax" } else { "zpopmin" }, key);
    }
    if emptied {
        ctx.notify(Class::Generic, "del", key);
    }
    // ZMPOP and BZMPOP are logged as ZPOPMIN/ZPOPMAX key count (Redis 7.0).
    if nested {
        let pop: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
        let n = n.to_string();
        ctx.propagate_as(&[pop, key, n.as_bytes()]);
    }
    true
}

pub(super) fn zmpop(ctx: &mut Ctx, args: &[&[u8]]) {
    if let Some((keys, max, count)) = parse_mpop(ctx, args, 1) {
        generic_zpop(ctx, keys, max, true, count, true, true);
    }
}

/// `numkeys key [key ...] MIN|MAX [COUNT count]` from `numkeys_idx`.
/// Replies the error and returns None when malformed.
pub fn parse_mpop<'a>(
    ctx: &mut Ctx,
    args: &'a [&'a [u8]],
    numkeys_idx: usize,
) -> Option<(&'a [&'a [u8]], bool, i64)> {
    let numkeys = match arg_i64(args[numkeys_idx]) {
        Some(n) if n >= 1 => n as usize,
        _ => {
            ctx.out.error("ERR numkeys should be greater than 0");
            return None;
        }
    };
    let where_idx = numkeys_idx.saturating_add(numkeys).saturating_add(1);
    if where_idx >= args.len() {
        ctx.out.error(SYNTAX);
        return None;
    }
    let max = if is(args[where_idx], "min") {
        false
    } else if is(args[where_idx], "max") {
        true
    } else {
        ctx.out.error(SYNTAX);
        return None;
    };
    let mut count = -1i64;
    let mut j = where_idx + 1;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if count == -1 && is(args[j], "count") && more > 0 {
            j += 1;
            match arg_i64(args[j]) {
                Some(c) if c >= 1 => count = c,
                _ => {
                    ctx.out.error("ERR count should be greater than 0");
                    return None;
                }
            }
        } else {
            ctx.out.error(SYNTAX);
            return None;
        }
        j += 1;
    }
    if count == -1 {
        count = 1;
    }
    Some((&args[numkeys_idx + 1..where_idx], max, count))
}
