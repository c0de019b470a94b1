//! String commands: GET SET SETNX SETEX PSETEX GETSET GETDEL GETEX MGET
//! MSET MSETNX APPEND STRLEN INCR DECR INCRBY DECRBY INCRBYFLOAT GETRANGE
//! SETRANGE SUBSTR LCS.
//!
//! The specs of the whole family and the GET/SET handlers are here; the
//! counters live in `strings/num.rs`, the range commands (APPEND, STRLEN,
//! GETRANGE, SETRANGE) in `strings/range.rs` and LCS in `strings/lcs.rs`.

mod lcs;
mod num;
mod range;

use super::spec::{Acl, CommandSpec, Cross, Flags, Handler, KeyFlags, KeySpec, Merge};
use super::util::{arg_i64, NOT_INTEGER, SYNTAX, WRONGTYPE};
use super::{Class, Ctx};
use crate::resp::Out;
use crate::store::Value;

const RW_ACCESS_UPDATE: KeyFlags = KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::UPDATE);
const RW_ACCESS_DELETE: KeyFlags = KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::DELETE);
const RW_INSERT: KeyFlags = KeyFlags::RW.with(KeyFlags::INSERT);
const RW_UPDATE: KeyFlags = KeyFlags::RW.with(KeyFlags::UPDATE);
const OW_UPDATE: KeyFlags = KeyFlags::OW.with(KeyFlags::UPDATE);
const OW_INSERT: KeyFlags = KeyFlags::OW.with(KeyFlags::INSERT);
const RO_ACCESS: KeyFlags = KeyFlags::RO.with(KeyFlags::ACCESS);
const RO: KeyFlags = KeyFlags::RO;

const READ_FAST: Acl = Acl::READ.with_bits(Acl::STRING).with_bits(Acl::FAST);
const READ_SLOW: Acl = Acl::READ.with_bits(Acl::STRING).with_bits(Acl::SLOW);
const WRITE_FAST: Acl = Acl::WRITE.with_bits(Acl::STRING).with_bits(Acl::FAST);
const WRITE_SLOW: Acl = Acl::WRITE.with_bits(Acl::STRING).with_bits(Acl::SLOW);
const KEY1_RW_ACCESS_UPDATE: &[KeySpec] = &[KeySpec::single(1, RW_ACCESS_UPDATE)];
const WRITE_DENYOOM_FAST: Flags = Flags::WRITE.with(Flags::DENYOOM).with(Flags::FAST);

const GETRANGE_COMPLEXITY: &str = "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.";

/// A one-key string command: the fields every entry of this family sets.
const fn string_cmd(
    name: &'static str,
    arity: i32,
    flags: Flags,
    acl: Acl,
    keys: &'static [KeySpec],
    handler: fn(&mut Ctx, &[&[u8]]),
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        acl,
        keys,
        handler: Handler::Shard(handler),
        group: "string",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    }
}

