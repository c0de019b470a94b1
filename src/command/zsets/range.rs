//! ZRANGE and its older forms (ZREVRANGE, ZRANGEBYSCORE, ZRANGEBYLEX, ...),
//! ZRANGESTORE.

use super::access::store_result;
use super::parse::{parse_lex_range, parse_score_range, NOT_FLOAT_RANGE, NOT_LEX_RANGE};
use super::remrange::RangeType;
use super::reply::{emit, range_header};
use crate::command::util::{arg_i64, is, NOT_INTEGER, SYNTAX};
use crate::command::Ctx;

pub(super) fn zrange(ctx: &mut Ctx, args: &[&[u8]]) {
    zrange_generic(ctx, args, 1, None, RangeType::Auto, None)
}

pub(super) fn zrangestore(ctx: &mut Ctx, args: &[&[u8]]) {
    zrange_generic(ctx, args, 2, Some(args[1]), RangeType::Auto, None)
}

pub(super) fn zrevrange(ctx: &mut Ctx, args: &[&[u8]]) {
    zrange_generic(ctx, args, 1, None, RangeType::Rank, Some(true))
}

pub(super) fn zrangebyscore(ctx: &mut Ctx, args: &[&[u8]]) {
    zrange_generic(ctx, args, 1, None, RangeType::Score, Some(false))
}

pub(super) fn zrevrangebyscore(ctx: &mut Ctx, args: &[&[u8]]) {
    zrange_generic(ctx, args, 1, None, RangeType::Score, Some(true))
}

pub(super) fn zrangebylex(ctx: &mut Ctx, args: &[&[u8]]) {
    zrange_generic(ctx, args, 1, None, RangeType::Lex, Some(false))
}

pub(super) fn zrevrangebylex(ctx: &mut Ctx, args: &[&[u8]]) {
    zrange_generic(ctx, args, 1, None, RangeType::Lex, Some(true))
}

/// Redis's `zrangeGenericCommand`: `<src> <min> <max> [BYSCORE | BYLEX]
/// [REV] [WITHSCORES] [LIMIT offset count]` from `argc_start`; `dst` for
/// ZRANGESTORE; `dir` None = from the arguments (Some(true) = reverse).
pub(super) fn zrange_generic(
    ctx: &mut Ctx,
    args: &[&[u8]],
    argc_start: usize,
    dst: Option<&[u8]>,
    mut rt: RangeType,
    dir: Option<bool>,
) {
    let key = args[argc_start];
    let mut minidx = argc_start + 1;
    let mut maxidx = argc_start + 2;
    let mut withscores = false;
    let mut offset = 0i64;
    let mut limit = -1i64;
    let mut rev = dir;
    let mut j = argc_start + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = args[j];
        if dst.is_none() && is(a, "withscores") {
            withscores = true;
        } else if is(a, "limit") && left >= 2 {
            match (arg_i64(args[j + 1]), arg_i64(args[j + 2])) {
                (Some(o), Some(l)) => (offset, limit) = (o, l),
                _ => return ctx.out.error(NOT_INTEGER),
            }
            j += 2;
        } else if rev.is_none() && is(a, "rev") {
            rev = Some(true);
        } else if rt == RangeType::Auto && is(a, "bylex") {
            rt = RangeType::Lex;
        } else if rt == RangeType::Auto && is(a, "byscore") {
            rt = RangeType::Score;
        } else {
            return ctx.out.error(SYNTAX);
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    if rt == RangeType::Auto {
        rt = RangeType::Rank;
    }
    if limit != -1 && rt == RangeType::Rank {
        return ctx.out.error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
    }
    if withscores && rt == RangeType::Lex {
        return ctx
            .out
            .error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    }
    if rev && rt != RangeType::Rank {
        std::mem::swap(&mut minidx, &mut maxidx);
    }
    let (mut start, mut end) = (0i64, 0i64);
    let mut srange = None;
    let mut lrange = None;
    match rt {
        RangeType::Score => match parse_score_range(args[minidx], args[maxidx]) {
            Some(r) => srange = Some(r),
            None => return ctx.out.error(NOT_FLOAT_RANGE),
        },
        RangeType::Lex => match parse_lex_range(args[minidx], args[maxidx]) {
            Some(r) => lrange = Some(r),
            None => return ctx.out.error(NOT_LEX_RANGE),
        },
        _ => match (arg_i64(args[minidx]), arg_i64(args[maxidx])) {
            (Some(a), Some(b)) => (start, end) = (a, b),
            _ => return ctx.out.error(NOT_INTEGER),
        },
    }
    let z = zset_read!(
        ctx,
        key,
        match dst {
            Some(d) => store_result(ctx, d, Vec::new(), "zrangestore"),
            None => ctx.out.array(0),
        }
    );
    // The span [s, e) in ascending ranks, walked from s up or e-1 down.
    let (s, e) = match rt {
        RangeType::Rank => {
            let llen = z.len() as i64;
            if start < 0 {
                start += llen;
            }
            if end < 0 {
                end += llen;
            }
            start = start.max(0);
            if start > end || start >= llen {
                (0, 0)
            } else {
                end = end.min(llen - 1);
                if rev {
                    ((llen - 1 - end) as usize, (llen - start) as usize)
                } else {
                    (start as usize, end as usize + 1)
                }
            }
        }
        _ => {
            let (s, e) = match rt {
                RangeType::Score => z.score_span(srange.as_ref().unwrap()),
                _ => z.lex_span(lrange.as_ref().unwrap(), rev),
            };
            // Redis walks `offset` items first (a negative offset walks
            // off the end), then takes `limit` (negative: all).
            let avail = (e - s) as i64;
            if offset < 0 || offset >= avail {
                (0, 0)
            } else {
                let take = if limit < 0 {
                    avail - offset
                } else {
                    limit.min(avail - offset)
                };
                let off = offset as usize;
                let take = take as usize;
                if rev {
                    (e - off - take, e - off)
                } else {
                    (s + off, s + off + take)
                }
            }
        }
    };
    let n = e - s;
    if let Some(d) = dst {
        let items: Vec<(Vec<u8>, f64)> = z
            .iter_at(s, false)
            .take(n)
            .map(|(m, sc)| (m.to_vec(), sc))
            .collect();
        // Ascending already; ZRANGESTORE keeps the set, not the order.
        return store_result(ctx, d, items, "zrangestore");
    }
    range_header(ctx.out, n, withscores);
    if n == 0 {
        return;
    }
    let it = if rev {
        z.iter_at(e - 1, true)
    } else {
        z.iter_at(s, false)
    };
    for (m, sc) in it.take(n) {
        emit(ctx.out, m, sc, withscores);
    }
}
