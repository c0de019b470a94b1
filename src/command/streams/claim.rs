//! XCLAIM key group consumer min-idle id... [IDLE ms] [TIME ms]
//! [RETRYCOUNT n] [FORCE] [JUSTID] [LASTID id] and XAUTOCLAIM key group
//! consumer min-idle start [COUNT n] [JUSTID] (xclaimCommand,
//! xautoclaimCommand).
//!
//! Each entry claimed (or dropped from the PEL because the stream no
//! longer holds it) is logged as the idempotent XCLAIM Redis propagates
//! (propagate.rs), never the command itself.

use super::id::{interval, parse as parse_id, strict};
use super::pending::nogroup;
use super::propagate;
use super::reply;
use crate::command::util::{arg_i64, is, SYNTAX, WRONGTYPE};
use crate::command::{Class, Ctx};
use crate::resp::Out;
use crate::store::stream::{Group, Nack, Stream, StreamId};
use crate::store::Value;

/// What a claim did, applied once the stream is released.
#[derive(Default)]
struct Done {
    log: Vec<Vec<Vec<u8>>>,
    dirty: u64,
    consumer_created: bool,
}

/// The consumer claiming, looked up (its seen time refreshed) or created.
fn claimer(g: &mut Group, name: &[u8], now: u64, done: &mut Done) {
    match g.consumers.get_mut(name) {
        Some(c) => c.seen_time = now,
        None => {
            g.create_consumer(name, now);
            done.consumer_created = true;
        }
    }
}

/// An entry claimed: its ID (JUSTID) or the entry.
fn claimed(out: &mut Out, s: &Stream, id: StreamId, justid: bool) {
    if justid {
        return reply::id(out, id);
    }
    s.range(id, id, false, &mut |n, e| {
        reply::entry(out, n, e);
        false
    });
}

/// The key's stream and the group, or the error replied (WRONGTYPE, then
/// NOGROUP), as the two commands check.
macro_rules! group_or_reply {
    ($ctx:ident, $key:expr, $group:expr) => {{
        let ok = match $ctx.lookup_read($key).map(|e| &e.value) {
            Some(Value::Stream(s)) => s.groups.contains_key($group),
            Some(_) => return $ctx.out.error(WRONGTYPE),
            None => false,
        };
        if !ok {
            return nogroup($ctx, $key, $group);
        }
    }};
}

/// The stream at `key` (checked by [`group_or_reply!`]) with its group
/// `name` taken out, to be put back by [`put_back`].
fn take_group<'a>(ctx: &'a mut Ctx, key: &[u8], name: &[u8]) -> (&'a mut Stream, Group) {
    let (db, now) = (ctx.db, ctx.now_ms);
    let Some(Value::Stream(s)) = ctx.store.dbs[db].lookup(key, now).map(|e| &mut e.value) else {
        unreachable!("checked")
    };
    let g = s.groups.remove(name).expect("checked");
    (s, g)
}

fn put_back(ctx: &mut Ctx, key: &[u8], done: Done) {
    if done.consumer_created {
        ctx.dirty += 1;
        ctx.notify(Class::Stream, "xgroup-createconsumer", key);
    }
    ctx.dirty += done.dirty;
    ctx.propagate_nothing();
    for args in &done.log {
        ctx.propagate_as(args);
    }
}

/// XCLAIM's options after the IDs.
struct Options {
    delivery_time: Option<i64>,
    retry_count: Option<i64>,
    force: bool,
    justid: bool,
    last_id: StreamId,
}

fn options(args: &[&[u8]], now: u64) -> Result<Options, String> {
    let mut o = Options {
        delivery_time: None,
        retry_count: None,
        force: false,
        justid: false,
        last_id: StreamId::MIN,
    };
    let int = |a: &[u8], what: &str| {
        arg_i64(a).ok_or_else(|| format!("ERR Invalid {what} option argument for XCLAIM"))
    };
    let mut j = 0;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = args[j];
        if is(opt, "force") {
            o.force = true;
        } else if is(opt, "justid") {
            o.justid = true;
        } else if is(opt, "idle") && more > 0 {
            j += 1;
            o.delivery_time = Some((now as i64).wrapping_sub(int(args[j], "IDLE")?));
        } else if is(opt, "time") && more > 0 {
            j += 1;
            o.delivery_time = Some(int(args[j], "TIME")?);
        } else if is(opt, "retrycount") && more > 0 {
            j += 1;
            o.retry_count = Some(int(args[j], "RETRYCOUNT")?);
        } else if is(opt, "lastid") && more > 0 {
            j += 1;
            o.last_id = strict(args[j]).map_err(str::to_string)?;
        } else {
            return Err(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                String::from_utf8_lossy(opt)
            ));
        }
        j += 1;
    }
    Ok(o)
}

