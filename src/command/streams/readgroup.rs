//! XREADGROUP GROUP group consumer [COUNT n] [BLOCK ms] [NOACK] STREAMS
//! key... id... (xreadCommand with a group).
//!
//! As XREAD (read.rs), the command runs on the connection: its
//! non-blocking part is [`NOW`], a shard handler out of the table. With
//! BLOCK and only `>` IDs left unserved, the blocking machinery waits
//! with a group waiter: ready once the stream's last ID passes the
//! group's (or the key or group went away), served by [`SERVE`], Redis's
//! serveClientsBlockedOnStreamKey.
//!
//! Nothing is logged as XREADGROUP: as Redis, each entry delivered is
//! logged as `XCLAIM ... FORCE JUSTID LASTID <group last id>`, a NOACK
//! read's new last ID as `XGROUP SETID ... ENTRIESREAD`, and a consumer a
//! NOACK read created as `XGROUP CREATECONSUMER` (propagate.rs).

use super::super::spec::{
    Acl, BeginSearch, CommandSpec, FindKeys, Flags, Handler, KeyFlags, KeySpec,
};
use super::id::strict;
use super::propagate;
use super::read::{now_in_exec, parse, Parsed};
use super::reply;
use crate::command::util::WRONGTYPE;
use crate::command::{Class, Ctx};
use crate::resp::Out;
use crate::server::blocking::{self as reg, BlockOp, GroupWait};
use crate::server::conn::Conn;
use crate::server::mesh;
use crate::store::stream::{Group, Node, NodeEntry, Stream, StreamId};
use crate::store::Value;
use futures::future::LocalBoxFuture;

const KEYS: &[KeySpec] = &[KeySpec {
    flags: KeyFlags::RO.with(KeyFlags::ACCESS),
    begin: BeginSearch::Keyword {
        keyword: "STREAMS",
        startfrom: 4,
    },
    find: FindKeys::Range {
        lastkey: -1,
        step: 1,
        limit: 2,
    },
}];

pub(super) const XREADGROUP: CommandSpec = CommandSpec {
    name: "xreadgroup",
    arity: -7,
    flags: Flags::WRITE
        .with(Flags::BLOCKING)
        .with(Flags::MOVABLEKEYS),
    acl: Acl::WRITE
        .with_bits(Acl::STREAM)
        .with_bits(Acl::SLOW)
        .with_bits(Acl::BLOCKING),
    keys: KEYS,
    handler: Handler::Conn(xreadgroup),
    in_exec: Some(in_exec),
    group: "stream",
    since: "5.0.0",
    summary: "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.",
    complexity: "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data.",
    ..CommandSpec::DEFAULT
};

/// The non-blocking part: BLOCK is parsed and ignored.
static NOW: CommandSpec = CommandSpec {
    handler: Handler::Shard(now),
    flags: Flags::WRITE,
    in_exec: None,
    ..XREADGROUP
};

/// Serves a blocked XREADGROUP from its one ready key:
/// `XREADGROUP GROUP g c COUNT n [NOACK] STREAMS key >`.
static SERVE: CommandSpec = CommandSpec {
    handler: Handler::Shard(serve),
    flags: Flags::WRITE,
    in_exec: None,
    ..XREADGROUP
};

/// One key's read for a group's consumer.
struct Read<'a> {
    key: &'a [u8],
    group: &'a [u8],
    consumer: &'a [u8],
    count: u64,
    noack: bool,
    now: u64,
}

/// What a read left to do once the stream is released.
#[derive(Default)]
struct Effects {
    /// Commands to log in the read's place.
    log: Vec<Vec<Vec<u8>>>,
    consumer_created: bool,
}

fn nogroup(ctx: &mut Ctx, key: &[u8], group: &[u8]) {
    super::pending::nogroup_in(ctx, key, group, b" in XREADGROUP with GROUP option");
}

