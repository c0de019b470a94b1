//! Blocking commands: BLPOP BRPOP BRPOPLPUSH BLMOVE BLMPOP (lists) and
//! BZPOPMIN BZPOPMAX BZMPOP (sorted sets), as Redis 7.0 behaves.
//!
//! Each runs on the connection: parse (Redis's argument order, so the
//! same error wins), then, on the shard owning the keys (or holding every
//! shard involved, in ascending order, when they span shards), serve the
//! first key that holds data or register one waiter on all the keys, in
//! the same atomic step. A blocked connection then awaits its waiter or its
//! timer; `server::blocking` serves waiters after writes.
//!
//! Replies: BLPOP/BRPOP `*2 key value`; BLMOVE/BRPOPLPUSH the bulk value;
//! BLMPOP `*2 key *n values`; BZPOPMIN/MAX `*3 key member score`; BZMPOP
//! `*2 key *n *2 member score`. On timeout (or CLIENT UNBLOCK ... TIMEOUT)
//! all answer a null array (`*-1`, RESP3 `_`), BLMOVE included, as Redis.

mod timeout;

use super::spec::{Acl, BeginSearch, CommandSpec, FindKeys, Flags, Handler, KeyFlags, KeySpec};
use super::util::{arg_i64, is, SYNTAX};
use crate::server::blocked_redirect;
use crate::server::blocking::{
    self as reg, BlockGuard, BlockOp, Probe, Waiter, Wake, ROLE_CHANGED,
};
use crate::server::conn::Conn;
use crate::server::mesh;
use crate::server::shard::ShardRt;
use crate::slot::key_slot;
use crate::store::list::End;
use crate::sys::clock::unix_ms;
use futures::future::{select, Either, LocalBoxFuture};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};
pub use timeout::parse_timeout;

const BLOCK_FLAGS: Flags = Flags::WRITE.with(Flags::NOSCRIPT).with(Flags::BLOCKING);
const POP_KEYS: &[KeySpec] = &[KeySpec {
    flags: KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::DELETE),
    begin: BeginSearch::Index(1),
    find: FindKeys::Range {
        lastkey: -2,
        step: 1,
        limit: 0,
    },
}];
const MOVE_KEYS: &[KeySpec] = &[
    KeySpec::single(
        1,
        KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::DELETE),
    ),
    KeySpec::single(2, KeyFlags::RW.with(KeyFlags::INSERT)),
];
const MPOP_KEYS: &[KeySpec] = &[KeySpec {
    flags: KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::DELETE),
    begin: BeginSearch::Index(2),
    find: FindKeys::Keynum {
        keynumidx: 0,
        firstkey: 1,
        step: 1,
    },
}];
const LIST_POP_COMPLEXITY: &str = "O(N) where N is the number of provided keys.";
const ZPOP_COMPLEXITY: &str = "O(log(N)) with N being the number of elements in the sorted set.";

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "blpop", arity: -3, flags: BLOCK_FLAGS, acl: Acl::WRITE.with_bits(Acl::LIST).with_bits(Acl::SLOW),
        keys: POP_KEYS, handler: Handler::Conn(blpop), in_exec: Some(in_exec), group: "list", since: "2.0.0",
        summary: "Remove and get the first element in a list, or block until one is available",
        complexity: LIST_POP_COMPLEXITY, ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "brpop", arity: -3, flags: BLOCK_FLAGS, acl: Acl::WRITE.with_bits(Acl::LIST).with_bits(Acl::SLOW),
        keys: POP_KEYS, handler: Handler::Conn(brpop), in_exec: Some(in_exec), group: "list", since: "2.0.0",
        summary: "Remove and get the last element in a list, or block until one is available",
        complexity: LIST_POP_COMPLEXITY, ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "brpoplpush", arity: 4, flags: BLOCK_FLAGS.with(Flags::DENYOOM), acl: Acl::WRITE.with_bits(Acl::LIST).with_bits(Acl::SLOW),
        keys: MOVE_KEYS, handler: Handler::Conn(brpoplpush), in_exec: Some(in_exec), group: "list", since: "2.2.0",
        summary: "Pop an element from a list, push it to another list and return it; or block until one is available",
        complexity: "O(1)", ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "blmove", arity: 6, flags: BLOCK_FLAGS.with(Flags::DENYOOM), acl: Acl::WRITE.with_bits(Acl::LIST).with_bits(Acl::SLOW),
        keys: MOVE_KEYS, handler: Handler::Conn(blmove), in_exec: Some(in_exec), group: "list", since: "6.2.0",
        summary: "Pop an element from a list, push it to another list and return it; or block until one is available",
        complexity: "O(1)", ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "blmpop", arity: -5, flags: Flags::WRITE.with(Flags::BLOCKING).with(Flags::MOVABLEKEYS), acl: Acl::WRITE.with_bits(Acl::LIST).with_bits(Acl::SLOW),
        keys: MPOP_KEYS, handler: Handler::Conn(blmpop), in_exec: Some(in_exec), group: "list", since: "7.0.0",
        summary: "Pop elements from a list, or block until one is available",
        complexity: "O(N+M) where N is the number of provided keys and M is the number of elements returned.", ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "bzpopmin", arity: -3, flags: BLOCK_FLAGS.with(Flags::FAST), acl: Acl::WRITE.with_bits(Acl::SORTEDSET).with_bits(Acl::FAST),
        keys: POP_KEYS, handler: Handler::Conn(bzpopmin), in_exec: Some(in_exec), group: "sorted-set", since: "5.0.0",
        summary: "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available",
        complexity: ZPOP_COMPLEXITY, ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "bzpopmax", arity: -3, flags: BLOCK_FLAGS.with(Flags::FAST), acl: Acl::WRITE.with_bits(Acl::SORTEDSET).with_bits(Acl::FAST),
        keys: POP_KEYS, handler: Handler::Conn(bzpopmax), in_exec: Some(in_exec), group: "sorted-set", since: "5.0.0",
        summary: "Remove and return the member with the highest score from one or more sorted sets, or block until one is available",
        complexity: ZPOP_COMPLEXITY, ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "bzmpop", arity: -5, flags: Flags::WRITE.with(Flags::BLOCKING).with(Flags::MOVABLEKEYS), acl: Acl::WRITE.with_bits(Acl::SORTEDSET).with_bits(Acl::SLOW),
        keys: MPOP_KEYS, handler: Handler::Conn(bzmpop), in_exec: Some(in_exec), group: "sorted-set", since: "7.0.0",
        summary: "Remove and return members with scores in a sorted set or block until one is available",
        complexity: "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
        ..CommandSpec::DEFAULT
    },
];

