//! ZUNION ZINTER ZDIFF, their STORE forms, ZINTERCARD.

use super::access::store_result;
use super::parse::parse_double;
use super::reply::{emit, range_header};
use crate::command::util::{arg_i64, is, NOT_INTEGER, SYNTAX, WRONGTYPE};
use crate::command::Ctx;
use crate::store::listpack::LpValue;
use crate::store::zset::ZSet;
use crate::store::Value;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Aggregate {
    Sum,
    Min,
    Max,
}

#[inline]
pub(super) fn aggregate(target: &mut f64, val: f64, agg: Aggregate) {
    match agg {
        Aggregate::Sum => {
            *target += val;
            // +inf + -inf: Redis keeps 0 by convention.
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if val < *target {
                *target = val
            }
        }
        Aggregate::Max => {
            if val > *target {
                *target = val
            }
        }
    }
}

/// An input of a set operation.
pub(super) enum Src<'a> {
    Missing,
    Z(&'a ZSet),
    S(&'a crate::store::Set),
}

impl Src<'_> {
    fn len(&self) -> usize {
        match self {
            Src::Missing => 0,
            Src::Z(z) => z.len(),
            Src::S(s) => s.len(),
        }
    }

    fn find(&self, m: &[u8]) -> Option<f64> {
        match self {
            Src::Missing => None,
            Src::Z(z) => z.score(m),
            Src::S(s) => s.contains(m).then_some(1.0),
        }
    }

    /// Every (member, score); zsets from the highest rank down, as Redis.
    fn for_each(&self, mut f: impl FnMut(&[u8], f64) -> bool) {
        let mut buf = Vec::new();
        match self {
            Src::Missing => {}
            Src::Z(z) => {
                if z.is_empty() {
                    return;
                }
                for (m, s) in z.iter_at(z.len() - 1, true) {
                    buf.clear();
                    m.write_to(&mut buf);
                    if !f(&buf, s) {
                        return;
                    }
                }
            }
            Src::S(set) => {
                for m in set.iter() {
                    buf.clear();
                    m.write_to(&mut buf);
                    if !f(&buf, 1.0) {
                        return;
                    }
                }
            }
        }
    }
}

pub(super) fn sort_items(items: &mut [(Vec<u8>, f64)]) {
    items.sort_unstable_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
}

pub(super) fn zunion(ctx: &mut Ctx, args: &[&[u8]]) {
    zsetop(ctx, args, "zunion", None, 1, SetOp::Union, false)
}
pub(super) fn zinter(ctx: &mut Ctx, args: &[&[u8]]) {
    zsetop(ctx, args, "zinter", None, 1, SetOp::Inter, false)
}
pub(super) fn zdiff(ctx: &mut Ctx, args: &[&[u8]]) {
    zsetop(ctx, args, "zdiff", None, 1, SetOp::Diff, false)
}
pub(super) fn zintercard(ctx: &mut Ctx, args: &[&[u8]]) {
    zsetop(ctx, args, "zintercard", None, 1, SetOp::Inter, true)
}
pub(super) fn zunionstore(ctx: &mut Ctx, args: &[&[u8]]) {
    zsetop(
        ctx,
        args,
        "zunionstore",
        Some(args[1]),
        2,
        SetOp::Union,
        false,
    )
}
pub(super) fn zinterstore(ctx: &mut Ctx, args: &[&[u8]]) {
    zsetop(
        ctx,
        args,
        "zinterstore",
        Some(args[1]),
        2,
        SetOp::Inter,
        false,
    )
}
pub(super) fn zdiffstore(ctx: &mut Ctx, args: &[&[u8]]) {
    zsetop(
        ctx,
        args,
        "zdiffstore",
        Some(args[1]),
        2,
        SetOp::Diff,
        false,
    )
}