/// An integer counter command (INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT).
const fn counter_cmd(
    name: &'static str,
    arity: i32,
    handler: fn(&mut Ctx, &[&[u8]]),
    summary: &'static str,
) -> CommandSpec {
    CommandSpec {
        summary,
        ..string_cmd(
            name,
            arity,
            WRITE_DENYOOM_FAST,
            WRITE_FAST,
            KEY1_RW_ACCESS_UPDATE,
            handler,
        )
    }
}

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        summary: "Get the value of a key",
        ..string_cmd("get", 2, Flags::READONLY.with(Flags::FAST), READ_FAST, &[KeySpec::single(1, RO_ACCESS)], get)
    },
    CommandSpec {
        key_flags: Some(set_key_flags),
        summary: "Set the string value of a key",
        ..string_cmd(
            "set",
            -3,
            Flags::WRITE.with(Flags::DENYOOM),
            WRITE_SLOW,
            &[KeySpec::single(1, KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::UPDATE).with(KeyFlags::VARIABLE_FLAGS))],
            set,
        )
    },
    CommandSpec {
        summary: "Set the value of a key, only if the key does not exist",
        ..string_cmd("setnx", 3, WRITE_DENYOOM_FAST, WRITE_FAST, &[KeySpec::single(1, OW_INSERT)], setnx)
    },
    CommandSpec {
        since: "2.0.0",
        summary: "Set the value and expiration of a key",
        ..string_cmd("setex", 4, Flags::WRITE.with(Flags::DENYOOM), WRITE_SLOW, &[KeySpec::single(1, OW_UPDATE)], setex)
    },
    CommandSpec {
        since: "2.6.0",
        summary: "Set the value and expiration in milliseconds of a key",
        ..string_cmd("psetex", 4, Flags::WRITE.with(Flags::DENYOOM), WRITE_SLOW, &[KeySpec::single(1, OW_UPDATE)], psetex)
    },
    CommandSpec {
        summary: "Set the string value of a key and return its old value",
        ..string_cmd("getset", 3, WRITE_DENYOOM_FAST, WRITE_FAST, KEY1_RW_ACCESS_UPDATE, getset)
    },
    CommandSpec {
        since: "6.2.0",
        summary: "Get the value of a key and delete the key",
        ..string_cmd("getdel", 2, Flags::WRITE.with(Flags::FAST), WRITE_FAST, &[KeySpec::single(1, RW_ACCESS_DELETE)], getdel)
    },
    CommandSpec {
        since: "6.2.0",
        summary: "Get the value of a key and optionally set its expiration",
        ..string_cmd("getex", -2, Flags::WRITE.with(Flags::FAST), WRITE_FAST, KEY1_RW_ACCESS_UPDATE, getex)
    },
    CommandSpec {
        name: "mget",
        arity: -2,
        flags: Flags::READONLY.with(Flags::FAST),
        acl: READ_FAST,
        keys: &[KeySpec::range(1, -1, 1, RO_ACCESS)],
        cross: Cross::Split(Merge::KeyOrder),
        handler: Handler::Shard(mget),
        tips: &["request_policy:multi_shard"],
        group: "string",
        summary: "Get the values of all the given keys",
        complexity: "O(N) where N is the number of keys to retrieve.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "mset",
        arity: -3,
        flags: Flags::WRITE.with(Flags::DENYOOM),
        acl: WRITE_SLOW,
        keys: &[KeySpec::range(1, -1, 2, OW_UPDATE)],
        cross: Cross::Split(Merge::AllOk),
        handler: Handler::Shard(mset),
        tips: &["request_policy:multi_shard", "response_policy:all_succeeded"],
        group: "string",
        since: "1.0.1",
        summary: "Set multiple keys to multiple values",
        complexity: "O(N) where N is the number of keys to set.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "msetnx",
        arity: -3,
        flags: Flags::WRITE.with(Flags::DENYOOM),
        acl: WRITE_SLOW,
        keys: &[KeySpec::range(1, -1, 2, OW_INSERT)],
        cross: Cross::Atomic,
        handler: Handler::Shard(msetnx),
        tips: &["request_policy:multi_shard", "response_policy:agg_min"],
        group: "string",
        since: "1.0.1",
        summary: "Set multiple keys to multiple values, only if none of the keys exist",
        complexity: "O(N) where N is the number of keys to set.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        since: "2.0.0",
        summary: "Append a value to a key",
        complexity: "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.",
        ..string_cmd("append", 3, WRITE_DENYOOM_FAST, WRITE_FAST, &[KeySpec::single(1, RW_INSERT)], range::append)
    },
    CommandSpec {
        since: "2.2.0",
        summary: "Get the length of the value stored in a key",
        ..string_cmd("strlen", 2, Flags::READONLY.with(Flags::FAST), READ_FAST, &[KeySpec::single(1, RO)], range::strlen)
    },
    counter_cmd("incr", 2, num::incr, "Increment the integer value of a key by one"),
    counter_cmd("decr", 2, num::decr, "Decrement the integer value of a key by one"),
    counter_cmd("incrby", 3, num::incrby, "Increment the integer value of a key by the given amount"),
    counter_cmd("decrby", 3, num::decrby, "Decrement the integer value of a key by the given number"),
    CommandSpec {
        since: "2.6.0",
        ..counter_cmd("incrbyfloat", 3, num::incrbyfloat, "Increment the float value of a key by the given amount")
    },
    CommandSpec {
        since: "2.4.0",
        summary: "Get a substring of the string stored at a key",
        complexity: GETRANGE_COMPLEXITY,
        ..string_cmd("getrange", 4, Flags::READONLY, READ_SLOW, &[KeySpec::single(1, RO_ACCESS)], range::getrange)
    },
    CommandSpec {
        since: "2.2.0",
        summary: "Overwrite part of a string at key starting at the specified offset",
        complexity: "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.",
        ..string_cmd("setrange", 4, Flags::WRITE.with(Flags::DENYOOM), WRITE_SLOW, &[KeySpec::single(1, RW_UPDATE)], range::setrange)
    },
    CommandSpec {
        summary: "Get a substring of the string stored at a key",
        complexity: GETRANGE_COMPLEXITY,
        ..string_cmd("substr", 4, Flags::READONLY, READ_SLOW, &[KeySpec::single(1, RO_ACCESS)], range::getrange)
    },
    CommandSpec {
        cross: Cross::Atomic,
        since: "7.0.0",
        summary: "Find longest common substring",
        complexity: "O(N*M) where N and M are the lengths of s1 and s2, respectively",
        ..string_cmd("lcs", -3, Flags::READONLY, READ_SLOW, &[KeySpec::range(1, 1, 1, RO_ACCESS)], lcs::lcs)
    },
];