/// A parsed blocking command.
struct Request {
    /// The keys waited on, in argument order (BLMOVE: the source).
    keys: Vec<Vec<u8>>,
    /// BLMOVE/BRPOPLPUSH destination.
    dest: Option<Vec<u8>>,
    op: BlockOp,
    /// Milliseconds; None waits forever.
    timeout: Option<u64>,
}

type Parsed = Result<Request, &'static str>;

fn blpop(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(run(
        conn,
        keys_then_timeout(&args, |_| pop_op(End::Left, None)),
    ))
}

fn brpop(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(run(
        conn,
        keys_then_timeout(&args, |_| pop_op(End::Right, None)),
    ))
}

fn bzpopmin(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(run(
        conn,
        keys_then_timeout(&args, |_| zpop_op(false, None)),
    ))
}

fn bzpopmax(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(run(conn, keys_then_timeout(&args, |_| zpop_op(true, None))))
}

fn brpoplpush(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(run(conn, parse_move(&args, End::Right, End::Left, true)))
}

fn blmove(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    let parsed = match (End::parse(&args[3]), End::parse(&args[4])) {
        (Some(from), Some(to)) => parse_move(&args, from, to, false),
        _ => Err(SYNTAX),
    };
    Box::pin(run(conn, parsed))
}

fn blmpop(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    let parsed = parse_mpop(&args, |w| {
        End::parse(w).map(|end| BlockOp::ListPop { end, count: None })
    });
    Box::pin(run(conn, parsed))
}

fn bzmpop(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    let parsed = parse_mpop(&args, zpop_side);
    Box::pin(run(conn, parsed))
}

fn pop_op(end: End, count: Option<usize>) -> BlockOp {
    BlockOp::ListPop { end, count }
}

fn zpop_op(max: bool, count: Option<usize>) -> BlockOp {
    BlockOp::ZPop { max, count }
}

/// `CMD key [key ...] timeout`.
fn keys_then_timeout(args: &[Vec<u8>], op: impl Fn(()) -> BlockOp) -> Parsed {
    let timeout = parse_timeout(args.last().expect("arity"), unix_ms())?;
    Ok(Request {
        keys: args[1..args.len() - 1].to_vec(),
        dest: None,
        op: op(()),
        timeout,
    })
}

