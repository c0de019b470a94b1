//! ZRANDMEMBER.

use super::reply::{bulk_lp, emit, range_header};
use crate::command::util::{arg_i64, is, NOT_INTEGER, SYNTAX};
use crate::command::Ctx;
use crate::store::zset::ZSet;

pub(super) fn zrandmember(ctx: &mut Ctx, args: &[&[u8]]) {
    if args.len() >= 3 {
        let l = match arg_i64(args[2]) {
            None => return ctx.out.error(NOT_INTEGER),
            Some(l) if l == i64::MIN => {
                return ctx.out.error(
                    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                )
            }
            Some(l) => l,
        };
        let withscores = match args.len() {
            3 => false,
            4 if is(args[3], "withscores") => true,
            _ => return ctx.out.error(SYNTAX),
        };
        // Twice as many replies with scores: Redis refuses what would
        // overflow that.
        if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
            return ctx.out.error("ERR value is out of range");
        }
        return zrandmember_count(ctx, args[1], l, withscores);
    }
    let z = zset_read!(ctx, args[1], ctx.out.null());
    let (m, _) = z.random(crate::command::shard_random());
    bulk_lp(ctx.out, m);
}

pub(super) fn zrandmember_count(ctx: &mut Ctx, key: &[u8], l: i64, withscores: bool) {
    let z = zset_read!(ctx, key, ctx.out.array(0));
    let size = z.len();
    let (count, uniq) = if l >= 0 {
        (l as u64, true)
    } else {
        (l.unsigned_abs(), false)
    };
    if count == 0 {
        return ctx.out.array(0);
    }
    let out = &mut *ctx.out;
    // Repetitions allowed (or just one): independent draws.
    if !uniq || count == 1 {
        range_header(out, count as usize, withscores);
        for _ in 0..count {
            if out.over_cap() {
                return;
            }
            let (m, s) = z.random(crate::command::shard_random());
            emit(out, m, s, withscores);
        }
        return;
    }
    // The whole zset: Redis walks it from the highest rank down.
    if count as usize >= size {
        range_header(out, size, withscores);
        for (m, s) in z.iter_at(size - 1, true) {
            emit(out, m, s, withscores);
        }
        return;
    }
    // A random subset of distinct ranks.
    let count = count as usize;
    let mut picked: Vec<usize> = if count * 3 > size {
        // Drop random ranks from the full set until `count` remain.
        let mut all: Vec<usize> = (0..size).collect();
        while all.len() > count {
            let i = (crate::command::shard_random() % all.len() as u64) as usize;
            all.swap_remove(i);
        }
        all
    } else {
        let mut seen: crate::store::HashSet<usize> = Default::default();
        let mut v = Vec::with_capacity(count);
        while v.len() < count {
            let r = (crate::command::shard_random() % size as u64) as usize;
            if seen.insert(r) {
                v.push(r);
            }
        }
        v
    };
    if matches!(z, ZSet::Listpack(_)) {
        picked.sort_unstable();
    }
    range_header(out, count, withscores);
    for r in picked {
        let (m, s) = z.get(r);
        emit(out, m, s, withscores);
    }
}