fn now(ctx: &mut Ctx, args: &[&[u8]]) {
    let p = match parse(args, true) {
        Ok(p) => p,
        Err(e) => return ctx.out.error(e),
    };
    let (group, consumer) = (args[p.group], args[p.group + 1]);
    let keys = &args[p.first_key..p.first_key + p.streams];
    // None: `>`; else the history after that ID.
    let mut wants: Vec<Option<StreamId>> = Vec::with_capacity(p.streams);
    for (key, arg) in keys.iter().zip(&args[p.first_key + p.streams..]) {
        match ctx.lookup_read(key).map(|e| &e.value) {
            None => return nogroup(ctx, key, group),
            Some(Value::Stream(s)) if !s.groups.contains_key(group) => {
                return nogroup(ctx, key, group)
            }
            Some(Value::Stream(_)) => {}
            Some(_) => return ctx.out.error(WRONGTYPE),
        }
        wants.push(match *arg {
            b"$" => return ctx.out.error("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set."),
            b">" => None,
            // Redis stands for `>` with the maximum ID.
            a => match strict(a) {
                Ok(StreamId::MAX) => None,
                Ok(id) => Some(id),
                Err(e) => return ctx.out.error(e),
            },
        });
    }
    ctx.propagate_nothing();
    let mut body = Out::new(ctx.out.resp3);
    let mut served = 0;
    for (key, want) in keys.iter().zip(wants) {
        let r = Read {
            key,
            group,
            consumer,
            count: p.count,
            noack: p.noack,
            now: ctx.now_ms,
        };
        let Some(Value::Stream(s)) = ctx.lookup_read(key).map(|e| &mut e.value) else {
            continue;
        };
        let s: &mut Stream = s;
        let Some(mut g) = s.groups.remove(group) else {
            continue;
        };
        let fx = match want {
            Some(id) => Some(history(&r, s, &mut g, id, &mut body)),
            // Served now only when a live entry follows the group's last.
            None if s.length > 0 && s.edge_id(false).is_some_and(|max| max > g.last_id) => {
                Some(new_entries(&r, s, &mut g, &mut body))
            }
            None => None,
        };
        s.groups.insert(group.to_vec(), g);
        if let Some(fx) = fx {
            served += 1;
            ctx.dirty += 1;
            finish(ctx, &r, fx);
        }
    }
    if served == 0 {
        return ctx.out.null_array();
    }
    if ctx.out.resp3 {
        ctx.out.map(served);
    } else {
        ctx.out.array(served);
    }
    ctx.out.raw(&body.buf);
    // Redis signals no modified key for XREADGROUP.
    ctx.modified = Some(Vec::new());
}

/// Looks the consumer up (refreshing its seen time) or creates it.
fn consumer_of(r: &Read, g: &mut Group, fx: &mut Effects) {
    match g.consumers.get_mut(r.consumer) {
        Some(c) => c.seen_time = r.now,
        None => {
            g.create_consumer(r.consumer, r.now);
            fx.consumer_created = true;
            if r.noack {
                fx.log
                    .push(propagate::create_consumer(r.key, r.group, r.consumer));
            }
        }
    }
}

/// `key` then its entries, from the consumer's own pending entries after
/// `after` (streamReplyWithRangeFromConsumerPEL): a deleted entry shows
/// as its ID and a null; each one shown counts a delivery.
fn history(r: &Read, s: &Stream, g: &mut Group, after: StreamId, out: &mut Out) -> Effects {
    let mut fx = Effects::default();
    consumer_of(r, g, &mut fx);
    let start = after.incr().unwrap_or_default();
    let ids: Vec<StreamId> = g.consumers[r.consumer]
        .pel
        .range(start..)
        .take(if r.count == 0 {
            usize::MAX
        } else {
            r.count as usize
        })
        .copied()
        .collect();
    key_header(out, r.key);
    out.array(ids.len());
    for id in ids {
        let mut found = false;
        s.range(id, id, false, &mut |n, e| {
            reply::entry(out, n, e);
            found = true;
            false
        });
        if found {
            let n = g
                .pel
                .get_mut(&id)
                .expect("a consumer's entry is the group's");
            n.delivery_time = r.now;
            n.delivery_count += 1;
        } else {
            out.array(2);
            reply::id(out, id);
            out.null_array();
        }
    }
    fx
}