pub(super) fn xclaim(ctx: &mut Ctx, args: &[&[u8]]) {
    let (key, group, name) = (args[1], args[2], args[3]);
    group_or_reply!(ctx, key, group);
    let Some(min_idle) = arg_i64(args[4]) else {
        return ctx
            .out
            .error("ERR Invalid min-idle-time argument for XCLAIM");
    };
    let min_idle = min_idle.max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match parse_id(args[j], 0, true, false) {
            Ok((id, _)) => ids.push((id, args[j])),
            Err(_) => break,
        }
        j += 1;
    }
    let now = ctx.now_ms;
    let o = match options(&args[j..], now) {
        Ok(o) => o,
        Err(e) => return ctx.out.error(&e),
    };
    let delivery_time = match o.delivery_time {
        Some(t) if t >= 0 && t as u64 <= now => t as u64,
        _ => now,
    };
    let mut body = Out::new(ctx.out.resp3);
    let mut n = 0;
    let mut done = Done::default();
    let (s, mut g) = take_group(ctx, key, group);
    let mut propagate_last_id = false;
    if o.last_id > g.last_id {
        g.last_id = o.last_id;
        propagate_last_id = true;
    }
    let mut have_consumer = false;
    for (id, arg) in ids {
        if !s.contains(id) {
            // Gone from the stream: dropped from the PEL too.
            if let Some(nack) = g.remove_pending(id) {
                done.log
                    .push(propagate::xclaim(key, group, arg, &nack, g.last_id));
                propagate_last_id = false;
                done.dirty += 1;
            }
            continue;
        }
        let forced = o.force && !g.pel.contains_key(&id);
        if forced {
            g.pel.insert(
                id,
                Nack {
                    delivery_time: now,
                    delivery_count: 1,
                    consumer: name.to_vec(),
                },
            );
        }
        let Some(nack) = g.pel.get(&id) else {
            continue;
        };
        if !forced && min_idle > 0 && (now as i64 - nack.delivery_time as i64) < min_idle {
            continue;
        }
        if !have_consumer {
            claimer(&mut g, name, now, &mut done);
            have_consumer = true;
        }
        let nack = g.assign(id, name).expect("pending");
        nack.delivery_time = delivery_time;
        match o.retry_count {
            Some(c) if c >= 0 => nack.delivery_count = c as u64,
            _ if !o.justid => nack.delivery_count += 1,
            _ => {}
        }
        claimed(&mut body, s, id, o.justid);
        n += 1;
        done.log
            .push(propagate::xclaim(key, group, arg, &g.pel[&id], g.last_id));
        propagate_last_id = false;
        done.dirty += 1;
    }
    if propagate_last_id {
        done.log.push(propagate::setid(key, group, &g));
        done.dirty += 1;
    }
    s.groups.insert(group.to_vec(), g);
    ctx.out.array(n);
    ctx.out.raw(&body.buf);
    put_back(ctx, key, done);
}

/// `LONG_MAX / max(sizeof(streamID), attempts_factor)`.
const AUTOCLAIM_MAX_COUNT: i64 = i64::MAX / 16;
/// Entries looked at per entry that may be claimed.
const ATTEMPTS_FACTOR: i64 = 10;

pub(super) fn xautoclaim(ctx: &mut Ctx, args: &[&[u8]]) {
    let (key, group, name) = (args[1], args[2], args[3]);
    let Some(min_idle) = arg_i64(args[4]) else {
        return ctx
            .out
            .error("ERR Invalid min-idle-time argument for XAUTOCLAIM");
    };
    let min_idle = min_idle.max(0);
    let mut start = match interval(args[5], 0) {
        Ok((id, false)) => id,
        Ok((id, true)) => match id.incr() {
            Some(id) => id,
            None => return ctx.out.error("ERR invalid start ID for the interval"),
        },
        Err(e) => return ctx.out.error(e),
    };
    let (mut count, mut justid) = (100i64, false);
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if is(args[j], "count") && more > 0 {
            match arg_i64(args[j + 1]) {
                Some(c) if (1..=AUTOCLAIM_MAX_COUNT).contains(&c) => count = c,
                _ => return ctx.out.error("ERR COUNT must be > 0"),
            }
            j += 1;
        } else if is(args[j], "justid") {
            justid = true;
        } else {
            return ctx.out.error(SYNTAX);
        }
        j += 1;
    }
    group_or_reply!(ctx, key, group);
    let now = ctx.now_ms;
    let mut attempts = count.saturating_mul(ATTEMPTS_FACTOR);
    let mut body = Out::new(ctx.out.resp3);
    let (mut n, mut deleted) = (0, Vec::new());
    let mut done = Done::default();
    let (s, mut g) = take_group(ctx, key, group);
    let mut have_consumer = false;
    let mut next: Option<StreamId>;
    loop {
        next = g.pel.range(start..).next().map(|(id, _)| *id);
        if attempts == 0 || count == 0 {
            break;
        }
        attempts -= 1;
        let Some(id) = next else {
            break;
        };
        // The cursor moves past `id` whatever happens to it.
        start = match id.incr() {
            Some(i) => i,
            None => {
                // The last possible ID: nothing follows.
                next = None;
                StreamId::MAX
            }
        };
        if !s.contains(id) {
            let nack = g.remove_pending(id).expect("pending");
            done.log.push(propagate::xclaim(
                key,
                group,
                &id.to_bytes(),
                &nack,
                g.last_id,
            ));
            done.dirty += 1;
            deleted.push(id);
            count -= 1;
        } else if min_idle == 0 || now as i64 - g.pel[&id].delivery_time as i64 >= min_idle {
            if !have_consumer {
                claimer(&mut g, name, now, &mut done);
                have_consumer = true;
            }
            let nack = g.assign(id, name).expect("pending");
            nack.delivery_time = now;
            if !justid {
                nack.delivery_count += 1;
            }
            claimed(&mut body, s, id, justid);
            n += 1;
            count -= 1;
            done.log.push(propagate::xclaim(
                key,
                group,
                &id.to_bytes(),
                &g.pel[&id],
                g.last_id,
            ));
            done.dirty += 1;
        }
        if id == StreamId::MAX {
            break;
        }
    }
    s.groups.insert(group.to_vec(), g);
    let out = &mut *ctx.out;
    out.array(3);
    reply::id(out, next.unwrap_or_default());
    out.array(n);
    out.raw(&body.buf);
    out.array(deleted.len());
    for id in deleted {
        reply::id(out, id);
    }
    put_back(ctx, key, done);
}