/// `BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout` and
/// `BRPOPLPUSH source destination timeout`.
fn parse_move(args: &[Vec<u8>], from: End, to: End, rpoplpush: bool) -> Parsed {
    let timeout_idx = if rpoplpush { 3 } else { 5 };
    let timeout = parse_timeout(&args[timeout_idx], unix_ms())?;
    Ok(Request {
        keys: vec![args[1].clone()],
        dest: Some(args[2].clone()),
        op: BlockOp::ListMove {
            from,
            to,
            dest: args[2].clone(),
            dest_local: false,
            rpoplpush,
        },
        timeout,
    })
}

/// `timeout numkeys key [key ...] <where> [COUNT count]`, checked in
/// Redis's order: numkeys, where, COUNT, then the timeout.
fn parse_mpop(args: &[Vec<u8>], where_op: impl Fn(&[u8]) -> Option<BlockOp>) -> Parsed {
    let numkeys = match arg_i64(&args[2]) {
        Some(n) if n >= 1 => n as usize,
        _ => return Err("ERR numkeys should be greater than 0"),
    };
    let where_idx = numkeys.saturating_add(3);
    if where_idx >= args.len() {
        return Err(SYNTAX);
    }
    let mut op = where_op(&args[where_idx]).ok_or(SYNTAX)?;
    let mut count: Option<usize> = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        if count.is_none() && is(&args[j], "count") && j + 1 < args.len() {
            j += 1;
            match arg_i64(&args[j]) {
                Some(c) if c >= 1 => count = Some(c as usize),
                _ => return Err("ERR count should be greater than 0"),
            }
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    let count = Some(count.unwrap_or(1));
    match &mut op {
        BlockOp::ListPop { count: c, .. } | BlockOp::ZPop { count: c, .. } => *c = count,
        BlockOp::ListMove { .. } | BlockOp::XRead { .. } => {}
    }
    let timeout = parse_timeout(&args[1], unix_ms())?;
    Ok(Request {
        keys: args[3..where_idx].to_vec(),
        dest: None,
        op,
        timeout,
    })
}

/// XREAD BLOCK (command/streams): serves `op` now or blocks on `keys`,
/// as the other blocking commands do.
pub async fn block_on(conn: &mut Conn, keys: Vec<Vec<u8>>, op: BlockOp, timeout: Option<u64>) {
    let req = Request {
        keys,
        dest: None,
        op,
        timeout,
    };
    run(conn, Ok(req)).await
}

/// Serves the command now or blocks until served, timed out or unblocked.
async fn run(conn: &mut Conn, parsed: Parsed) {
    let mut req = match parsed {
        Ok(r) => r,
        Err(e) => return conn.out.error(e),
    };
    let rt = conn.rt.clone();
    let deadline = req
        .timeout
        .map(|ms| Instant::now() + Duration::from_millis(ms));
    let shard_of = |k: &[u8]| rt.shard_of_slot(key_slot(k));
    if let (BlockOp::ListMove { dest_local, .. }, Some(dest)) = (&mut req.op, &req.dest) {
        *dest_local = shard_of(dest) == shard_of(&req.keys[0]);
    }
    let (db, resp3) = (conn.db, conn.out.resp3);
    loop {
        let (waiter, rx) = Waiter::new(db, resp3, req.op.clone());
        let regs = match attempt_or_register(&rt, &req, &waiter).await {
            Outcome::Reply(bytes) => return conn.out.raw(&bytes),
            Outcome::Registered(regs) => regs,
        };
        let mut guard = BlockGuard::new(
            rt.clone(),
            conn.info.clone(),
            waiter,
            regs,
            rx,
            deadline.is_some(),
        );
        let wake = wait(&mut guard, deadline).await;
        drop(guard);
        match wake {
            Wake::Reply(bytes) => return conn.out.raw(&bytes),
            Wake::Timeout => return conn.out.null_array(),
            Wake::Error => {
                return conn
                    .out
                    .error("UNBLOCKED client unblocked via CLIENT UNBLOCK")
            }
            Wake::RoleChanged => {
                conn.close = true;
                return conn.out.error(ROLE_CHANGED);
            }
            // The key got data but the move must go through the
            // multi-shard path: try again (and block again if another
            // client was faster).
            Wake::Retry => continue,
        }
    }
}

/// Waits for the waiter to be completed or the deadline to pass.
async fn wait(g: &mut BlockGuard, deadline: Option<Instant>) -> Wake {
    let timer = async {
        match deadline {
            Some(d) => glommio::timer::sleep(d.saturating_duration_since(Instant::now())).await,
            None => futures::future::pending::<()>().await,
        }
    };
    match select(&mut g.rx, std::pin::pin!(timer)).await {
        Either::Left((wake, _)) => wake.unwrap_or(Wake::Timeout),
        Either::Right(_) => {
            if g.waiter.claim() {
                Wake::Timeout
            } else {
                // Completed at the same moment: take what was sent.
                (&mut g.rx).await.unwrap_or(Wake::Timeout)
            }
        }
    }
}

enum Outcome {
    /// Served at once (or an error): the reply.
    Reply(Vec<u8>),
    /// Blocked: the keys registered, by shard.
    Registered(Vec<(usize, Vec<Vec<u8>>)>),
}

/// Serves the first key with data, or registers `waiter` on every key,
/// atomically: on the owning shard, or holding all the shards involved.
async fn attempt_or_register(
    rt: &Rc<ShardRt>,
    req: &Request,
    waiter: &std::sync::Arc<Waiter>,
) -> Outcome {
    let shard_of = |k: &[u8]| rt.shard_of_slot(key_slot(k));
    let mut by_shard: BTreeMap<usize, Vec<Vec<u8>>> = BTreeMap::new();
    for k in &req.keys {
        let keys = by_shard.entry(shard_of(k)).or_default();
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    let mut shards: Vec<usize> = by_shard.keys().copied().collect();
    if let Some(d) = &req.dest {
        shards.push(shard_of(d));
        shards.sort_unstable();
        shards.dedup();
    }
    let (db, resp3) = (waiter.db, waiter.resp3);
    if let [shard] = shards[..] {
        let keys = req.keys.clone();
        let w = waiter.clone();
        return mesh::run_on(rt, shard, move |rt| {
            // Cluster mode: the slot may have moved since the request was
            // routed; the cron that redirects waiters may have looked
            // already (all keys share one slot).
            if let Some(e) = blocked_redirect::refusal(rt, &keys[0]) {
                return Outcome::Reply(reg::error_reply(&e, resp3));
            }
            if let Some(reply) = reg::attempt(rt, db, &keys, &w.op, resp3) {
                return Outcome::Reply(reply);
            }
            for k in &keys {
                rt.blocked.register(k, &w);
            }
            Outcome::Registered(vec![(shard, keys)])
        })
        .await;
    }

    let held = mesh::hold(rt, &shards).await;
    if let Some(reply) = attempt_held(rt, &held, req, &waiter.op, db, resp3).await {
        return Outcome::Reply(reply);
    }
    let mut regs = Vec::new();
    for (shard, keys) in by_shard {
        let (w, k) = (waiter.clone(), keys.clone());
        held.run(shard, move |rt| {
            for key in &k {
                rt.blocked.register(key, &w);
            }
        })
        .await;
        regs.push((shard, keys));
    }
    Outcome::Registered(regs)
}

/// The attempt of a blocking command whose shards the caller holds
/// (all the keys' shards and a BLMOVE's destination's): the reply when a
/// key could serve it (or WRONGTYPE), None when it would block.
async fn attempt_held(
    rt: &Rc<ShardRt>,
    held: &mesh::Held<'_>,
    req: &Request,
    op: &BlockOp,
    db: usize,
    resp3: bool,
) -> Option<Vec<u8>> {
    let shard_of = |k: &[u8]| rt.shard_of_slot(key_slot(k));
    if let BlockOp::XRead { spec, attempt, .. } = op {
        // `$` stands for each stream's last ID as the attempt finds it.
        let shards: Vec<usize> = req.keys.iter().map(|k| shard_of(k)).collect();
        for s in dedup(shards) {
            let op = op.clone();
            held.run(s, move |rt| reg::resolve_xread(rt, db, &op)).await;
        }
        let argv: Vec<&[u8]> = attempt.iter().map(Vec::as_slice).collect();
        let caller = crate::server::tracking::Caller::default();
        let reply = reg::run_held(rt, held, spec.0, &argv, db, resp3, caller).await;
        return (!reg::is_null_array(&reply)).then_some(reply);
    }
    if let (BlockOp::ListMove { .. }, Some(dest)) = (op, &req.dest) {
        let src = req.keys[0].clone();
        let k = src.clone();
        match held
            .run(shard_of(&src), move |rt| reg::probe_key(rt, db, &k, true))
            .await
        {
            Probe::WrongType => return Some(wrongtype(resp3)),
            Probe::Missing => {}
            Probe::Ready(_) if shard_of(dest) != shard_of(&src) => {
                return Some(reg::serve_across(rt, held, db, &src, op, resp3).await)
            }
            Probe::Ready(_) => {
                let (keys, op) = (vec![src], op.clone());
                return held
                    .run(shard_of(&keys[0]), move |rt| {
                        reg::attempt(rt, db, &keys, &op, resp3)
                    })
                    .await;
            }
        }
    } else {
        for k in &req.keys {
            let (keys, op) = (vec![k.clone()], op.clone());
            // The pop's record is gathered on the key's shard and handed
            // to this thread, so that in EXEC it joins the transaction's
            // MULTI/EXEC block instead of going to the log ahead of it.
            let (reply, records) = held
                .run(shard_of(k), move |rt| {
                    let capturing = rt.begin_capture();
                    let reply = reg::attempt(rt, db, &keys, &op, resp3);
                    let records = capturing.then(|| rt.end_capture());
                    (reply, records)
                })
                .await;
            for (rec_db, bytes) in records.iter().flat_map(|r| r.iter()) {
                rt.record(rec_db.unwrap_or(db), &[], Some(bytes.to_vec()));
            }
            if let Some(reply) = reply {
                return Some(reply);
            }
        }
    }
    None
}

fn dedup(mut v: Vec<usize>) -> Vec<usize> {
    v.sort_unstable();
    v.dedup();
    v
}

/// `CommandSpec::in_exec` of the blocking commands: [`run_in_exec`].
fn in_exec<'a>(
    conn: &'a mut Conn,
    held: &'a mesh::Held<'a>,
    args: &'a [Vec<u8>],
) -> futures::future::LocalBoxFuture<'a, ()> {
    Box::pin(run_in_exec(conn, held, args.to_vec()))
}

