//! ZSCAN.

use crate::command::util::{arg_i64, is, NOT_INTEGER, SYNTAX};
use crate::command::Ctx;
use crate::store::zset::ZSet;

pub(super) fn zscan(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(cursor) = crate::command::scan::parse_cursor(args[2]) else {
        return ctx.out.error("ERR invalid cursor");
    };
    let z = zset_read!(ctx, args[1], {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
    });
    let mut count = 10i64;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 3;
    while i < args.len() {
        let left = args.len() - i;
        if is(args[i], "count") && left >= 2 {
            match arg_i64(args[i + 1]) {
                None => return ctx.out.error(NOT_INTEGER),
                Some(c) if c < 1 => return ctx.out.error(SYNTAX),
                Some(c) => count = c,
            }
            i += 2;
        } else if is(args[i], "match") && left >= 2 {
            let p = args[i + 1];
            pattern = if p == b"*" { None } else { Some(p) };
            i += 2;
        } else {
            return ctx.out.error(SYNTAX);
        }
    }
    let mut items: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let listpack = matches!(z, ZSet::Listpack(_));
    let next = z.scan(cursor, count as usize, |m, s| {
        if pattern.is_none_or(|p| crate::glob::matches(p, m, false)) {
            let score = if listpack {
                crate::store::zset::score_repr(s)
            } else {
                crate::resp::fmt_double(s).into_bytes()
            };
            items.push((m.to_vec(), score));
        }
    });
    let out = &mut *ctx.out;
    out.array(2);
    out.bulk(next.to_string().as_bytes());
    out.array(items.len() * 2);
    for (m, s) in &items {
        out.bulk(m);
        out.bulk(s);
    }
}
