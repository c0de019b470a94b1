//! Key expiry commands: EXPIRE PEXPIRE EXPIREAT PEXPIREAT TTL PTTL
//! EXPIRETIME PEXPIRETIME PERSIST. Their specs are in `keys.rs`.
//!
//! Expiry times are absolute Unix milliseconds in the store. Redis's rules
//! are mirrored: options are parsed before the time, the time may be
//! negative (a time in the past deletes the key, replying 1), and only an
//! overflow of the unit conversion or the base-time addition is an error.

use super::util::{arg_i64, is, NOT_INTEGER};
use super::{Class, Ctx};
use crate::store::Entry;

const NX: u8 = 1;
const XX: u8 = 2;
const GT: u8 = 4;
const LT: u8 = 8;

/// Looks a key up as Redis's `lookupKeyReadWithFlags(LOOKUP_NOTOUCH)`:
/// counts the hit or miss, leaves the access time alone.
pub fn lookup_notouch<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Option<&'c mut Entry> {
    let now = ctx.now_ms;
    match ctx.store.dbs[ctx.db].lookup_read(key, now) {
        Some(e) => {
            ctx.hits += 1;
            Some(e)
        }
        None => {
            ctx.misses += 1;
            None
        }
    }
}

/// Parses `[NX | XX | GT | LT]` from `args[3..]` as
/// `parseExtendedExpireArgumentsOrReply`.
fn parse_flags(args: &[&[u8]]) -> Result<u8, String> {
    let mut flags = 0;
    for opt in &args[3..] {
        flags |= if is(opt, "nx") {
            NX
        } else if is(opt, "xx") {
            XX
        } else if is(opt, "gt") {
            GT
        } else if is(opt, "lt") {
            LT
        } else {
            // `%s` of a C string: stops at the first NUL.
            let shown = opt.split(|&c| c == 0).next().unwrap_or_default();
            return Err(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(shown)
            ));
        };
    }
    if flags & NX != 0 && flags & (XX | GT | LT) != 0 {
        return Err("ERR NX and XX, GT or LT options at the same time are not compatible".into());
    }
    if flags & GT != 0 && flags & LT != 0 {
        return Err("ERR GT and LT options at the same time are not compatible".into());
    }
    Ok(flags)
}

/// The shared body of the four EXPIRE commands: `relative` adds the
/// current time, `seconds` scales the argument by 1000.
fn expire_generic(ctx: &mut Ctx, args: &[&[u8]], name: &str, relative: bool, seconds: bool) {
    let flags = match parse_flags(args) {
        Ok(f) => f,
        Err(e) => return ctx.out.error(&e),
    };
    let Some(mut when) = arg_i64(args[2]) else {
        return ctx.out.error(NOT_INTEGER);
    };
    let invalid = || format!("ERR invalid expire time in '{name}' command");
    if seconds {
        match when.checked_mul(1000) {
            Some(ms) => when = ms,
            None => return ctx.out.error(&invalid()),
        }
    }
    let base = if relative { ctx.now_ms as i64 } else { 0 };
    match when.checked_add(base) {
        Some(at) => when = at,
        None => return ctx.out.error(&invalid()),
    }
    let key = args[1];
    if ctx.lookup_write(key).is_none() {
        return ctx.out.int(0);
    }
    if flags != 0 {
        let current = ctx.db().expire_of(key).map(|at| at as i64);
        let refused = (flags & NX != 0 && current.is_some())
            || (flags & XX != 0 && current.is_none())
            || (flags & GT != 0 && current.is_none_or(|c| when <= c))
            || (flags & LT != 0 && current.is_some_and(|c| when >= c));
        if refused {
            return ctx.out.int(0);
        }
    }
    if when <= ctx.now_ms as i64 {
        // Already in the past: the key goes now, as an explicit DEL (it is
        // not counted as an expired key).
        ctx.db().remove(key);
        ctx.propagate_as(&[b"DEL".as_slice(), key]);
        ctx.notify(Class::Generic, "del", key);
    } else {
        ctx.db().set_expire(key, when as u64);
        ctx.notify(Class::Generic, "expire", key);
        // Logged as an absolute time, so replaying it later means the same.
        ctx.propagate_as(&[b"PEXPIREAT".as_slice(), key, when.to_string().as_bytes()]);
    }
    ctx.dirty += 1;
    ctx.out.int(1);
}