/// A blocking command queued in MULTI, run by EXEC while it holds the
/// shards of the command's keys: never blocks. What it would wait for
/// answers as a timeout (a null array), as Redis inside a transaction.
pub async fn run_in_exec(conn: &mut Conn, held: &mesh::Held<'_>, args: Vec<Vec<u8>>) {
    let parsed = match String::from_utf8_lossy(&args[0])
        .to_ascii_lowercase()
        .as_str()
    {
        "blpop" => keys_then_timeout(&args, |_| pop_op(End::Left, None)),
        "brpop" => keys_then_timeout(&args, |_| pop_op(End::Right, None)),
        "bzpopmin" => keys_then_timeout(&args, |_| zpop_op(false, None)),
        "bzpopmax" => keys_then_timeout(&args, |_| zpop_op(true, None)),
        "brpoplpush" => parse_move(&args, End::Right, End::Left, true),
        "blmove" => match (End::parse(&args[3]), End::parse(&args[4])) {
            (Some(from), Some(to)) => parse_move(&args, from, to, false),
            _ => Err(SYNTAX),
        },
        "blmpop" => parse_mpop(&args, |w| {
            End::parse(w).map(|end| BlockOp::ListPop { end, count: None })
        }),
        "bzmpop" => parse_mpop(&args, zpop_side),
        _ => Err("ERR unknown blocking command"),
    };
    let mut req = match parsed {
        Ok(r) => r,
        Err(e) => return conn.out.error(e),
    };
    let rt = conn.rt.clone();
    let shard_of = |k: &[u8]| rt.shard_of_slot(key_slot(k));
    if let (BlockOp::ListMove { dest_local, .. }, Some(dest)) = (&mut req.op, &req.dest) {
        *dest_local = shard_of(dest) == shard_of(&req.keys[0]);
    }
    let op = req.op.clone();
    match attempt_held(&rt, held, &req, &op, conn.db, conn.out.resp3).await {
        Some(reply) => conn.out.raw(&reply),
        // BLMOVE / BRPOPLPUSH answer as LMOVE would: a null bulk.
        None if matches!(op, BlockOp::ListMove { .. }) => conn.out.null(),
        None => conn.out.null_array(),
    }
}

fn wrongtype(resp3: bool) -> Vec<u8> {
    reg::error_reply(super::util::WRONGTYPE, resp3)
}

/// BZMPOP's MIN | MAX argument.
fn zpop_side(w: &[u8]) -> Option<BlockOp> {
    let max = if is(w, "min") {
        false
    } else if is(w, "max") {
        true
    } else {
        return None;
    };
    Some(BlockOp::ZPop { max, count: None })
}
