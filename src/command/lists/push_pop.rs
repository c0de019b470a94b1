//! LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LMOVE RPOPLPUSH LMPOP.

use super::super::sets::MUST_BE_POSITIVE;
use super::super::util::{arg_i64, SYNTAX, WRONGTYPE};
use super::super::{Class, Ctx};
use super::{list_at, lmove, mpop_reply, pop_count_reply, ListAt};
use crate::store::list::{End, List};
use crate::store::Value;

/// LPUSH key element [element ...]
pub(super) fn lpush(ctx: &mut Ctx, args: &[&[u8]]) {
    push(ctx, args, End::Left, false)
}

/// RPUSH key element [element ...]
pub(super) fn rpush(ctx: &mut Ctx, args: &[&[u8]]) {
    push(ctx, args, End::Right, false)
}

/// LPUSHX key element [element ...]
pub(super) fn lpushx(ctx: &mut Ctx, args: &[&[u8]]) {
    push(ctx, args, End::Left, true)
}

/// RPUSHX key element [element ...]
pub(super) fn rpushx(ctx: &mut Ctx, args: &[&[u8]]) {
    push(ctx, args, End::Right, true)
}

/// Pushes every element in order, replying the new length; `only_existing`
/// (the X forms) replies 0 for a missing key instead of creating it.
fn push(ctx: &mut Ctx, args: &[&[u8]], end: End, only_existing: bool) {
    let key = args[1];
    let limits = &ctx.limits.encodings;
    let now = ctx.now_ms;
    let lru = ctx.lru;
    match ctx.store.dbs[ctx.db].lookup(key, now) {
        Some(e) => {
            e.lru = lru;
            let Value::List(l) = &mut e.value else {
                return ctx.out.error(WRONGTYPE);
            };
            for v in &args[2..] {
                l.push(end, v, limits);
            }
            ctx.out.int(l.len() as i64);
        }
        None if only_existing => return ctx.out.int(0),
        None => {
            let mut l = List::new();
            for v in &args[2..] {
                l.push(end, v, limits);
            }
            ctx.out.int(l.len() as i64);
            ctx.db()
                .set(key, Value::List(crate::store::PackedBox::new(l)), lru);
        }
    }
    ctx.dirty += (args.len() - 2) as u64;
    ctx.notify(Class::List, super::push_event(end), key);
}

/// LPOP key [count]
pub(super) fn lpop(ctx: &mut Ctx, args: &[&[u8]]) {
    pop(ctx, args, End::Left, "lpop")
}

/// RPOP key [count]
pub(super) fn rpop(ctx: &mut Ctx, args: &[&[u8]]) {
    pop(ctx, args, End::Right, "rpop")
}

/// Without count: a bulk string, or null for a missing key. With count:
/// an array (empty for count 0), or a null array for a missing key.
fn pop(ctx: &mut Ctx, args: &[&[u8]], end: End, name: &str) {
    if args.len() > 3 {
        return ctx.out.error(&format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
    }
    let count = match args.get(2) {
        None => None,
        Some(a) => match arg_i64(a) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return ctx.out.error(MUST_BE_POSITIVE),
        },
    };
    match list_at(ctx, args[1]) {
        ListAt::Missing if count.is_some() => ctx.out.null_array(),
        ListAt::Missing => ctx.out.null(),
        ListAt::WrongType => ctx.out.error(WRONGTYPE),
        ListAt::List if count == Some(0) => ctx.out.array(0),
        ListAt::List => pop_count_reply(ctx, args[1], end, count),
    }
}

/// `LEFT` / `RIGHT`, else Redis's syntax error.
fn parse_end(ctx: &mut Ctx, a: &[u8]) -> Option<End> {
    let end = End::parse(a);
    if end.is_none() {
        ctx.out.error(SYNTAX);
    }
    end
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
pub(super) fn lmove_cmd(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(from) = parse_end(ctx, args[3]) else {
        return;
    };
    let Some(to) = parse_end(ctx, args[4]) else {
        return;
    };
    if !lmove(ctx, args[1], args[2], from, to) {
        ctx.out.null();
    }
}

/// RPOPLPUSH source destination (LMOVE source destination RIGHT LEFT)
pub(super) fn rpoplpush(ctx: &mut Ctx, args: &[&[u8]]) {
    if !lmove(ctx, args[1], args[2], End::Right, End::Left) {
        ctx.out.null();
    }
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
///
/// Replies `*2 <key> *n <elements>` for the first non-empty list, or a
/// null array when all keys are missing.
pub(super) fn lmpop(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some((keys, end, count)) = parse_mpop(ctx, args, 1) else {
        return;
    };
    if !mpop_reply(ctx, &keys, end, count) {
        ctx.out.null_array();
    }
}

/// Parses `numkeys key [key ...] LEFT|RIGHT [COUNT count]` starting at
/// `numkeys_idx` (1 for LMPOP, 2 for BLMPOP after the timeout), replying
/// Redis's error on failure. Returns the keys, the end and the count
/// (1 when not given).
pub fn parse_mpop<'a>(
    ctx: &mut Ctx,
    args: &[&'a [u8]],
    numkeys_idx: usize,
) -> Option<(Vec<&'a [u8]>, End, usize)> {
    let numkeys = match arg_i64(args[numkeys_idx]) {
        Some(n) if n >= 1 => n as u64,
        _ => {
            ctx.out.error("ERR numkeys should be greater than 0");
            return None;
        }
    };
    let where_idx = (numkeys_idx as u64)
        .saturating_add(numkeys)
        .saturating_add(1);
    if where_idx >= args.len() as u64 {
        ctx.out.error(SYNTAX);
        return None;
    }
    let where_idx = where_idx as usize;
    let end = parse_end(ctx, args[where_idx])?;
    let mut count = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        let more = j + 1 < args.len();
        if count.is_none() && more && args[j].eq_ignore_ascii_case(b"count") {
            match arg_i64(args[j + 1]) {
                Some(n) if n >= 1 => count = Some(n as usize),
                _ => {
                    ctx.out.error("ERR count should be greater than 0");
                    return None;
                }
            }
            j += 2;
        } else {
            ctx.out.error(SYNTAX);
            return None;
        }
    }
    let keys = args[numkeys_idx + 1..where_idx].to_vec();
    Some((keys, end, count.unwrap_or(1)))
}
