//! Membership: SADD SREM SMOVE SISMEMBER SMISMEMBER SCARD SMEMBERS.

use super::access::{lookup, set_kind, set_mut, set_ref, Kind};
use super::reply::bulk_member;
use crate::command::util::WRONGTYPE;
use crate::command::{Class, Ctx};
use crate::store::set::Set;
use crate::store::Value;

/// SADD key member [member ...]
pub(super) fn sadd(ctx: &mut Ctx, args: &[&[u8]]) {
    let key = args[1];
    let max = ctx.limits.encodings.set_max_intset_entries;
    let lru = ctx.lru;
    let (out, e) = lookup(ctx, key, false);
    let added = match e {
        Some(e) => {
            let Value::Set(s) = &mut e.value else {
                return out.error(WRONGTYPE);
            };
            let n = args[2..].iter().filter(|m| s.add(m, max)).count();
            out.int(n as i64);
            n
        }
        None => {
            let mut s = Set::new_for(args[2]);
            let n = args[2..].iter().filter(|m| s.add(m, max)).count();
            out.int(n as i64);
            ctx.db()
                .set(key, Value::Set(crate::store::PackedBox::new(s)), lru);
            n
        }
    };
    ctx.dirty += added as u64;
    if added > 0 {
        ctx.notify(Class::Set, "sadd", key);
    }
}

/// SREM key member [member ...]
pub(super) fn srem(ctx: &mut Ctx, args: &[&[u8]]) {
    let key = args[1];
    let (out, e) = lookup(ctx, key, false);
    let Some(e) = e else { return out.int(0) };
    let Value::Set(s) = &mut e.value else {
        return out.error(WRONGTYPE);
    };
    let mut deleted = 0;
    for m in &args[2..] {
        if s.remove(m) {
            deleted += 1;
            if s.is_empty() {
                break;
            }
        }
    }
    let empty = s.is_empty();
    out.int(deleted);
    if deleted > 0 {
        ctx.notify(Class::Set, "srem", key);
    }
    if empty {
        ctx.db().remove(key);
        ctx.notify(Class::Generic, "del", key);
    }
    ctx.dirty += deleted as u64;
}

/// SMOVE source destination member
pub(super) fn smove(ctx: &mut Ctx, args: &[&[u8]]) {
    let (src, dst, m) = (args[1], args[2], args[3]);
    let max = ctx.limits.encodings.set_max_intset_entries;
    let sk = set_kind(ctx, src, false);
    let dk = set_kind(ctx, dst, false);
    if sk == Kind::Missing {
        return ctx.out.int(0);
    }
    if sk == Kind::Wrong || dk == Kind::Wrong {
        return ctx.out.error(WRONGTYPE);
    }
    if src == dst {
        let is = set_ref(ctx, src).is_some_and(|s| s.contains(m));
        return ctx.out.int(is as i64);
    }
    let s = set_mut(ctx, src).expect("source set");
    if !s.remove(m) {
        return ctx.out.int(0);
    }
    let emptied = s.is_empty();
    ctx.notify(Class::Set, "srem", src);
    if emptied {
        ctx.db().remove(src);
        ctx.notify(Class::Generic, "del", src);
    }
    ctx.dirty += 1;
    let added = match set_mut(ctx, dst) {
        Some(d) => d.add(m, max),
        None => {
            let mut d = Set::new_for(m);
            d.add(m, max);
            let lru = ctx.lru;
            ctx.db()
                .set(dst, Value::Set(crate::store::PackedBox::new(d)), lru);
            true
        }
    };
    if added {
        ctx.dirty += 1;
        ctx.notify(Class::Set, "sadd", dst);
    } else {
        ctx.modified = Some(vec![1]);
    }
    ctx.out.int(1);
}

/// SISMEMBER key member
pub(super) fn sismember(ctx: &mut Ctx, args: &[&[u8]]) {
    let (out, e) = lookup(ctx, args[1], true);
    match e.map(|e| &e.value) {
        None => out.int(0),
        Some(Value::Set(s)) => out.int(s.contains(args[2]) as i64),
        Some(_) => out.error(WRONGTYPE),
    }
}

/// SMISMEMBER key member [member ...]
pub(super) fn smismember(ctx: &mut Ctx, args: &[&[u8]]) {
    let (out, e) = lookup(ctx, args[1], true);
    let s = match e.map(|e| &e.value) {
        None => None,
        Some(Value::Set(s)) => Some(s),
        Some(_) => return out.error(WRONGTYPE),
    };
    out.array(args.len() - 2);
    for m in &args[2..] {
        out.int(s.is_some_and(|s| s.contains(m)) as i64);
    }
}

/// SCARD key
pub(super) fn scard(ctx: &mut Ctx, args: &[&[u8]]) {
    let (out, e) = lookup(ctx, args[1], true);
    match e.map(|e| &e.value) {
        None => out.int(0),
        Some(Value::Set(s)) => out.int(s.len() as i64),
        Some(_) => out.error(WRONGTYPE),
    }
}

/// SMEMBERS key
pub(super) fn smembers(ctx: &mut Ctx, args: &[&[u8]]) {
    let (out, e) = lookup(ctx, args[1], true);
    match e.map(|e| &e.value) {
        None => out.set(0),
        Some(Value::Set(s)) => {
            out.set(s.len());
            for m in s.iter() {
                bulk_member(out, m);
            }
        }
        Some(_) => out.error(WRONGTYPE),
    }
}
