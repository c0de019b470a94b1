//! XACK key group id... (xackCommand): a missing key or group acks
//! nothing; every ID is parsed before any is acknowledged.

use super::id::strict;
use crate::command::util::WRONGTYPE;
use crate::command::Ctx;
use crate::store::Value;

pub(super) fn xack(ctx: &mut Ctx, args: &[&[u8]]) {
    let (key, group) = (args[1], args[2]);
    let Some(e) = ctx.lookup_read(key) else {
        return ctx.out.int(0);
    };
    let Value::Stream(s) = &mut e.value else {
        return ctx.out.error(WRONGTYPE);
    };
    let Some(g) = s.groups.get_mut(group) else {
        return ctx.out.int(0);
    };
    let mut ids = Vec::with_capacity(args.len() - 3);
    for a in &args[3..] {
        match strict(a) {
            Ok(id) => ids.push(id),
            Err(err) => return ctx.out.error(err),
        }
    }
    let mut acked = 0;
    for id in ids {
        if let Some(n) = g.pel.remove(&id) {
            if let Some(c) = g.consumers.get_mut(&n.consumer) {
                c.pel.remove(&id);
            }
            acked += 1;
        }
    }
    ctx.out.int(acked);
    ctx.dirty += acked as u64;
    // Redis 7.0 signals no modified key here.
    ctx.modified = Some(Vec::new());
}
