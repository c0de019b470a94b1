//! XREAD [COUNT n] [BLOCK ms] STREAMS key... id...
//!
//! The command runs on the connection: without BLOCK it is its
//! non-blocking part ([`XREAD_NOW`], a shard handler kept out of the
//! table) run as any multi-key read; with BLOCK, `$` is resolved to each
//! stream's last ID and the blocking machinery (command/blocking.rs,
//! server/blocking.rs) serves it now or when a key's stream passes its
//! ID, with `XREAD COUNT n STREAMS key id` for that key (COUNT 1000 when
//! none was given, as Redis).

use super::super::spec::{
    Acl, BeginSearch, CommandSpec, FindKeys, Flags, Handler, KeyFlags, KeySpec,
};
use super::id::strict;
use super::reply;
use crate::command::util::{arg_i64, is, NOT_INTEGER, SYNTAX, WRONGTYPE};
use crate::command::Ctx;
use crate::server::blocking::{self as reg, BlockOp};
use crate::server::conn::Conn;
use crate::server::mesh;
use crate::store::stream::StreamId;
use crate::store::Value;
use futures::future::LocalBoxFuture;

/// XREAD_BLOCKED_DEFAULT_COUNT.
const BLOCKED_DEFAULT_COUNT: u64 = 1000;

/// What a blocked read serves at most: COUNT, else
/// XREAD_BLOCKED_DEFAULT_COUNT (a low ID must not serve a huge stream).
pub(super) fn blocked_count(count: u64) -> u64 {
    if count > 0 {
        count
    } else {
        BLOCKED_DEFAULT_COUNT
    }
}

const KEYS: &[KeySpec] = &[KeySpec {
    flags: KeyFlags::RO.with(KeyFlags::ACCESS),
    begin: BeginSearch::Keyword {
        keyword: "STREAMS",
        startfrom: 1,
    },
    find: FindKeys::Range {
        lastkey: -1,
        step: 1,
        limit: 2,
    },
}];

pub(super) const XREAD: CommandSpec = CommandSpec {
    name: "xread",
    arity: -4,
    flags: Flags::READONLY.with(Flags::BLOCKING).with(Flags::MOVABLEKEYS),
    acl: Acl::READ
        .with_bits(Acl::STREAM)
        .with_bits(Acl::SLOW)
        .with_bits(Acl::BLOCKING),
    keys: KEYS,
    handler: Handler::Conn(xread),
    in_exec: Some(in_exec),
    group: "stream",
    since: "5.0.0",
    summary: "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.",
    complexity: "For each stream mentioned: O(N) with N being the number of elements being returned, it means that XREAD-ing with a fixed COUNT is O(1). Note that when the BLOCK option is used, XADD will pay O(M) time in order to serve the M clients blocked on the stream getting new data.",
    ..CommandSpec::DEFAULT
};

/// XREAD's non-blocking part: BLOCK is parsed and ignored.
static XREAD_NOW: CommandSpec = CommandSpec {
    handler: Handler::Shard(xread_now),
    flags: Flags::READONLY,
    in_exec: None,
    ..XREAD
};

pub(super) struct Parsed {
    /// BLOCK's milliseconds (0: forever).
    pub block: Option<u64>,
    pub count: u64,
    /// Index of the first key; as many IDs follow the keys.
    pub first_key: usize,
    pub streams: usize,
    /// XREADGROUP: index of GROUP's group name (the consumer follows).
    pub group: usize,
    pub noack: bool,
}

/// XREAD's (or, `group_ok`, XREADGROUP's) options, in xreadCommand's
/// order so the same error wins.
pub(super) fn parse(args: &[&[u8]], group_ok: bool) -> Result<Parsed, &'static str> {
    let mut p = Parsed {
        block: None,
        count: 0,
        first_key: 0,
        streams: 0,
        group: 0,
        noack: false,
    };
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let o = args[i];
        if is(o, "block") && more > 0 {
            i += 1;
            match arg_i64(args[i]) {
                None => return Err("ERR timeout is not an integer or out of range"),
                Some(t) if t < 0 => return Err("ERR timeout is negative"),
                Some(t) => p.block = Some(t as u64),
            }
        } else if is(o, "count") && more > 0 {
            i += 1;
            p.count = arg_i64(args[i]).ok_or(NOT_INTEGER)?.max(0) as u64;
        } else if is(o, "streams") && more > 0 {
            p.first_key = i + 1;
            let n = args.len() - p.first_key;
            if !n.is_multiple_of(2) {
                return Err("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.");
            }
            p.streams = n / 2;
            break;
        } else if is(o, "group") && more >= 2 {
            if !group_ok {
                return Err(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                );
            }
            p.group = i + 1;
            i += 2;
        } else if is(o, "noack") {
            if !group_ok {
                return Err(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                );
            }
            p.noack = true;
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    if p.first_key == 0 {
        return Err(SYNTAX);
    }
    if group_ok && p.group == 0 {
        return Err("ERR Missing GROUP option for XREADGROUP");
    }
    Ok(p)
}

