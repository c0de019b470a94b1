//! XINFO GROUPS, XINFO CONSUMERS, and the groups of XINFO STREAM FULL.

use super::group::nogroup;
use super::reply;
use crate::command::util::NO_SUCH_KEY;
use crate::command::Ctx;
use crate::resp::Out;
use crate::store::stream::{Group, Stream, INVALID_ENTRIES_READ};

/// A group's last-delivered-id, entries-read and lag (null: unknown).
fn progress(out: &mut Out, s: &Stream, g: &Group) {
    out.bulk(b"last-delivered-id");
    reply::id(out, g.last_id);
    out.bulk(b"entries-read");
    if g.entries_read == INVALID_ENTRIES_READ {
        out.null();
    } else {
        out.int(g.entries_read);
    }
    out.bulk(b"lag");
    match s.group_lag(g) {
        Some(l) => out.int(l),
        None => out.null(),
    }
}

pub(super) fn xinfo_groups(ctx: &mut Ctx, args: &[&[u8]]) {
    let s = stream_read!(ctx, args[2], ctx.out.error(NO_SUCH_KEY));
    let out = &mut *ctx.out;
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(6);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"consumers");
        out.int(g.consumers.len() as i64);
        out.bulk(b"pending");
        out.int(g.pel.len() as i64);
        progress(out, s, g);
    }
}

pub(super) fn xinfo_consumers(ctx: &mut Ctx, args: &[&[u8]]) {
    let now = ctx.now_ms;
    let s = stream_read!(ctx, args[2], ctx.out.error(NO_SUCH_KEY));
    let Some(g) = s.groups.get(args[3]) else {
        return nogroup(ctx, args[2], args[3]);
    };
    let out = &mut *ctx.out;
    out.array(g.consumers.len());
    for (name, c) in &g.consumers {
        out.map(3);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"pending");
        out.int(c.pel.len() as i64);
        out.bulk(b"idle");
        out.int(now.saturating_sub(c.seen_time) as i64);
    }
}

/// The `groups` value of XINFO STREAM FULL: at most `count` (0: all)
/// pending entries per group and per consumer.
pub(super) fn full(out: &mut Out, s: &Stream, count: u64) {
    let count = if count == 0 {
        usize::MAX
    } else {
        count as usize
    };
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        progress(out, s, g);
        out.bulk(b"pel-count");
        out.int(g.pel.len() as i64);
        out.bulk(b"pending");
        out.array(g.pel.len().min(count));
        for (id, n) in g.pel.iter().take(count) {
            out.array(4);
            reply::id(out, *id);
            out.bulk(&n.consumer);
            out.int(n.delivery_time as i64);
            out.int(n.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            out.map(4);
            out.bulk(b"name");
            out.bulk(cname);
            out.bulk(b"seen-time");
            out.int(c.seen_time as i64);
            out.bulk(b"pel-count");
            out.int(c.pel.len() as i64);
            out.bulk(b"pending");
            out.array(c.pel.len().min(count));
            for id in c.pel.iter().take(count) {
                let n = &g.pel[id];
                out.array(3);
                reply::id(out, *id);
                out.int(n.delivery_time as i64);
                out.int(n.delivery_count as i64);
            }
        }
    }
}
