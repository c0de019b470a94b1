//! XADD and XTRIM, with their shared trimming options
//! (streamParseAddOrTrimArgsOrReply), and what they propagate: the ID
//! generated, and an approximate trim as the exact one it did.

use super::id::{self, strict};
use super::reply;
use crate::command::util::{arg_i64, is, NOT_INTEGER, SYNTAX};
use crate::command::{Class, Ctx};
use crate::store::stream::{AddError, Stream, StreamId, Trim, TrimBy};
use crate::store::{PackedBox, Value};

const BOTH: &str = "ERR syntax error, MAXLEN and MINID options at the same time are not compatible";

/// The parsed options.
#[derive(Default)]
struct Opts {
    trim: Option<(TrimBy, bool)>,
    /// Index of the MAXLEN/MINID argument (rewritten when approximate).
    trim_arg: usize,
    limit: Option<i64>,
    /// Index of the LIMIT keyword.
    limit_arg: usize,
    nomkstream: bool,
    /// XADD: the ID argument's index, the ID (None: `*`), and whether its
    /// sequence was given.
    id_pos: usize,
    id: Option<(StreamId, bool)>,
}

fn parse(args: &[&[u8]], xadd: bool) -> Result<Opts, &'static str> {
    let mut o = Opts::default();
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let a = args[i];
        if xadd && a == b"*" {
            break;
        } else if (is(a, "maxlen") || is(a, "minid")) && more > 0 {
            if o.trim.is_some() {
                return Err(BOTH);
            }
            let next = args[i + 1];
            let approx = more >= 2 && next == b"~";
            if more >= 2 && (next == b"~" || next == b"=") {
                i += 1;
            }
            let by = if is(a, "maxlen") {
                let n = arg_i64(args[i + 1]).ok_or(NOT_INTEGER)?;
                if n < 0 {
                    return Err("ERR The MAXLEN argument must be >= 0.");
                }
                TrimBy::MaxLen(n as u64)
            } else {
                TrimBy::MinId(strict(args[i + 1])?)
            };
            i += 1;
            o.trim = Some((by, approx));
            o.trim_arg = i;
        } else if is(a, "limit") && more > 0 {
            let n = arg_i64(args[i + 1]).ok_or(NOT_INTEGER)?;
            if n < 0 {
                return Err("ERR The LIMIT argument must be >= 0.");
            }
            o.limit = Some(n);
            o.limit_arg = i;
            i += 1;
        } else if xadd && is(a, "nomkstream") {
            o.nomkstream = true;
        } else if xadd {
            o.id = Some(id::parse(a, 0, true, true)?);
            break;
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    o.id_pos = i;
    if o.limit.is_some_and(|l| l != 0) && o.trim.is_none() {
        return Err(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        );
    }
    if !xadd && o.trim.is_none() {
        return Err("ERR syntax error, XTRIM must be called with a trimming strategy");
    }
    if o.limit.is_some() && !o.trim.is_some_and(|(_, approx)| approx) {
        return Err("ERR syntax error, LIMIT cannot be used without the special ~ option");
    }
    Ok(o)
}

/// The trim to run, LIMIT defaulting as Redis's (100 nodes' worth for `~`).
fn trim_of(o: &Opts, node_max_entries: usize) -> Option<Trim> {
    let (by, approx) = o.trim?;
    let limit = match (approx, o.limit) {
        (false, _) => 0,
        (true, Some(l)) => l as u64,
        (true, None) => match 100u64.saturating_mul(node_max_entries as u64) {
            0 => 10000,
            l => l.min(1_000_000),
        },
    };
    Some(Trim { by, approx, limit })
}

/// `args` as propagated after an approximate trim: `~` becomes `=`, the
/// goal what the stream now is (streamRewriteTrimArgument). Redis keeps
/// a LIMIT, which its replicas and AOF loading ignore; it is dropped here,
/// as an exact trim with LIMIT is an error for a client's command.
fn rewrite_trim(args: &mut Vec<Vec<u8>>, o: &Opts, s: &Stream) {
    let Some((by, true)) = o.trim else {
        return;
    };
    args[o.trim_arg - 1] = b"=".to_vec();
    args[o.trim_arg] = match by {
        TrimBy::MaxLen(_) => s.length.to_string().into_bytes(),
        TrimBy::MinId(_) => s.first_any_id().to_bytes(),
    };
    if o.limit.is_some() {
        args.drain(o.limit_arg..o.limit_arg + 2);
    }
}

pub(super) fn xadd(ctx: &mut Ctx, args: &[&[u8]]) {
    let o = match parse(args, true) {
        Ok(o) => o,
        Err(e) => return ctx.out.error(e),
    };
    let field_pos = o.id_pos + 1;
    if args.len() < field_pos + 2 || (args.len() - field_pos) % 2 == 1 {
        return ctx
            .out
            .error("ERR wrong number of arguments for 'xadd' command");
    }
    if o.id == Some((StreamId::MIN, true)) {
        return ctx
            .out
            .error("ERR The ID specified in XADD must be greater than 0-0");
    }
    let key = args[1];
    let lim = ctx.limits.encodings.stream_node;
    let trim = trim_of(&o, lim.max_entries);
    let now = ctx.now_ms;
    let lru = ctx.lru;
    if ctx.lookup_write(key).is_none() {
        if o.nomkstream {
            return ctx.out.null();
        }
        ctx.db()
            .set(key, Value::Stream(PackedBox::new(Stream::new())), lru);
    }
    let s = stream_write!(ctx, key, ctx.out.null());
    if s.last_id == StreamId::MAX {
        return ctx
            .out
            .error("ERR The stream has exhausted the last possible ID, unable to add more items");
    }
    let added = s
        .next_id(o.id.map(|(id, _)| id), o.id.is_none_or(|(_, seq)| seq), now)
        .and_then(|id| s.append(id, &args[field_pos..], lim).map(|_| id));
    let id = match added {
        Ok(id) => id,
        Err(AddError::NotGreater) => {
            return ctx.out.error(
                "ERR The ID specified in XADD is equal or smaller than the target stream top item",
            )
        }
        Err(AddError::TooBig) => return ctx.out.error("ERR Elements are too large to be stored"),
    };
    reply::id(ctx.out, id);
    let trimmed = trim.map(|t| s.trim(&t)).unwrap_or(0);
    let mut prop: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
    if !o.id.is_some_and(|(_, seq)| seq) {
        prop[o.id_pos] = id.to_bytes();
    }
    rewrite_trim(&mut prop, &o, s);
    ctx.notify(Class::Stream, "xadd", key);
    if trimmed > 0 {
        ctx.notify(Class::Stream, "xtrim", key);
    }
    ctx.dirty += 1;
    if prop.len() != args.len() || prop.iter().zip(args).any(|(p, a)| p != a) {
        ctx.propagate_as(&prop);
    }
}

pub(super) fn xtrim(ctx: &mut Ctx, args: &[&[u8]]) {
    let o = match parse(args, false) {
        Ok(o) => o,
        Err(e) => return ctx.out.error(e),
    };
    let key = args[1];
    let trim = trim_of(&o, ctx.limits.encodings.stream_node.max_entries).expect("a strategy");
    let s = stream_write!(ctx, key, ctx.out.int(0));
    let deleted = s.trim(&trim);
    if deleted > 0 {
        let mut prop: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
        rewrite_trim(&mut prop, &o, s);
        ctx.notify(Class::Stream, "xtrim", key);
        ctx.dirty += deleted;
        if trim.approx {
            ctx.propagate_as(&prop);
        }
    }
    ctx.out.int(deleted as i64);
}
