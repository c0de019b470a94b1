//! XDEL: flags entries deleted; the stream's first ID and largest
//! deleted ID follow.

use super::id::strict;
use crate::command::{Class, Ctx};

pub(super) fn xdel(ctx: &mut Ctx, args: &[&[u8]]) {
    let key = args[1];
    let s = stream_write!(ctx, key, ctx.out.int(0));
    let mut ids = Vec::with_capacity(args.len() - 2);
    for a in &args[2..] {
        match strict(a) {
            Ok(id) => ids.push(id),
            Err(e) => return ctx.out.error(e),
        }
    }
    let mut deleted = 0u64;
    let mut first_entry = false;
    for id in ids {
        if s.delete(id) {
            first_entry |= id == s.first_id;
            if id > s.max_deleted {
                s.max_deleted = id;
            }
            deleted += 1;
        }
    }
    if deleted > 0 {
        if s.length == 0 {
            s.first_id = Default::default();
        } else if first_entry {
            s.refresh_first_id();
        }
        ctx.notify(Class::Stream, "xdel", key);
        ctx.dirty += deleted;
    }
    ctx.out.int(deleted as i64);
}
