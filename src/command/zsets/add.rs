//! ZADD and ZINCRBY.

use super::parse::parse_double;
use super::reply::out_double;
use crate::command::util::{is, NOT_FLOAT, SYNTAX, WRONGTYPE};
use crate::command::{Class, Ctx};
use crate::store::zset::{AddFlags, AddOutcome, ZSet};
use crate::store::Value;

pub(super) fn zadd(ctx: &mut Ctx, args: &[&[u8]]) {
    zadd_generic(ctx, args, false)
}

pub(super) fn zincrby(ctx: &mut Ctx, args: &[&[u8]]) {
    zadd_generic(ctx, args, true)
}

pub fn zadd_generic(ctx: &mut Ctx, args: &[&[u8]], incr_cmd: bool) {
    let mut f = AddFlags {
        incr: incr_cmd,
        ..Default::default()
    };
    let mut ch = false;
    let mut i = 2;
    while i < args.len() {
        let a = args[i];
        if is(a, "nx") {
            f.nx = true;
        } else if is(a, "xx") {
            f.xx = true;
        } else if is(a, "ch") {
            ch = true;
        } else if is(a, "incr") {
            f.incr = true;
        } else if is(a, "gt") {
            f.gt = true;
        } else if is(a, "lt") {
            f.lt = true;
        } else {
            break;
        }
        i += 1;
    }
    let elements = args.len() - i;
    if elements % 2 == 1 || elements == 0 {
        return ctx.out.error(SYNTAX);
    }
    let elements = elements / 2;
    if f.nx && f.xx {
        return ctx
            .out
            .error("ERR XX and NX options at the same time are not compatible");
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return ctx
            .out
            .error("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if f.incr && elements > 1 {
        return ctx
            .out
            .error("ERR INCR option supports a single increment-element pair");
    }
    let pairs = &args[i..];
    let mut scores = [0f64; 8];
    let mut many = Vec::new();
    let scores: &mut [f64] = if elements <= 8 {
        &mut scores[..elements]
    } else {
        many.resize(elements, 0.0);
        &mut many
    };
    for (j, s) in scores.iter_mut().enumerate() {
        match parse_double(pairs[j * 2]) {
            Some(v) => *s = v,
            None => return ctx.out.error(NOT_FLOAT),
        }
    }
    let key = args[1];
    let lim = &ctx.limits.encodings;
    let now = ctx.now_ms;
    let lru = ctx.lru;
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut score = 0.0;
    let mut nan = false;
    let mut apply = |z: &mut ZSet| {
        for (j, &s) in scores.iter().enumerate() {
            match z.add(pairs[j * 2 + 1], s, f, lim) {
                AddOutcome::Nan => {
                    nan = true;
                    break;
                }
                AddOutcome::Nop => {}
                AddOutcome::Added(v) => {
                    added += 1;
                    processed += 1;
                    score = v;
                }
                AddOutcome::Updated(v) => {
                    updated += 1;
                    processed += 1;
                    score = v;
                }
                AddOutcome::Same(v) => {
                    processed += 1;
                    score = v;
                }
            }
        }
    };
    let db = &mut ctx.store.dbs[ctx.db];
    match db.lookup(key, now) {
        Some(e) => {
            let Value::ZSet(z) = &mut e.value else {
                return ctx.out.error(WRONGTYPE);
            };
            e.lru = lru;
            apply(z);
        }
        None if !f.xx => {
            let mut z = ZSet::for_new_key(pairs[1].len(), lim);
            apply(&mut z);
            if !z.is_empty() {
                db.set(key, Value::ZSet(crate::store::PackedBox::new(z)), lru);
            }
        }
        None => {}
    }
    if nan {
        return ctx.out.error("ERR resulting score is not a number (NaN)");
    }
    ctx.dirty += (added + updated) as u64;
    if added + updated > 0 {
        let event = if f.incr { "zincr" } else { "zadd" };
        ctx.notify(Class::Zset, event, args[1]);
    }
    if f.incr {
        if processed > 0 {
            out_double(ctx.out, score);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out.int(if ch { added + updated } else { added });
    }
}
