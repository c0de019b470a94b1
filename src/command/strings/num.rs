//! Counters: INCR DECR INCRBY DECRBY INCRBYFLOAT.

use super::super::ldouble::LongDouble;
use super::super::util::{arg_i64, NOT_FLOAT, NOT_INTEGER, OVERFLOW, WRONGTYPE};
use super::super::{Class, Ctx};
use crate::store::Value;

/// The current value of a counter, read with `parse`: `Ok(None)` when the
/// key is missing, `Err(())` after replying WRONGTYPE. Looked up for
/// writing (no hit/miss accounting), as `lookupKeyWrite`.
fn current<T>(ctx: &mut Ctx, key: &[u8], parse: impl Fn(&[u8]) -> T) -> Result<Option<T>, ()> {
    match ctx.lookup_write(key).map(|e| e.value.as_str().map(&parse)) {
        None => Ok(None),
        Some(Some(s)) => Ok(Some(s)),
        Some(None) => {
            ctx.out.error(WRONGTYPE);
            Err(())
        }
    }
}

/// Stores a counter's new value, keeping the key's TTL.
fn store(ctx: &mut Ctx, key: &[u8], existed: bool, value: Value) {
    let lru = ctx.lru;
    if existed {
        ctx.db().replace_value(key, value);
    } else {
        ctx.db().set(key, value, lru);
    }
    ctx.dirty += 1;
}

/// INCR key
pub fn incr(ctx: &mut Ctx, args: &[&[u8]]) {
    incr_decr(ctx, args[1], 1);
}

/// DECR key
pub fn decr(ctx: &mut Ctx, args: &[&[u8]]) {
    incr_decr(ctx, args[1], -1);
}

/// INCRBY key increment
pub fn incrby(ctx: &mut Ctx, args: &[&[u8]]) {
    match arg_i64(args[2]) {
        Some(by) => incr_decr(ctx, args[1], by),
        None => ctx.out.error(NOT_INTEGER),
    }
}

/// DECRBY key decrement
pub fn decrby(ctx: &mut Ctx, args: &[&[u8]]) {
    match arg_i64(args[2]) {
        None => ctx.out.error(NOT_INTEGER),
        Some(i64::MIN) => ctx.out.error("ERR decrement would overflow"),
        Some(by) => incr_decr(ctx, args[1], -by),
    }
}

/// Adds `by` to the integer at `key` (0 when missing), as Redis's
/// `incrDecrCommand`.
fn incr_decr(ctx: &mut Ctx, key: &[u8], by: i64) {
    let Ok(cur) = current(ctx, key, arg_i64) else {
        return;
    };
    let old = match cur {
        None => 0,
        Some(Some(v)) => v,
        Some(None) => return ctx.out.error(NOT_INTEGER),
    };
    let Some(new) = old.checked_add(by) else {
        return ctx.out.error(OVERFLOW);
    };
    store(ctx, key, cur.is_some(), Value::from_i64(new));
    ctx.notify(Class::String, "incrby", key);
    ctx.out.int(new);
}

/// INCRBYFLOAT key increment
///
/// Computed in 80-bit `long double` and printed as Redis does (see
/// [`LongDouble`]); the reply is the new value as a bulk string.
pub fn incrbyfloat(ctx: &mut Ctx, args: &[&[u8]]) {
    let key = args[1];
    let Ok(cur) = current(ctx, key, LongDouble::parse) else {
        return;
    };
    let existed = cur.is_some();
    let value = cur.unwrap_or(Some(LongDouble::ZERO));
    let (Some(value), Some(incr)) = (value, LongDouble::parse(args[2])) else {
        return ctx.out.error(NOT_FLOAT);
    };
    let sum = value + incr;
    if !sum.is_finite() {
        return ctx.out.error("ERR increment would produce NaN or Infinity");
    }
    let text = sum.to_human();
    store(ctx, key, existed, Value::from_bytes(text.as_bytes()));
    // Propagated as the value it set, as Redis does: replaying the
    // increment could round differently elsewhere.
    ctx.propagate_as(&[b"SET".as_slice(), key, text.as_bytes(), b"KEEPTTL"]);
    ctx.notify(Class::String, "incrbyfloat", key);
    ctx.out.bulk(text.as_bytes());
}
