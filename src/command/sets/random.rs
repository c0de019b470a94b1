//! Random members: SPOP and SRANDMEMBER, with Redis's strategies by count.

use super::access::{lookup, set_in, set_kind, set_mut, set_ref, Kind};
use super::reply::bulk_member;
use super::{MUST_BE_POSITIVE, RANGE_LONG};
use crate::command::util::{arg_i64, NOT_INTEGER, SYNTAX, WRONGTYPE};
use crate::command::{Class, Ctx};
use crate::resp::Out;
use crate::store::set::{Member, Set};
use crate::store::Value;

/// How many times bigger than the count the rest of the set must be for
/// SPOP to pop one by one (Redis's `SPOP_MOVE_STRATEGY_MUL`).
pub(super) const SPOP_MOVE_STRATEGY_MUL: usize = 5;
/// Redis's `SRANDMEMBER_SUB_STRATEGY_MUL`.
pub(super) const SRANDMEMBER_SUB_STRATEGY_MUL: usize = 3;

/// SPOP key [count]
pub(super) fn spop(ctx: &mut Ctx, args: &[&[u8]]) {
    if args.len() == 3 {
        return spop_count(ctx, args);
    }
    if args.len() > 3 {
        return ctx.out.error(SYNTAX);
    }
    let key = args[1];
    let r = ctx.random();
    let (out, e) = lookup(ctx, key, false);
    let Some(e) = e else { return out.null() };
    let Value::Set(s) = &mut e.value else {
        return out.error(WRONGTYPE);
    };
    let i = (r % s.len() as u64) as usize;
    let m = s.remove_at(i);
    out.bulk(&m);
    let emptied = s.is_empty();
    ctx.notify(Class::Set, "spop", key);
    if emptied {
        ctx.db().remove(key);
        ctx.notify(Class::Generic, "del", key);
    }
    ctx.dirty += 1;
    // The member was chosen at random: log which one (as Redis, SREM).
    ctx.propagate_as(&[b"SREM".as_slice(), key, &m]);
}

/// Logs members popped at random as SREMs of at most 1024 members.
pub(super) fn propagate_srem(ctx: &mut Ctx, key: &[u8], members: &[Vec<u8>]) {
    for chunk in members.chunks(1024) {
        let mut args: Vec<&[u8]> = vec![b"SREM", key];
        args.extend(chunk.iter().map(|m| m.as_slice()));
        ctx.propagate_as(&args);
    }
}

pub(super) fn member_bytes(m: Member) -> Vec<u8> {
    match m {
        Member::Int(n) => n.to_string().into_bytes(),
        Member::Str(s) => s.to_vec(),
    }
}

/// A positive count: Redis's `getPositiveLongFromObjectOrReply`.
pub(super) fn positive_count(out: &mut Out, a: &[u8]) -> Option<u64> {
    match arg_i64(a) {
        Some(n) if n >= 0 => Some(n as u64),
        _ => {
            out.error(MUST_BE_POSITIVE);
            None
        }
    }
}