/// The string at `key`: Ok(None) if missing, Err(()) after replying
/// WRONGTYPE. Copies the value; see [`read_str`] to read it in place.
#[allow(clippy::result_unit_err)]
pub fn read_string(ctx: &mut Ctx, key: &[u8]) -> Result<Option<Vec<u8>>, ()> {
    let (found, _) = read_str(ctx, key);
    found.map(|s| s.map(|s| s.to_vec()))
}

/// Looks `key` up for reading (counting the hit or miss, as
/// `lookupKeyRead`) and hands back the string in place together with the
/// reply buffer, so a handler can reply while reading it. Err(()) after
/// replying WRONGTYPE.
pub fn read_str<'c>(
    ctx: &'c mut Ctx<'_>,
    key: &[u8],
) -> (Result<Option<&'c [u8]>, ()>, &'c mut Out) {
    let (now, access) = (ctx.now_ms, ctx.access);
    let out = &mut *ctx.out;
    let found = match ctx.store.dbs[ctx.db].lookup_read(key, now) {
        None => {
            ctx.misses += 1;
            Ok(None)
        }
        Some(e) => {
            ctx.hits += 1;
            access.touch(&mut e.lru, crate::command::shard_random);
            match e.value.as_str() {
                Some(s) => Ok(Some(s)),
                None => {
                    out.error(WRONGTYPE);
                    Err(())
                }
            }
        }
    };
    (found, out)
}

/// Replies the string at `key`, or null when missing (Redis's
/// `getGenericCommand`). Ok(whether it exists); Err(()) after WRONGTYPE.
fn reply_get(ctx: &mut Ctx, key: &[u8]) -> Result<bool, ()> {
    match read_str(ctx, key) {
        (Err(()), _) => Err(()),
        (Ok(None), out) => {
            out.null();
            Ok(false)
        }
        (Ok(Some(s)), out) => {
            out.bulk(s);
            Ok(true)
        }
    }
}

/// An argument as C's string functions see it: up to its first NUL.
/// Redis matches option names with `strcasecmp`, so `"nx\0junk"` is NX.
pub(crate) fn cstr(a: &[u8]) -> &[u8] {
    match memchr::memchr(0, a) {
        Some(i) => &a[..i],
        None => a,
    }
}

/// Case-insensitive option match, C-string style (see [`cstr`]).
pub(crate) fn opt(a: &[u8], word: &str) -> bool {
    cstr(a).eq_ignore_ascii_case(word.as_bytes())
}

/// GET key
fn get(ctx: &mut Ctx, args: &[&[u8]]) {
    let _ = reply_get(ctx, args[1]);
}

/// How an expiry argument is to be read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// EX seconds (relative)
    Ex,
    /// PX milliseconds (relative)
    Px,
    /// EXAT unix-time-seconds
    ExAt,
    /// PXAT unix-time-milliseconds
    PxAt,
}

/// Options of SET and GETEX, parsed as Redis's
/// `parseExtendedStringArgumentsOrReply`.
#[derive(Default)]
struct ExtOpts<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(Unit, &'a [u8])>,
}

