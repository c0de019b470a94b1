//! XINFO STREAM [FULL [COUNT n]] and XINFO HELP (groups: info_groups).

use super::reply;
use crate::command::util::{arg_i64, is, NOT_INTEGER, NO_SUCH_KEY};
use crate::command::Ctx;
use crate::store::stream::{Node, NodeEntry, StreamId};

const HELP: &[&str] = &[
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
];

pub(super) fn xinfo_help(ctx: &mut Ctx, _: &[&[u8]]) {
    crate::command::help::reply_help(ctx.out, "XINFO", HELP);
}

fn syntax(ctx: &mut Ctx, args: &[&[u8]]) {
    let sub = String::from_utf8_lossy(&args[1][..args[1].len().min(128)]).into_owned();
    ctx.out.error(&format!(
        "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try XINFO HELP."
    ));
}

pub(super) fn xinfo_stream(ctx: &mut Ctx, args: &[&[u8]]) {
    let opts = &args[3..];
    let full = !opts.is_empty();
    let mut count: u64 = 10;
    if full {
        if (opts.len() != 1 && opts.len() != 3) || !is(opts[0], "full") {
            return syntax(ctx, args);
        }
        if opts.len() == 3 {
            if !is(opts[1], "count") {
                return syntax(ctx, args);
            }
            match arg_i64(opts[2]) {
                None => return ctx.out.error(NOT_INTEGER),
                Some(c) if c < 0 => count = 10,
                Some(c) => count = c as u64,
            }
        }
    }
    let s = stream_read!(ctx, args[2], ctx.out.error(NO_SUCH_KEY));
    let out = &mut *ctx.out;
    out.map(if full { 9 } else { 10 });
    out.bulk(b"length");
    out.int(s.length as i64);
    out.bulk(b"radix-tree-keys");
    out.int(s.nodes.len() as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(s.rax_nodes() as i64);
    out.bulk(b"last-generated-id");
    reply::id(out, s.last_id);
    out.bulk(b"max-deleted-entry-id");
    reply::id(out, s.max_deleted);
    out.bulk(b"entries-added");
    out.int(s.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    reply::id(out, s.first_id);
    if !full {
        out.bulk(b"groups");
        out.int(s.groups.len() as i64);
        for (name, rev) in [(&b"first-entry"[..], false), (b"last-entry", true)] {
            out.bulk(name);
            let mut edge: Option<(&Node, &NodeEntry)> = None;
            s.range(StreamId::MIN, StreamId::MAX, rev, &mut |n, e| {
                edge = Some((n, e));
                false
            });
            match edge {
                Some((n, e)) => reply::entry(out, n, e),
                None => out.null(),
            }
        }
    } else {
        out.bulk(b"entries");
        reply::range(out, s, StreamId::MIN, StreamId::MAX, count, false);
        out.bulk(b"groups");
        super::info_groups::full(out, s, count);
    }
}
