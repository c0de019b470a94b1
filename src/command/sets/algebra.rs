//! SINTER SINTERCARD SINTERSTORE SUNION SUNIONSTORE SDIFF SDIFFSTORE.

use super::access::{set_kind, Kind};
use super::reply::bulk_member;
use crate::command::util::{arg_i64, is, SYNTAX, WRONGTYPE};
use crate::command::{Class, Ctx};
use crate::store::set::{Member, Set};
use crate::store::Value;

/// Looks up the source sets of SINTER/SUNION/SDIFF in order (each a read
/// lookup); None after replying WRONGTYPE. `Some(false)` per missing key.
pub(super) fn check_sources(ctx: &mut Ctx, keys: &[&[u8]]) -> Option<Vec<bool>> {
    let mut present = Vec::with_capacity(keys.len());
    for k in keys {
        match set_kind(ctx, k, true) {
            Kind::Wrong => {
                ctx.out.error(WRONGTYPE);
                return None;
            }
            kind => present.push(kind == Kind::Found),
        }
    }
    Some(present)
}

/// Stores a computed set at `dst` (replacing whatever was there, TTL
/// included), or deletes `dst` when the result is empty; replies the size.
pub(super) fn store_result(ctx: &mut Ctx, dst: &[u8], result: Set, event: &str) {
    let n = result.len();
    if n > 0 {
        let lru = ctx.lru;
        ctx.db()
            .set(dst, Value::Set(crate::store::PackedBox::new(result)), lru);
        ctx.out.int(n as i64);
        ctx.dirty += 1;
        ctx.notify(Class::Set, event, dst);
    } else {
        ctx.out.int(0);
        if ctx.db().remove(dst).is_some() {
            ctx.dirty += 1;
            ctx.notify(Class::Generic, "del", dst);
        }
    }
}

/// SINTER / SINTERSTORE / SINTERCARD.
pub(super) fn sinter_generic(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    dst: Option<&[u8]>,
    card_only: bool,
    limit: usize,
) {
    let Some(present) = check_sources(ctx, keys) else {
        return;
    };
    if present.iter().any(|&p| !p) {
        match dst {
            Some(d) => {
                if ctx.db().remove(d).is_some() {
                    ctx.dirty += 1;
                    ctx.notify(Class::Generic, "del", d);
                }
                ctx.out.int(0);
            }
            None if card_only => ctx.out.int(0),
            None => ctx.out.set(0),
        }
        return;
    }
    let max = ctx.limits.encodings.set_max_intset_entries;
    let db = &ctx.store.dbs[ctx.db];
    let now = ctx.now_ms;
    let mut sets: Vec<&Set> = keys
        .iter()
        .map(|k| match &db.peek(k, now).expect("checked").value {
            Value::Set(s) => &**s,
            _ => unreachable!(),
        })
        .collect();
    sets.sort_by_key(|s| s.len());
    let (first, rest) = sets.split_first().expect("at least one key");
    let hits = first.iter().filter(|m| {
        rest.iter()
            .all(|s| std::ptr::eq(*s, *first) || s.contains_member(*m))
    });
    if card_only {
        let mut n = 0usize;
        for _ in hits {
            n += 1;
            if limit != 0 && n >= limit {
                break;
            }
        }
        ctx.out.int(n as i64);
    } else if let Some(d) = dst {
        let mut result = Set::new_intset();
        for m in hits {
            result.add_member(m, max);
        }
        store_result(ctx, d, result, "sinterstore");
    } else {
        let found: Vec<Member> = hits.collect();
        let out = &mut *ctx.out;
        out.set(found.len());
        for m in found {
            bulk_member(out, m);
        }
    }
}

/// SINTER key [key ...]
pub(super) fn sinter(ctx: &mut Ctx, args: &[&[u8]]) {
    sinter_generic(ctx, &args[1..], None, false, 0);
}