impl<'a> ExtOpts<'a> {
    /// Parses `args[start..]`; `set` selects SET's options (NX XX GET
    /// KEEPTTL) over GETEX's (PERSIST). None means a syntax error.
    fn parse(args: &[&'a [u8]], start: usize, set: bool) -> Option<ExtOpts<'a>> {
        let mut o = ExtOpts::default();
        let mut j = start;
        while j < args.len() {
            let a = args[j];
            let next = args.get(j + 1).copied();
            let unit = o.expire.map(|(u, _)| u);
            let no_expire_but = |allowed: Unit| unit.is_none() || unit == Some(allowed);
            if set && opt(a, "nx") && !o.xx {
                o.nx = true;
            } else if set && opt(a, "xx") && !o.nx {
                o.xx = true;
            } else if set && opt(a, "get") {
                o.get = true;
            } else if set && opt(a, "keepttl") && !o.persist && unit.is_none() {
                o.keepttl = true;
            } else if !set && opt(a, "persist") && unit.is_none() && !o.keepttl {
                o.persist = true;
            } else if let Some(u) =
                Self::unit_of(a).filter(|&u| no_expire_but(u) && !o.keepttl && !o.persist)
            {
                let v = next?;
                o.expire = Some((u, v));
                j += 1;
            } else {
                return None;
            }
            j += 1;
        }
        Some(o)
    }

    fn unit_of(a: &[u8]) -> Option<Unit> {
        [
            ("ex", Unit::Ex),
            ("px", Unit::Px),
            ("exat", Unit::ExAt),
            ("pxat", Unit::PxAt),
        ]
        .into_iter()
        .find(|(w, _)| opt(a, w))
        .map(|(_, u)| u)
    }
}

/// The absolute expiry (Unix ms) of an EX/PX/EXAT/PXAT argument, as
/// Redis's `getExpireMillisecondsOrReply`, or the error to reply.
fn expire_ms(unit: Unit, arg: &[u8], now_ms: u64, cmd: &str) -> Result<u64, String> {
    let n = arg_i64(arg).ok_or_else(|| NOT_INTEGER.to_string())?;
    let seconds = matches!(unit, Unit::Ex | Unit::ExAt);
    let relative = matches!(unit, Unit::Ex | Unit::Px);
    let ms = if n <= 0 || (seconds && n > i64::MAX / 1000) {
        None
    } else {
        let ms = if seconds { n * 1000 } else { n };
        if relative {
            ms.checked_add(now_ms as i64)
        } else {
            Some(ms)
        }
    };
    match ms {
        Some(ms) if ms > 0 => Ok(ms as u64),
        _ => Err(format!("ERR invalid expire time in '{cmd}' command")),
    }
}

/// The expiry of parsed options, if any; None after replying an error.
fn opts_expiry(ctx: &mut Ctx, o: &ExtOpts, cmd: &str) -> Option<Option<u64>> {
    let Some((unit, arg)) = o.expire else {
        return Some(None);
    };
    match expire_ms(unit, arg, ctx.now_ms, cmd) {
        Ok(at) => Some(Some(at)),
        Err(e) => {
            ctx.out.error(&e);
            None
        }
    }
}

/// The replies of the SET variants when the key is written or not.
#[derive(Clone, Copy)]
enum SetReply {
    /// `+OK`, or null when NX/XX prevented the write (SET, SETEX, PSETEX).
    OkNull,
    /// `:1` / `:0` (SETNX).
    OneZero,
}

/// The common part of SET, SETNX, SETEX and PSETEX (Redis 7.0's
/// `setGenericCommand`, after the expiry was validated): GET's reply
/// first, then the NX/XX condition, then the write.
fn set_generic(
    ctx: &mut Ctx,
    key: &[u8],
    value: &[u8],
    o: &ExtOpts,
    when: Option<u64>,
    reply: SetReply,
) {
    if o.get && reply_get(ctx, key).is_err() {
        return;
    }
    let now = ctx.now_ms;
    // Only NX, XX and KEEPTTL need the current key (an expired one must not
    // lend its TTL to KEEPTTL); a plain SET just overwrites, after deleting
    // an expired key as Redis's lookup does (it counts in expired_keys).
    let found = if o.nx || o.xx || o.keepttl {
        ctx.db().contains(key, now)
    } else {
        ctx.db()
            .expire_if_needed(crate::slot::key_slot(key), key, now);
        false
    };
    if (o.nx && found) || (o.xx && !found) {
        if !o.get {
            match reply {
                SetReply::OkNull => ctx.out.null(),
                SetReply::OneZero => ctx.out.int(0),
            }
        }
        return;
    }
    let lru = ctx.lru;
    let db = ctx.db();
    let expire = if when.is_some() {
        when
    } else if o.keepttl {
        db.expire_of(key)
    } else {
        None
    };
    db.set_with_expire(key, Value::from_bytes(value), expire, lru);
    ctx.dirty += 1;
    ctx.notify(Class::String, "set", key);
    if when.is_some() {
        ctx.notify(Class::Generic, "expire", key);
    }
    if let Some(at) = when {
        // Logged with an absolute time (SET ... PXAT), as Redis 7.0 does.
        let at = at.to_string();
        ctx.propagate_as(&[b"SET".as_slice(), key, value, b"PXAT", at.as_bytes()]);
    }
    if !o.get {
        match reply {
            SetReply::OkNull => ctx.out.ok(),
            SetReply::OneZero => ctx.out.int(1),
        }
    }
}

/// SET key value [NX | XX] [GET] [EX seconds | PX milliseconds |
/// EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]
fn set(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(o) = ExtOpts::parse(args, 3, true) else {
        return ctx.out.error(SYNTAX);
    };
    let Some(when) = opts_expiry(ctx, &o, "set") else {
        return;
    };
    set_generic(ctx, args[1], args[2], &o, when, SetReply::OkNull);
    if o.get && when.is_none() {
        // Logged without GET, as Redis 7.0 does: the replica has no
        // reply to give. Redis drops every "get" from the fourth
        // argument on (an expiry already rewrote the whole line).
        let kept: Vec<&[u8]> = args
            .iter()
            .enumerate()
            .filter(|(j, a)| *j < 3 || !a.eq_ignore_ascii_case(b"get"))
            .map(|(_, a)| *a)
            .collect();
        ctx.propagate_as(&kept);
    }
}

/// SETNX key value
fn setnx(ctx: &mut Ctx, args: &[&[u8]]) {
    let o = ExtOpts {
        nx: true,
        ..ExtOpts::default()
    };
    set_generic(ctx, args[1], args[2], &o, None, SetReply::OneZero);
}

/// SETEX key seconds value
fn setex(ctx: &mut Ctx, args: &[&[u8]]) {
    set_with_ttl(ctx, args, Unit::Ex, "setex");
}

/// PSETEX key milliseconds value
fn psetex(ctx: &mut Ctx, args: &[&[u8]]) {
    set_with_ttl(ctx, args, Unit::Px, "psetex");
}

fn set_with_ttl(ctx: &mut Ctx, args: &[&[u8]], unit: Unit, cmd: &str) {
    let when = match expire_ms(unit, args[2], ctx.now_ms, cmd) {
        Ok(at) => at,
        Err(e) => return ctx.out.error(&e),
    };
    set_generic(
        ctx,
        args[1],
        args[3],
        &ExtOpts::default(),
        Some(when),
        SetReply::OkNull,
    );
}

/// GETSET key value
fn getset(ctx: &mut Ctx, args: &[&[u8]]) {
    if reply_get(ctx, args[1]).is_err() {
        return;
    }
    let lru = ctx.lru;
    ctx.db().set(args[1], Value::from_bytes(args[2]), lru);
    ctx.dirty += 1;
    ctx.notify(Class::String, "set", args[1]);
    // Logged as SET, as Redis 7.0 does.
    ctx.propagate_as(&[b"SET".as_slice(), args[1], args[2]]);
}

/// GETDEL key
fn getdel(ctx: &mut Ctx, args: &[&[u8]]) {
    if let Ok(true) = reply_get(ctx, args[1]) {
        ctx.db().remove(args[1]);
        ctx.dirty += 1;
        ctx.notify(Class::Generic, "del", args[1]);
        // Logged as the deletion it is, as Redis 7.0 does.
        let del: &[u8] = if ctx.limits.lazy_user_del {
            b"UNLINK"
        } else {
            b"DEL"
        };
        ctx.propagate_as(&[del, args[1]]);
    }
}

/// GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds |
/// PXAT unix-time-milliseconds | PERSIST]
fn getex(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(o) = ExtOpts::parse(args, 2, false) else {
        return ctx.out.error(SYNTAX);
    };
    let key = args[1];
    let absolute = matches!(o.expire, Some((Unit::ExAt | Unit::PxAt, _)));
    let when = o
        .expire
        .map(|(unit, arg)| expire_ms(unit, arg, ctx.now_ms, "getex"));
    // Missing key or wrong type first, then the expiry's validity.
    match read_str(ctx, key) {
        (Err(()), _) => return,
        (Ok(None), out) => return out.null(),
        (Ok(Some(s)), out) => match &when {
            Some(Err(e)) => return out.error(e),
            _ => out.bulk(s),
        },
    }
    let now = ctx.now_ms;
    if let Some(Ok(at)) = when {
        if absolute && at <= now {
            ctx.db().remove(key);
            ctx.propagate_as(&[b"DEL".as_slice(), key]);
            ctx.notify(Class::Generic, "del", key);
        } else {
            ctx.db().set_expire(key, at);
            ctx.notify(Class::Generic, "expire", key);
            let at = at.to_string();
            ctx.propagate_as(&[b"PEXPIREAT".as_slice(), key, at.as_bytes()]);
        }
        ctx.dirty += 1;
    } else if o.persist && ctx.db().persist(key) {
        ctx.propagate_as(&[b"PERSIST".as_slice(), key]);
        ctx.dirty += 1;
        ctx.notify(Class::Generic, "persist", key);
    }
}

/// MGET key [key ...]
fn mget(ctx: &mut Ctx, args: &[&[u8]]) {
    ctx.out.array(args.len() - 1);
    for key in &args[1..] {
        let (now, access) = (ctx.now_ms, ctx.access);
        match ctx.store.dbs[ctx.db].lookup_read(key, now) {
            None => {
                ctx.misses += 1;
                ctx.out.null();
            }
            Some(e) => {
                ctx.hits += 1;
                access.touch(&mut e.lru, crate::command::shard_random);
                match e.value.as_str() {
                    Some(s) => ctx.out.bulk(s),
                    None => ctx.out.null(),
                }
            }
        }
    }
}

/// MSET key value [key value ...]
fn mset(ctx: &mut Ctx, args: &[&[u8]]) {
    if args.len().is_multiple_of(2) {
        return ctx
            .out
            .error("ERR wrong number of arguments for 'mset' command");
    }
    let lru = ctx.lru;
    for pair in args[1..].chunks(2) {
        drop_if_expired(ctx, pair[0]);
        ctx.db().set(pair[0], Value::from_bytes(pair[1]), lru);
        ctx.dirty += 1;
        ctx.notify(Class::String, "set", pair[0]);
    }
    ctx.out.ok();
}

/// MSETNX key value [key value ...]
fn msetnx(ctx: &mut Ctx, args: &[&[u8]]) {
    if args.len().is_multiple_of(2) {
        return ctx
            .out
            .error("ERR wrong number of arguments for 'msetnx' command");
    }
    let now = ctx.now_ms;
    if args[1..].chunks(2).any(|p| ctx.db().contains(p[0], now)) {
        return ctx.out.int(0);
    }
    let lru = ctx.lru;
    for pair in args[1..].chunks(2) {
        ctx.db().set(pair[0], Value::from_bytes(pair[1]), lru);
        ctx.dirty += 1;
        ctx.notify(Class::String, "set", pair[0]);
    }
    ctx.out.int(1);
}

/// Deletes `key` if its TTL has passed, as the lookup in Redis's `setKey`
/// does before overwriting (so it counts in `expired_keys`).
pub(crate) fn drop_if_expired(ctx: &mut Ctx, key: &[u8]) {
    let now = ctx.now_ms;
    ctx.db()
        .expire_if_needed(crate::slot::key_slot(key), key, now);
}

/// Whether a string of `size` bytes is allowed (Redis's
/// `checkStringLength`); replies the error when not.
pub(crate) fn check_string_length(ctx: &mut Ctx, size: u64) -> bool {
    if size > ctx.limits.proto_max_bulk_len {
        ctx.out
            .error("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return false;
    }
    true
}

/// SET's key is read too only with GET (Redis's setGetKeys).
fn set_key_flags(argv: &[&[u8]]) -> KeyFlags {
    if argv.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get")) {
        KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::UPDATE)
    } else {
        KeyFlags::OW.with(KeyFlags::UPDATE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<'a>(args: &[&'a [u8]], set: bool) -> Option<ExtOpts<'a>> {
        ExtOpts::parse(args, 0, set)
    }

    #[test]
    fn set_option_rules_follow_redis() {
        assert!(parse(&[b"nx", b"xx"], true).is_none());
        assert!(parse(&[b"nx", b"get"], true).is_some());
        assert!(parse(&[b"ex", b"1", b"ex", b"2"], true).is_some());
        assert!(parse(&[b"ex", b"1", b"px", b"2"], true).is_none());
        assert!(parse(&[b"keepttl", b"ex", b"1"], true).is_none());
        assert!(parse(&[b"ex"], true).is_none());
        assert!(parse(&[b"persist"], true).is_none());
        assert!(parse(&[b"persist", b"persist"], false).is_some());
        assert!(parse(&[b"ex", b"1", b"persist"], false).is_none());
        assert!(parse(&[b"nx"], false).is_none());
        assert!(parse(&[b"NX\0junk"], true).unwrap().nx);
        let o = parse(&[b"pxat", b"5", b"PXAT", b"7"], true).unwrap();
        assert!(o.expire == Some((Unit::PxAt, &b"7"[..])));
    }
}