fn xread_now(ctx: &mut Ctx, args: &[&[u8]]) {
    let p = match parse(args, false) {
        Ok(p) => p,
        Err(e) => return ctx.out.error(e),
    };
    let keys = &args[p.first_key..p.first_key + p.streams];
    let mut ids = Vec::with_capacity(p.streams);
    for (key, arg) in keys.iter().zip(&args[p.first_key + p.streams..]) {
        let last = match ctx.lookup_read(key).map(|e| &e.value) {
            None => None,
            Some(Value::Stream(s)) => Some(s.last_id),
            Some(_) => return ctx.out.error(WRONGTYPE),
        };
        ids.push(match *arg {
            b"$" => last.unwrap_or_default(),
            b">" => return ctx.out.error("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option."),
            a => match strict(a) {
                Ok(id) => id,
                Err(e) => return ctx.out.error(e),
            },
        });
    }
    let mut served: Vec<(usize, StreamId)> = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        if let Some(Value::Stream(s)) = ctx.lookup_read(key).map(|e| &e.value) {
            if s.edge_id(false).is_some_and(|max| max > ids[i]) {
                served.push((i, ids[i].incr().unwrap_or_default()));
            }
        }
    }
    if served.is_empty() {
        return ctx.out.null_array();
    }
    let resp3 = ctx.out.resp3;
    if resp3 {
        ctx.out.map(served.len());
    } else {
        ctx.out.array(served.len());
    }
    let (db, now) = (&ctx.store.dbs[ctx.db], ctx.now_ms);
    for (i, start) in served {
        if !resp3 {
            ctx.out.array(2);
        }
        ctx.out.bulk(keys[i]);
        match db.peek(keys[i], now).map(|e| &e.value) {
            Some(Value::Stream(s)) => {
                reply::range(ctx.out, s, start, StreamId::MAX, p.count, false)
            }
            _ => ctx.out.array(0),
        }
    }
}

/// XREAD BLOCK's waiter.
fn xread_op(p: &Parsed, args: &[Vec<u8>], keys: Vec<Vec<u8>>) -> BlockOp {
    // `$`: resolved by the attempt, in its step (blocking.rs).
    let ids: Vec<(Vec<u8>, Option<StreamId>)> = keys
        .iter()
        .zip(&args[p.first_key + p.streams..])
        .map(|(key, arg)| {
            let id = match arg.as_slice() {
                b"$" => None,
                // Errors (and `>`) are the attempt's to report.
                a => Some(strict(a).unwrap_or_default()),
            };
            (key.clone(), id)
        })
        .collect();
    let mut attempt: Vec<Vec<u8>> = vec![b"XREAD".to_vec()];
    if p.count > 0 {
        attempt.push(b"COUNT".to_vec());
        attempt.push(p.count.to_string().into_bytes());
    }
    attempt.push(b"STREAMS".to_vec());
    attempt.extend(args[p.first_key..].iter().cloned());
    BlockOp::XRead {
        spec: reg::SpecRef(&XREAD_NOW),
        count: blocked_count(p.count),
        ids: std::sync::Arc::new(std::sync::Mutex::new(ids)),
        attempt,
        group: None,
    }
}

fn xread(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(run(conn, args))
}

async fn run(conn: &mut Conn, args: Vec<Vec<u8>>) {
    run_read(conn, args, false, &XREAD_NOW, xread_op).await
}

/// Makes a blocked read's waiter from the parsed command, its arguments
/// and its keys.
pub(super) type MakeWaiter = fn(&Parsed, &[Vec<u8>], Vec<Vec<u8>>) -> BlockOp;

/// The connection side of XREAD and XREADGROUP (`group`): parsed, run at
/// once without BLOCK, else blocked on the keys with the waiter `op`
/// makes from the parsed command and its keys.
pub(super) async fn run_read(
    conn: &mut Conn,
    args: Vec<Vec<u8>>,
    group: bool,
    now: &'static CommandSpec,
    op: MakeWaiter,
) {
    let argv: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    let p = match parse(&argv, group) {
        Ok(p) => p,
        Err(e) => return conn.out.error(e),
    };
    let Some(block) = p.block else {
        return reg::run_unlisted(conn, now, &argv).await;
    };
    let keys: Vec<Vec<u8>> = args[p.first_key..p.first_key + p.streams].to_vec();
    let op = op(&p, &args, keys.clone());
    let timeout = (block > 0).then_some(block);
    crate::command::blocking::block_on(conn, keys, op, timeout).await
}

/// In MULTI (and wherever blocking is denied): the non-blocking part, a
/// null array when nothing is there.
fn in_exec<'a>(
    conn: &'a mut Conn,
    held: &'a mesh::Held<'a>,
    args: &'a [Vec<u8>],
) -> LocalBoxFuture<'a, ()> {
    now_in_exec(conn, held, args, &XREAD_NOW)
}

/// Runs `now` (a stream read's non-blocking part) for EXEC, which holds
/// the keys' shards.
pub(super) fn now_in_exec<'a>(
    conn: &'a mut Conn,
    held: &'a mesh::Held<'a>,
    args: &'a [Vec<u8>],
    now: &'static CommandSpec,
) -> LocalBoxFuture<'a, ()> {
    Box::pin(async move {
        let argv: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let rt = conn.rt.clone();
        let caller = crate::server::tracking::caller(&conn.info, rt.id);
        let reply = reg::run_held(&rt, held, now, &argv, conn.db, conn.out.resp3, caller).await;
        conn.out.raw(&reply);
    })
}