/// EXPIRE key seconds [NX | XX | GT | LT]
pub fn expire(ctx: &mut Ctx, args: &[&[u8]]) {
    expire_generic(ctx, args, "expire", true, true);
}

/// PEXPIRE key milliseconds [NX | XX | GT | LT]
pub fn pexpire(ctx: &mut Ctx, args: &[&[u8]]) {
    expire_generic(ctx, args, "pexpire", true, false);
}

/// EXPIREAT key unix-time-seconds [NX | XX | GT | LT]
pub fn expireat(ctx: &mut Ctx, args: &[&[u8]]) {
    expire_generic(ctx, args, "expireat", false, true);
}

/// PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]
pub fn pexpireat(ctx: &mut Ctx, args: &[&[u8]]) {
    expire_generic(ctx, args, "pexpireat", false, false);
}

/// The shared body of TTL, PTTL, EXPIRETIME and PEXPIRETIME: -2 for a
/// missing key, -1 without a TTL; seconds are rounded to nearest.
fn ttl_generic(ctx: &mut Ctx, args: &[&[u8]], ms: bool, absolute: bool) {
    let key = args[1];
    if lookup_notouch(ctx, key).is_none() {
        return ctx.out.int(-2);
    }
    let Some(at) = ctx.db().expire_of(key) else {
        return ctx.out.int(-1);
    };
    let at = at as i64;
    let t = if absolute {
        at
    } else {
        (at - ctx.now_ms as i64).max(0)
    };
    // Rounded in wide arithmetic: Redis gets the mathematical result
    // even for an expiry near i64::MAX.
    ctx.out.int(if ms {
        t
    } else {
        ((t as i128 + 500) / 1000) as i64
    });
}

/// TTL key
pub fn ttl(ctx: &mut Ctx, args: &[&[u8]]) {
    ttl_generic(ctx, args, false, false);
}

/// PTTL key
pub fn pttl(ctx: &mut Ctx, args: &[&[u8]]) {
    ttl_generic(ctx, args, true, false);
}

/// EXPIRETIME key
pub fn expiretime(ctx: &mut Ctx, args: &[&[u8]]) {
    ttl_generic(ctx, args, false, true);
}

/// PEXPIRETIME key
pub fn pexpiretime(ctx: &mut Ctx, args: &[&[u8]]) {
    ttl_generic(ctx, args, true, true);
}

/// PERSIST key
pub fn persist(ctx: &mut Ctx, args: &[&[u8]]) {
    let key = args[1];
    if ctx.lookup_write(key).is_none() {
        return ctx.out.int(0);
    }
    if ctx.db().persist(key) {
        ctx.dirty += 1;
        ctx.notify(Class::Generic, "persist", key);
        ctx.out.int(1);
    } else {
        ctx.out.int(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv<'a>(v: &[&'a str]) -> Vec<&'a [u8]> {
        v.iter().map(|s| s.as_bytes()).collect()
    }

    #[test]
    fn flag_errors_as_redis() {
        assert_eq!(
            parse_flags(&argv(&["expire", "k", "1", "nx", "gt"])).unwrap_err(),
            "ERR NX and XX, GT or LT options at the same time are not compatible"
        );
        assert_eq!(
            parse_flags(&argv(&["expire", "k", "1", "GT", "lt"])).unwrap_err(),
            "ERR GT and LT options at the same time are not compatible"
        );
        assert_eq!(
            parse_flags(&argv(&["expire", "k", "1", "foo"])).unwrap_err(),
            "ERR Unsupported option foo"
        );
        assert_eq!(
            parse_flags(&argv(&["expire", "k", "1", "Xx", "gt"])).unwrap(),
            XX | GT
        );
    }
}
