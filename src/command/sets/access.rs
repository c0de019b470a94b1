//! Reaching a key's set: the lookup shared with hashes and lists, and the
//! read and write views of a set.

use crate::command::Ctx;
use crate::resp::Out;
use crate::store::set::Set;
use crate::store::{Db, Entry, Value};

/// What a key holds, as a set command sees it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Missing,
    Wrong,
    Found,
}

/// Looks `key` up (a read lookup counts a keyspace hit or miss) and
/// splits the borrow so the caller can reply while holding the entry.
pub(crate) fn lookup<'c>(
    ctx: &'c mut Ctx,
    key: &[u8],
    read: bool,
) -> (&'c mut Out, Option<&'c mut Entry>) {
    let now = ctx.now_ms;
    let access = ctx.access;
    let db = &mut ctx.store.dbs[ctx.db];
    let e = if read {
        db.lookup_read(key, now)
    } else {
        db.lookup(key, now)
    };
    if read {
        if e.is_some() {
            ctx.hits += 1;
        } else {
            ctx.misses += 1;
        }
    }
    let mut e = e;
    if let Some(e) = e.as_deref_mut() {
        access.touch(&mut e.lru, crate::command::shard_random);
    }
    (&mut *ctx.out, e)
}

/// Looks `key` up and tells whether it holds a set.
pub(super) fn set_kind(ctx: &mut Ctx, key: &[u8], read: bool) -> Kind {
    match lookup(ctx, key, read).1 {
        None => Kind::Missing,
        Some(e) if matches!(e.value, Value::Set(_)) => Kind::Found,
        Some(_) => Kind::Wrong,
    }
}

/// The set at `key` in `db`, which a lookup just found (no accounting).
pub(super) fn set_in<'d>(db: &'d Db, key: &[u8], now: u64) -> Option<&'d Set> {
    match &db.peek(key, now)?.value {
        Value::Set(s) => Some(s),
        _ => None,
    }
}

pub(super) fn set_ref<'c>(ctx: &'c Ctx, key: &[u8]) -> Option<&'c Set> {
    set_in(&ctx.store.dbs[ctx.db], key, ctx.now_ms)
}

pub(super) fn set_mut<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Option<&'c mut Set> {
    let now = ctx.now_ms;
    match &mut ctx.store.dbs[ctx.db].lookup(key, now)?.value {
        Value::Set(s) => Some(s),
        _ => None,
    }
}
