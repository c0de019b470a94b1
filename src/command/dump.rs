//! DUMP and RESTORE: a value as Redis 7.0's serialized payload (see
//! `crate::persist::rdb::payload`) and back, with Redis's checks in
//! Redis's order (`dumpCommand`, `restoreCommand` in cluster.c).

use super::spec::{Acl, CommandSpec, Flags, Handler, KeyFlags, KeySpec};
use super::util::{arg_i64, is, NOT_INTEGER, SYNTAX};
use super::{Class, Ctx};
use crate::persist::rdb::encode::EncodeOpts;
use crate::persist::rdb::payload;

const BUSYKEY: &str = "BUSYKEY Target key name already exists.";
const BAD_PAYLOAD: &str = "ERR DUMP payload version or checksum are wrong";
const BAD_FORMAT: &str = "ERR Bad data format";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "dump",
        arity: 2,
        flags: Flags::READONLY,
        acl: Acl::KEYSPACE.with_bits(Acl::READ).with_bits(Acl::SLOW),
        keys: &[KeySpec::single(1, KeyFlags::RO.with(KeyFlags::ACCESS))],
        handler: Handler::Shard(dump),
        tips: &["nondeterministic_output"],
        group: "generic",
        since: "2.6.0",
        summary: "Return a serialized version of the value stored at the specified key.",
        complexity: "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "restore",
        arity: -4,
        flags: Flags::WRITE.with(Flags::DENYOOM),
        acl: Acl::KEYSPACE
            .with_bits(Acl::WRITE)
            .with_bits(Acl::SLOW)
            .with_bits(Acl::DANGEROUS),
        keys: &[KeySpec::single(1, KeyFlags::OW.with(KeyFlags::UPDATE))],
        handler: Handler::Shard(restore),
        group: "generic",
        since: "2.6.0",
        summary: "Create a key using the provided serialized value, previously obtained using DUMP.",
        complexity: RESTORE_COMPLEXITY,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "restore-asking",
        arity: -4,
        flags: Flags::WRITE.with(Flags::DENYOOM).with(Flags::ASKING),
        acl: Acl::KEYSPACE
            .with_bits(Acl::WRITE)
            .with_bits(Acl::SLOW)
            .with_bits(Acl::DANGEROUS),
        keys: &[KeySpec::single(1, KeyFlags::OW.with(KeyFlags::UPDATE))],
        handler: Handler::Shard(restore),
        group: "server",
        since: "3.0.0",
        summary: "An internal command for migrating keys in a cluster",
        complexity: RESTORE_COMPLEXITY,
        ..CommandSpec::DEFAULT
    },
];

const RESTORE_COMPLEXITY: &str = "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).";

/// The encoding options of a DUMP payload; MIGRATE sends the same one.
pub fn payload_opts(ctx: &Ctx) -> EncodeOpts {
    EncodeOpts {
        compress: ctx.limits.rdb_compression,
        list_fill: ctx.limits.encodings.list_max_listpack_size,
    }
}

/// DUMP key: the payload, or nil for a missing key.
fn dump(ctx: &mut Ctx, args: &[&[u8]]) {
    let opts = payload_opts(ctx);
    match ctx.lookup_read(args[1]) {
        Some(e) => {
            let p = payload::create(&e.value, &opts);
            ctx.out.bulk(&p);
        }
        None => ctx.out.null(),
    }
}

/// RESTORE's options after the payload.
struct RestoreOpts {
    replace: bool,
    absttl: bool,
    idle: Option<i64>,
    freq: Option<i64>,
}

/// Parses `[REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]` as Redis does
/// (IDLETIME and FREQ exclude each other); Err is the reply.
fn parse_opts(args: &[&[u8]]) -> Result<RestoreOpts, &'static str> {
    let mut o = RestoreOpts {
        replace: false,
        absttl: false,
        idle: None,
        freq: None,
    };
    let mut j = 4;
    while j < args.len() {
        let more = j + 1 < args.len();
        let a = args[j];
        if is(a, "replace") {
            o.replace = true;
        } else if is(a, "absttl") {
            o.absttl = true;
        } else if is(a, "idletime") && more && o.freq.is_none() {
            let v = arg_i64(args[j + 1]).ok_or(NOT_INTEGER)?;
            if v < 0 {
                return Err("ERR Invalid IDLETIME value, must be >= 0");
            }
            o.idle = Some(v);
            j += 1;
        } else if is(a, "freq") && more && o.idle.is_none() {
            let v = arg_i64(args[j + 1]).ok_or(NOT_INTEGER)?;
            if !(0..=255).contains(&v) {
                return Err("ERR Invalid FREQ value, must be >= 0 and <= 255");
            }
            o.freq = Some(v);
            j += 1;
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

/// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f];
/// also RESTORE-ASKING (the same command, flagged `asking` so that a
/// cluster node importing the slot accepts it: MIGRATE's form).
fn restore(ctx: &mut Ctx, args: &[&[u8]]) {
    let key = args[1];
    let o = match parse_opts(args) {
        Ok(o) => o,
        Err(e) => return ctx.out.error(e),
    };
    if !o.replace && ctx.lookup_write(key).is_some() {
        return ctx.out.error(BUSYKEY);
    }
    let Some(mut ttl) = arg_i64(args[2]) else {
        return ctx.out.error(NOT_INTEGER);
    };
    if ttl < 0 {
        return ctx.out.error("ERR Invalid TTL value, must be >= 0");
    }
    let p = args[3];
    if !payload::verify(p) {
        return ctx.out.error(BAD_PAYLOAD);
    }
    let value = match payload::load(p, &ctx.limits.encodings) {
        Ok(v) => v,
        Err(e) => {
            // Redis's rdbReportError in a RESTORE: a verbose log line
            // naming the check that failed.
            crate::verbose!("Internal error in RDB reading: {e}");
            return ctx.out.error(BAD_FORMAT);
        }
    };
    let deleted = o.replace && ctx.lookup_write(key).is_some() && ctx.db().remove(key).is_some();
    if ttl != 0 && !o.absttl {
        ttl = ttl.saturating_add(ctx.now_ms as i64);
    }
    if ttl != 0 && ttl <= ctx.now_ms as i64 {
        // Already expired: the key is (only) deleted.
        if deleted {
            ctx.dirty += 1;
            ctx.propagate_as(&[b"DEL".as_slice(), key]);
        }
        return ctx.out.ok();
    }
    // As Redis's objectSetLRUOrLFU: FREQ counts under an LFU policy,
    // IDLETIME under the others; each is ignored under the other kind.
    let lru = match (ctx.access.lfu, o.freq, o.idle) {
        (Some(lfu), Some(freq), _) => (u32::from(lfu.minutes) << 8) | freq as u32,
        (None, _, Some(idle)) => ctx
            .lru
            .saturating_sub(u32::try_from(idle).unwrap_or(u32::MAX)),
        _ => ctx.lru,
    };
    let expire = (ttl != 0).then_some(ttl as u64);
    ctx.db().set_with_expire(key, value, expire, lru);
    ctx.dirty += 1;
    ctx.notify(Class::Generic, "restore", key);
    if ttl != 0 && !o.absttl {
        // Logged with the absolute time (as Redis: TTL rewritten + ABSTTL).
        let at = ttl.to_string();
        let mut argv: Vec<&[u8]> = args.to_vec();
        argv[2] = at.as_bytes();
        argv.push(b"ABSTTL");
        ctx.propagate_as(&argv);
    }
    ctx.out.ok();
}
