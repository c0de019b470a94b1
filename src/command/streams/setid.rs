//! XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id] (7.0's form).

use super::id::strict;
use crate::command::util::{arg_i64, is, NOT_INTEGER, NO_SUCH_KEY, SYNTAX};
use crate::command::{Class, Ctx};
use crate::store::stream::StreamId;

pub(super) fn xsetid(ctx: &mut Ctx, args: &[&[u8]]) {
    let id = match strict(args[2]) {
        Ok(id) => id,
        Err(e) => return ctx.out.error(e),
    };
    let mut entries_added: Option<u64> = None;
    let mut max_deleted = StreamId::MIN;
    let mut i = 3;
    while i < args.len() {
        let more = i + 1 < args.len();
        if is(args[i], "entriesadded") && more {
            match arg_i64(args[i + 1]) {
                None => return ctx.out.error(NOT_INTEGER),
                Some(n) if n < 0 => return ctx.out.error("ERR entries_added must be positive"),
                Some(n) => entries_added = Some(n as u64),
            }
        } else if is(args[i], "maxdeletedid") && more {
            match strict(args[i + 1]) {
                Err(e) => return ctx.out.error(e),
                Ok(m) if id < m => {
                    return ctx.out.error(
                        "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                    )
                }
                Ok(m) => max_deleted = m,
            }
        } else {
            return ctx.out.error(SYNTAX);
        }
        i += 2;
    }
    let key = args[1];
    let s = stream_write!(ctx, key, ctx.out.error(NO_SUCH_KEY));
    if s.length > 0 {
        if s.edge_id(false).is_some_and(|max| id < max) {
            return ctx.out.error(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            );
        }
        if entries_added.is_some_and(|n| s.length > n) {
            return ctx.out.error(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            );
        }
    }
    s.last_id = id;
    if let Some(n) = entries_added {
        s.entries_added = n;
    }
    if max_deleted != StreamId::MIN {
        s.max_deleted = max_deleted;
    }
    ctx.out.ok();
    ctx.dirty += 1;
    // Redis 7.0 signals no modified key here (WATCH, tracking).
    ctx.modified = Some(Vec::new());
    ctx.notify(Class::Stream, "xsetid", key);
}
