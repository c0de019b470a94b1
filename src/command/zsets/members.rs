//! Per-member reads and removals: ZREM ZCARD ZSCORE ZMSCORE ZRANK
//! ZREVRANK ZCOUNT ZLEXCOUNT.

use super::access::drop_if_empty;
use super::parse::{parse_lex_range, parse_score_range, NOT_FLOAT_RANGE, NOT_LEX_RANGE};
use super::reply::out_double;
use crate::command::{Class, Ctx};

pub(super) fn zrem(ctx: &mut Ctx, args: &[&[u8]]) {
    let key = args[1];
    let z = zset_write!(ctx, key, ctx.out.int(0));
    let mut deleted = 0;
    for m in &args[2..] {
        if z.remove(m) {
            deleted += 1;
        }
        if z.is_empty() {
            break;
        }
    }
    if deleted > 0 {
        ctx.notify(Class::Zset, "zrem", key);
    }
    drop_if_empty(ctx, key);
    ctx.dirty += deleted as u64;
    ctx.out.int(deleted);
}

pub(super) fn zcard(ctx: &mut Ctx, args: &[&[u8]]) {
    let z = zset_read!(ctx, args[1], ctx.out.int(0));
    let n = z.len() as i64;
    ctx.out.int(n);
}

pub(super) fn zscore(ctx: &mut Ctx, args: &[&[u8]]) {
    let z = zset_read!(ctx, args[1], ctx.out.null());
    match z.score(args[2]) {
        Some(s) => out_double(ctx.out, s),
        None => ctx.out.null(),
    }
}

pub(super) fn zmscore(ctx: &mut Ctx, args: &[&[u8]]) {
    let n = args.len() - 2;
    let z = zset_read!(ctx, args[1], {
        ctx.out.array(n);
        for _ in 0..n {
            ctx.out.null();
        }
    });
    ctx.out.array(n);
    for m in &args[2..] {
        match z.score(m) {
            Some(s) => out_double(ctx.out, s),
            None => ctx.out.null(),
        }
    }
}

pub(super) fn zrank(ctx: &mut Ctx, args: &[&[u8]]) {
    zrank_generic(ctx, args, false)
}

pub(super) fn zrevrank(ctx: &mut Ctx, args: &[&[u8]]) {
    zrank_generic(ctx, args, true)
}

pub(super) fn zrank_generic(ctx: &mut Ctx, args: &[&[u8]], rev: bool) {
    let z = zset_read!(ctx, args[1], ctx.out.null());
    match z.rank(args[2]) {
        Some(r) => {
            let r = if rev { z.len() - 1 - r } else { r };
            ctx.out.int(r as i64)
        }
        None => ctx.out.null(),
    }
}

pub(super) fn zcount(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(range) = parse_score_range(args[2], args[3]) else {
        return ctx.out.error(NOT_FLOAT_RANGE);
    };
    let z = zset_read!(ctx, args[1], ctx.out.int(0));
    let (s, e) = z.score_span(&range);
    ctx.out.int((e - s) as i64);
}

pub(super) fn zlexcount(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(range) = parse_lex_range(args[2], args[3]) else {
        return ctx.out.error(NOT_LEX_RANGE);
    };
    let z = zset_read!(ctx, args[1], ctx.out.int(0));
    let (s, e) = z.lex_span(&range, false);
    ctx.out.int((e - s) as i64);
}