pub(super) fn spop_count(ctx: &mut Ctx, args: &[&[u8]]) {
    let key = args[1];
    let Some(count) = positive_count(ctx.out, args[2]) else {
        return;
    };
    let max = ctx.limits.encodings.set_max_intset_entries;
    match set_kind(ctx, key, false) {
        Kind::Missing => return ctx.out.set(0),
        Kind::Wrong => return ctx.out.error(WRONGTYPE),
        Kind::Found => {}
    }
    if count == 0 {
        return ctx.out.set(0);
    }
    let size = set_ref(ctx, key).map_or(0, |s| s.len()) as u64;
    ctx.dirty += count.min(size);
    ctx.notify(Class::Set, "spop", key);
    if count >= size {
        // The whole set, as a union of one set (so in that set's order),
        // then the key goes.
        ctx.hits += 1;
        let s = set_in(&ctx.store.dbs[ctx.db], key, ctx.now_ms).expect("set");
        let mut all = Set::new_intset();
        for m in s.iter() {
            all.add_member(m, max);
        }
        ctx.out.set(all.len());
        for m in all.iter() {
            bulk_member(ctx.out, m);
        }
        ctx.db().remove(key);
        ctx.notify(Class::Generic, "del", key);
        ctx.propagate_as(&[b"DEL".as_slice(), key]);
        return;
    }
    let count = count as usize;
    let mut popped: Vec<Vec<u8>> = Vec::new();
    let remaining = size as usize - count;
    let mut rng = [0u64; 1];
    if remaining * SPOP_MOVE_STRATEGY_MUL > count {
        ctx.out.set(count);
        for _ in 0..count {
            rng[0] = ctx.random();
            let s = set_mut(ctx, key).expect("set");
            let i = (rng[0] % s.len() as u64) as usize;
            let m = s.remove_at(i);
            ctx.out.bulk(&m);
            if ctx.propagating {
                popped.push(m);
            }
        }
    } else {
        // Move the members that stay into a new set, hand out the rest.
        let mut kept: Option<Set> = None;
        for _ in 0..remaining {
            rng[0] = ctx.random();
            let s = set_mut(ctx, key).expect("set");
            let i = (rng[0] % s.len() as u64) as usize;
            let m = s.remove_at(i);
            let n = kept.get_or_insert_with(|| Set::new_for(&m));
            n.add(&m, max);
        }
        let s = set_in(&ctx.store.dbs[ctx.db], key, ctx.now_ms).expect("set");
        let out = &mut *ctx.out;
        out.set(s.len());
        for m in s.iter() {
            if ctx.propagating {
                popped.push(member_bytes(m));
            }
            bulk_member(out, m);
        }
        let kept = kept.expect("remaining > 0");
        ctx.db()
            .replace_value(key, Value::Set(crate::store::PackedBox::new(kept)));
    }
    propagate_srem(ctx, key, &popped);
}

/// SRANDMEMBER key [count]
pub(super) fn srandmember(ctx: &mut Ctx, args: &[&[u8]]) {
    if args.len() == 3 {
        return srandmember_count(ctx, args);
    }
    if args.len() > 3 {
        return ctx.out.error(SYNTAX);
    }
    let r = ctx.random();
    let (out, e) = lookup(ctx, args[1], true);
    match e.map(|e| &e.value) {
        None => out.null(),
        Some(Value::Set(s)) => bulk_member(out, s.random(r)),
        Some(_) => out.error(WRONGTYPE),
    }
}

pub(super) fn srandmember_count(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(l) = arg_i64(args[2]) else {
        return ctx.out.error(NOT_INTEGER);
    };
    if l == i64::MIN {
        return ctx.out.error(RANGE_LONG);
    }
    let (count, uniq) = if l >= 0 {
        (l as u64, true)
    } else {
        (l.unsigned_abs(), false)
    };
    match set_kind(ctx, args[1], true) {
        Kind::Missing => return ctx.out.array(0),
        Kind::Wrong => return ctx.out.error(WRONGTYPE),
        Kind::Found => {}
    }
    if count == 0 {
        return ctx.out.array(0);
    }
    let s = set_in(&ctx.store.dbs[ctx.db], args[1], ctx.now_ms).expect("set");
    let size = s.len();
    let out = &mut *ctx.out;
    if !uniq || count == 1 {
        out.array(count as usize);
        for _ in 0..count {
            if out.over_cap() {
                return;
            }
            bulk_member(out, s.random(crate::command::shard_random()));
        }
        return;
    }
    let count = count as usize;
    if count >= size {
        out.array(size);
        for m in s.iter() {
            bulk_member(out, m);
        }
        return;
    }
    out.array(count);
    if count * SRANDMEMBER_SUB_STRATEGY_MUL > size {
        // Drop random positions until `count` remain.
        let mut pos: Vec<usize> = (0..size).collect();
        while pos.len() > count {
            let i = (crate::command::shard_random() % pos.len() as u64) as usize;
            pos.swap_remove(i);
        }
        for i in pos {
            bulk_member(out, s.at(i));
        }
    } else {
        let mut seen = std::collections::HashSet::with_capacity(count);
        while seen.len() < count {
            let i = (crate::command::shard_random() % size as u64) as usize;
            if seen.insert(i) {
                bulk_member(out, s.at(i));
            }
        }
    }
}
