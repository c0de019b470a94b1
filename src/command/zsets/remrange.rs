//! ZREMRANGEBYRANK, ZREMRANGEBYSCORE, ZREMRANGEBYLEX.

use super::access::drop_if_empty;
use super::parse::{parse_lex_range, parse_score_range, NOT_FLOAT_RANGE, NOT_LEX_RANGE};
use crate::command::util::{arg_i64, NOT_INTEGER};
use crate::command::{Class, Ctx};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

pub(super) fn zremrangebyrank(ctx: &mut Ctx, args: &[&[u8]]) {
    zremrange(ctx, args, RangeType::Rank)
}

pub(super) fn zremrangebyscore(ctx: &mut Ctx, args: &[&[u8]]) {
    zremrange(ctx, args, RangeType::Score)
}

pub(super) fn zremrangebylex(ctx: &mut Ctx, args: &[&[u8]]) {
    zremrange(ctx, args, RangeType::Lex)
}

pub(super) fn zremrange(ctx: &mut Ctx, args: &[&[u8]], rt: RangeType) {
    let key = args[1];
    let (mut start, mut end) = (0i64, 0i64);
    let mut srange = None;
    let mut lrange = None;
    match rt {
        RangeType::Score => match parse_score_range(args[2], args[3]) {
            Some(r) => srange = Some(r),
            None => return ctx.out.error(NOT_FLOAT_RANGE),
        },
        RangeType::Lex => match parse_lex_range(args[2], args[3]) {
            Some(r) => lrange = Some(r),
            None => return ctx.out.error(NOT_LEX_RANGE),
        },
        _ => match (arg_i64(args[2]), arg_i64(args[3])) {
            (Some(a), Some(b)) => (start, end) = (a, b),
            _ => return ctx.out.error(NOT_INTEGER),
        },
    }
    let z = zset_write!(ctx, key, ctx.out.int(0));
    let (s, e) = match rt {
        RangeType::Score => z.score_span(srange.as_ref().unwrap()),
        RangeType::Lex => z.lex_span(lrange.as_ref().unwrap(), false),
        _ => {
            let llen = z.len() as i64;
            if start < 0 {
                start += llen;
            }
            if end < 0 {
                end += llen;
            }
            start = start.max(0);
            if start > end || start >= llen {
                return ctx.out.int(0);
            }
            end = end.min(llen - 1);
            (start as usize, end as usize + 1)
        }
    };
    let deleted = z.remove_span(s, e);
    if deleted > 0 {
        let event = match rt {
            RangeType::Score => "zremrangebyscore",
            RangeType::Lex => "zremrangebylex",
            _ => "zremrangebyrank",
        };
        ctx.notify(Class::Zset, event, key);
    }
    drop_if_empty(ctx, key);
    ctx.dirty += deleted as u64;
    ctx.out.int(deleted as i64);
}