/// Redis's `zunionInterDiffGenericCommand`.
pub(super) fn zsetop(
    ctx: &mut Ctx,
    args: &[&[u8]],
    name: &str,
    dst: Option<&[u8]>,
    numkeys_idx: usize,
    op: SetOp,
    card_only: bool,
) {
    let Some(setnum) = arg_i64(args[numkeys_idx]) else {
        return ctx.out.error(NOT_INTEGER);
    };
    if setnum < 1 {
        return ctx.out.error(&format!(
            "ERR at least 1 input key is needed for '{name}' command"
        ));
    }
    if setnum > (args.len() - (numkeys_idx + 1)) as i64 {
        return ctx.out.error(SYNTAX);
    }
    let setnum = setnum as usize;
    let keys = &args[numkeys_idx + 1..numkeys_idx + 1 + setnum];
    // Look every key up (hits, misses, lazy expiry, type) before options.
    for k in keys {
        if let Some(e) = ctx.lookup_read(k) {
            if !matches!(e.value, Value::ZSet(_) | Value::Set(_)) {
                return ctx.out.error(WRONGTYPE);
            }
        }
    }
    let mut weights = vec![1.0f64; setnum];
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0i64;
    let mut j = numkeys_idx + 1 + setnum;
    while j < args.len() {
        let remaining = args.len() - j;
        let a = args[j];
        if op != SetOp::Diff && !card_only && remaining > setnum && is(a, "weights") {
            j += 1;
            for w in weights.iter_mut() {
                match parse_double(args[j]) {
                    Some(v) => *w = v,
                    None => return ctx.out.error("ERR weight value is not a float"),
                }
                j += 1;
            }
        } else if op != SetOp::Diff && !card_only && remaining >= 2 && is(a, "aggregate") {
            let v = args[j + 1];
            agg = if is(v, "sum") {
                Aggregate::Sum
            } else if is(v, "min") {
                Aggregate::Min
            } else if is(v, "max") {
                Aggregate::Max
            } else {
                return ctx.out.error(SYNTAX);
            };
            j += 2;
        } else if dst.is_none() && !card_only && is(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && is(a, "limit") {
            match arg_i64(args[j + 1]) {
                Some(l) if l >= 0 => limit = l,
                _ => return ctx.out.error("ERR LIMIT can't be negative"),
            }
            j += 2;
        } else {
            return ctx.out.error(SYNTAX);
        }
    }
    let now = ctx.now_ms;
    let result: Vec<(Vec<u8>, f64)>;
    let mut card = 0u64;
    {
        let db = &ctx.store.dbs[ctx.db];
        let mut srcs: Vec<(Src, f64)> = keys
            .iter()
            .zip(&weights)
            .map(|(k, &w)| {
                let src = match db.peek(k, now).map(|e| &e.value) {
                    Some(Value::ZSet(z)) => Src::Z(z),
                    Some(Value::Set(s)) => Src::S(s),
                    _ => Src::Missing,
                };
                (src, w)
            })
            .collect();
        if op != SetOp::Diff {
            // Smallest first (a stable sort, as glibc's qsort behaves here).
            srcs.sort_by_key(|(s, _)| s.len());
        }
        let mut items = Vec::new();
        match op {
            SetOp::Inter => {
                if srcs[0].0.len() > 0 {
                    let (first, rest) = srcs.split_first().unwrap();
                    first.0.for_each(|m, s| {
                        let mut score = first.1 * s;
                        if score.is_nan() {
                            score = 0.0;
                        }
                        for (src, w) in rest {
                            match src.find(m) {
                                Some(v) => aggregate(&mut score, v * w, agg),
                                None => return true,
                            }
                        }
                        if card_only {
                            card += 1;
                            return !(limit > 0 && card >= limit as u64);
                        }
                        items.push((m.to_vec(), score));
                        true
                    });
                }
            }
            SetOp::Union => {
                let mut acc: crate::store::Map<Vec<u8>, f64> = Default::default();
                acc.reserve(srcs.last().map_or(0, |s| s.0.len()));
                let mut order: Vec<Vec<u8>> = Vec::new();
                for (src, w) in &srcs {
                    src.for_each(|m, s| {
                        let mut score = w * s;
                        if score.is_nan() {
                            score = 0.0;
                        }
                        match acc.get_mut(m) {
                            Some(t) => aggregate(t, score, agg),
                            None => {
                                acc.insert(m.to_vec(), score);
                                order.push(m.to_vec());
                            }
                        }
                        true
                    });
                }
                items = order
                    .into_iter()
                    .map(|m| {
                        let s = acc[&m];
                        (m, s)
                    })
                    .collect();
            }
            SetOp::Diff => {
                let (first, rest) = srcs.split_first().unwrap();
                first.0.for_each(|m, s| {
                    if !rest.iter().any(|(src, _)| src.find(m).is_some()) {
                        items.push((m.to_vec(), s));
                    }
                    true
                });
            }
        }
        sort_items(&mut items);
        result = items;
    }
    if card_only {
        return ctx.out.int(card as i64);
    }
    if let Some(d) = dst {
        return store_result(ctx, d, result, name);
    }
    range_header(ctx.out, result.len(), withscores);
    for (m, s) in &result {
        emit(ctx.out, LpValue::Str(m), *s, withscores);
    }
}