/// SINTERSTORE destination key [key ...]
pub(super) fn sinterstore(ctx: &mut Ctx, args: &[&[u8]]) {
    sinter_generic(ctx, &args[2..], Some(args[1]), false, 0);
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
pub(super) fn sintercard(ctx: &mut Ctx, args: &[&[u8]]) {
    let numkeys = match arg_i64(args[1]) {
        Some(n) if n >= 1 => n as usize,
        _ => return ctx.out.error("ERR numkeys should be greater than 0"),
    };
    if numkeys > args.len() - 2 {
        return ctx
            .out
            .error("ERR Number of keys can't be greater than number of args");
    }
    let mut limit = 0usize;
    let mut j = 2 + numkeys;
    while j < args.len() {
        if is(args[j], "limit") && j + 1 < args.len() {
            j += 1;
            match arg_i64(args[j]) {
                Some(n) if n >= 0 => limit = n as usize,
                _ => return ctx.out.error("ERR LIMIT can't be negative"),
            }
        } else {
            return ctx.out.error(SYNTAX);
        }
        j += 1;
    }
    sinter_generic(ctx, &args[2..2 + numkeys], None, true, limit);
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Union,
    Diff,
}

/// SUNION / SUNIONSTORE / SDIFF / SDIFFSTORE, with Redis's choice of
/// diff algorithm (it decides the encoding of the result).
pub(super) fn sunion_diff(ctx: &mut Ctx, keys: &[&[u8]], dst: Option<&[u8]>, op: Op) {
    let Some(_) = check_sources(ctx, keys) else {
        return;
    };
    let max = ctx.limits.encodings.set_max_intset_entries;
    let now = ctx.now_ms;
    let db = &ctx.store.dbs[ctx.db];
    let mut sets: Vec<Option<&Set>> = keys
        .iter()
        .map(|k| {
            db.peek(k, now).map(|e| match &e.value {
                Value::Set(s) => &**s,
                _ => unreachable!(),
            })
        })
        .collect();
    let sameset = sets[0].is_some()
        && keys[1..]
            .iter()
            .enumerate()
            .any(|(j, k)| *k == keys[0] && sets[j + 1].is_some());
    let mut algo = 1;
    if op == Op::Diff && sets[0].is_some() && !sameset {
        let first = sets[0].map_or(0, |s| s.len()) as i64;
        let (mut one, mut two) = (0i64, 0i64);
        for s in sets.iter().flatten() {
            one += first;
            two += s.len() as i64;
        }
        one /= 2;
        algo = if one <= two { 1 } else { 2 };
        if algo == 1 && sets.len() > 1 {
            sets[1..].sort_by_key(|s| std::cmp::Reverse(s.map_or(0, |s| s.len())));
        }
    }
    let mut result = Set::new_intset();
    match op {
        Op::Union => {
            for s in sets.iter().flatten() {
                for m in s.iter() {
                    result.add_member(m, max);
                }
            }
        }
        Op::Diff if sameset => {}
        Op::Diff => {
            if let Some(first) = sets[0] {
                if algo == 1 {
                    for m in first.iter() {
                        if !sets[1..].iter().flatten().any(|s| s.contains_member(m)) {
                            result.add_member(m, max);
                        }
                    }
                } else {
                    for (j, s) in sets.iter().enumerate() {
                        let Some(s) = s else { continue };
                        for m in s.iter() {
                            if j == 0 {
                                result.add_member(m, max);
                            } else {
                                result.remove_member(m);
                            }
                        }
                        if result.is_empty() {
                            break;
                        }
                    }
                }
            }
        }
    }
    match dst {
        Some(d) => {
            let event = match op {
                Op::Union => "sunionstore",
                Op::Diff => "sdiffstore",
            };
            store_result(ctx, d, result, event)
        }
        None => {
            let out = &mut *ctx.out;
            out.set(result.len());
            for m in result.iter() {
                bulk_member(out, m);
            }
        }
    }
}

/// SUNION key [key ...]
pub(super) fn sunion(ctx: &mut Ctx, args: &[&[u8]]) {
    sunion_diff(ctx, &args[1..], None, Op::Union);
}

/// SUNIONSTORE destination key [key ...]
pub(super) fn sunionstore(ctx: &mut Ctx, args: &[&[u8]]) {
    sunion_diff(ctx, &args[2..], Some(args[1]), Op::Union);
}

/// SDIFF key [key ...]
pub(super) fn sdiff(ctx: &mut Ctx, args: &[&[u8]]) {
    sunion_diff(ctx, &args[1..], None, Op::Diff);
}

/// SDIFFSTORE destination key [key ...]
pub(super) fn sdiffstore(ctx: &mut Ctx, args: &[&[u8]]) {
    sunion_diff(ctx, &args[2..], Some(args[1]), Op::Diff);
}