/// `key` then the entries after the group's last delivered ID (at most
/// `count`), delivered to the consumer: the group's last ID and read
/// counter follow, and without NOACK each entry becomes the consumer's
/// pending entry (streamReplyWithRange with a group).
fn new_entries(r: &Read, s: &Stream, g: &mut Group, out: &mut Out) -> Effects {
    let mut fx = Effects::default();
    consumer_of(r, g, &mut fx);
    let start = g.last_id.incr().unwrap_or_default();
    let mut found: Vec<(&Node, &NodeEntry)> = Vec::new();
    s.range(start, StreamId::MAX, false, &mut |n, e| {
        found.push((n, e));
        r.count == 0 || (found.len() as u64) < r.count
    });
    key_header(out, r.key);
    out.array(found.len());
    let mut moved = false;
    for (n, e) in found {
        moved |= g.advance(s, e.id);
        reply::entry(out, n, e);
        if !r.noack {
            g.deliver(e.id, r.consumer, r.now);
            let nack = &g.pel[&e.id];
            fx.log.push(propagate::xclaim(
                r.key,
                r.group,
                &e.id.to_bytes(),
                nack,
                g.last_id,
            ));
        }
    }
    if r.noack && moved {
        fx.log.push(propagate::setid(r.key, r.group, g));
    }
    fx
}

/// A served key's header: `*2 key` (RESP3: the map key alone).
fn key_header(out: &mut Out, key: &[u8]) {
    if !out.resp3 {
        out.array(2);
    }
    out.bulk(key);
}

/// Logs and signals what a read did once the stream is released.
fn finish(ctx: &mut Ctx, r: &Read, fx: Effects) {
    if fx.consumer_created {
        ctx.dirty += 1;
        ctx.notify(Class::Stream, "xgroup-createconsumer", r.key);
    }
    for args in &fx.log {
        ctx.propagate_as(args);
    }
}

/// A blocked XREADGROUP woken on its key (serveClientsBlockedOnStreamKey
/// and unblockDeletedStreamReadgroupClients): the key gone or of another
/// type, or the group gone, ends it with an error; else the entries after
/// the group's last ID are delivered (an XDEL may leave none).
fn serve(ctx: &mut Ctx, args: &[&[u8]]) {
    let Ok(p) = parse(args, true) else {
        return ctx.out.null_array();
    };
    let (key, group) = (args[p.first_key], args[p.group]);
    let r = Read {
        key,
        group,
        consumer: args[p.group + 1],
        count: p.count,
        noack: p.noack,
        now: ctx.now_ms,
    };
    let (db, now) = (ctx.db, ctx.now_ms);
    let s = match ctx.store.dbs[db].lookup(key, now).map(|e| &mut e.value) {
        Some(Value::Stream(s)) => &mut **s,
        _ => return ctx.out.error("UNBLOCKED the stream key no longer exists"),
    };
    let Some(mut g) = s.groups.remove(group) else {
        return ctx
            .out
            .error("NOGROUP the consumer group this client was blocked on no longer exists");
    };
    if s.last_id <= g.last_id {
        s.groups.insert(group.to_vec(), g);
        return ctx.out.null_array();
    }
    let mut body = Out::new(ctx.out.resp3);
    let fx = new_entries(&r, s, &mut g, &mut body);
    s.groups.insert(group.to_vec(), g);
    if ctx.out.resp3 {
        ctx.out.map(1);
    } else {
        ctx.out.array(1);
    }
    ctx.out.raw(&body.buf);
    ctx.dirty += 1;
    ctx.propagate_nothing();
    finish(ctx, &r, fx);
    ctx.modified = Some(Vec::new());
}

fn xreadgroup(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(run(conn, args))
}

async fn run(conn: &mut Conn, args: Vec<Vec<u8>>) {
    super::read::run_read(conn, args, true, &NOW, waiter).await
}

/// XREADGROUP BLOCK's waiter: ready by its group's last ID.
fn waiter(p: &Parsed, args: &[Vec<u8>], keys: Vec<Vec<u8>>) -> BlockOp {
    BlockOp::XRead {
        spec: reg::SpecRef(&NOW),
        count: super::read::blocked_count(p.count),
        ids: std::sync::Arc::new(std::sync::Mutex::new(
            keys.into_iter().map(|k| (k, Some(StreamId::MAX))).collect(),
        )),
        // The whole command first: history reads and errors answer now.
        attempt: args.to_vec(),
        group: Some(GroupWait {
            serve: reg::SpecRef(&SERVE),
            group: args[p.group].clone(),
            consumer: args[p.group + 1].clone(),
            noack: p.noack,
        }),
    }
}

/// In MULTI: the non-blocking part.
fn in_exec<'a>(
    conn: &'a mut Conn,
    held: &'a mesh::Held<'a>,
    args: &'a [Vec<u8>],
) -> LocalBoxFuture<'a, ()> {
    now_in_exec(conn, held, args, &NOW)
}
