//! XPENDING key group [[IDLE ms] start end count [consumer]]
//! (xpendingCommand): the range and count are parsed before the key is
//! looked up, so syntax errors win as in Redis.

use super::id::interval;
use super::reply;
use crate::command::util::{arg_i64, is, NOT_INTEGER, SYNTAX, WRONGTYPE};
use crate::command::Ctx;
use crate::store::stream::StreamId;
use crate::store::Value;

/// The extended form's arguments.
struct Range<'a> {
    min_idle: i64,
    start: StreamId,
    end: StreamId,
    count: u64,
    consumer: Option<&'a [u8]>,
}

/// `-NOGROUP No such key '<key>' or consumer group '<group>'` (XPENDING,
/// XCLAIM, XAUTOCLAIM; XREADGROUP adds `in XREADGROUP ...`).
pub(super) fn nogroup_in(ctx: &mut Ctx, key: &[u8], group: &[u8], tail: &[u8]) {
    let msg = [
        &b"NOGROUP No such key '"[..],
        key,
        b"' or consumer group '",
        group,
        b"'",
        tail,
    ]
    .concat();
    ctx.out.error_bytes(&msg);
}

pub(super) fn nogroup(ctx: &mut Ctx, key: &[u8], group: &[u8]) {
    nogroup_in(ctx, key, group, b"")
}

fn parse_range<'a>(args: &[&'a [u8]]) -> Result<Range<'a>, &'static str> {
    let mut at = 3;
    let mut min_idle = 0;
    if is(args[3], "idle") {
        min_idle = arg_i64(args[4]).ok_or(NOT_INTEGER)?;
        if args.len() < 8 {
            return Err(SYNTAX);
        }
        at += 2;
    }
    let count = arg_i64(args[at + 2]).ok_or(NOT_INTEGER)?.max(0) as u64;
    let (mut start, ex) = interval(args[at], 0)?;
    if ex {
        start = start
            .incr()
            .ok_or("ERR invalid start ID for the interval")?;
    }
    let (mut end, ex) = interval(args[at + 1], u64::MAX)?;
    if ex {
        end = end.decr().ok_or("ERR invalid end ID for the interval")?;
    }
    Ok(Range {
        min_idle,
        start,
        end,
        count,
        consumer: args.get(at + 3).copied(),
    })
}

pub(super) fn xpending(ctx: &mut Ctx, args: &[&[u8]]) {
    let n = args.len();
    if n != 3 && !(6..=9).contains(&n) {
        return ctx.out.error(SYNTAX);
    }
    let range = if n >= 6 {
        match parse_range(args) {
            Ok(r) => Some(r),
            Err(e) => return ctx.out.error(e),
        }
    } else {
        None
    };
    let (key, group) = (args[1], args[2]);
    let now = ctx.now_ms;
    match ctx.lookup_read(key).map(|e| &e.value) {
        Some(Value::Stream(_)) | None => {}
        Some(_) => return ctx.out.error(WRONGTYPE),
    }
    let g = match ctx.store.dbs[ctx.db].peek(key, now).map(|e| &e.value) {
        Some(Value::Stream(s)) => s.groups.get(group),
        _ => None,
    };
    let Some(g) = g else {
        return nogroup(ctx, key, group);
    };
    let out = &mut *ctx.out;
    let Some(r) = range else {
        out.array(4);
        out.int(g.pel.len() as i64);
        let (Some((first, _)), Some((last, _))) = (g.pel.first_key_value(), g.pel.last_key_value())
        else {
            out.null();
            out.null();
            return out.null_array();
        };
        reply::id(out, *first);
        reply::id(out, *last);
        let owners: Vec<_> = g
            .consumers
            .iter()
            .filter(|(_, c)| !c.pel.is_empty())
            .collect();
        out.array(owners.len());
        for (name, c) in owners {
            out.array(2);
            out.bulk(name);
            out.bulk(c.pel.len().to_string().as_bytes());
        }
        return;
    };
    let ids: Vec<StreamId> = match r.consumer {
        Some(name) => match g.consumers.get(name) {
            None => return out.array(0),
            Some(c) => c.pel.range(r.start..).copied().collect(),
        },
        None => g.pel.range(r.start..).map(|(id, _)| *id).collect(),
    };
    let mut rows = Vec::new();
    for id in ids {
        if rows.len() as u64 >= r.count || id > r.end {
            break;
        }
        let nack = &g.pel[&id];
        let idle = now as i64 - nack.delivery_time as i64;
        if r.min_idle != 0 && idle < r.min_idle {
            continue;
        }
        rows.push((id, nack, idle.max(0)));
    }
    out.array(rows.len());
    for (id, nack, idle) in rows {
        out.array(4);
        reply::id(out, id);
        out.bulk(&nack.consumer);
        out.int(idle);
        out.int(nack.delivery_count as i64);
    }
}
