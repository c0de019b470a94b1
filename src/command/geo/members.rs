//! GEOPOS, GEODIST and GEOHASH: facts about named members.

use super::distance::distance;
use super::geohash::{decode_score, standard_string};
use super::lookup::read_zset;
use super::reply;
use super::units::unit_or_reply;
use crate::command::util::SYNTAX;
use crate::command::Ctx;

pub(super) fn geopos(ctx: &mut Ctx, args: &[&[u8]]) {
    let Ok((z, out)) = read_zset(ctx, args[1]) else {
        return;
    };
    out.array(args.len() - 2);
    for member in &args[2..] {
        match z.and_then(|z| z.score(member)).and_then(decode_score) {
            Some((lon, lat)) => {
                out.array(2);
                reply::coordinate(out, lon);
                reply::coordinate(out, lat);
            }
            None => out.null_array(),
        }
    }
}

pub(super) fn geohash(ctx: &mut Ctx, args: &[&[u8]]) {
    let Ok((z, out)) = read_zset(ctx, args[1]) else {
        return;
    };
    out.array(args.len() - 2);
    for member in &args[2..] {
        match z.and_then(|z| z.score(member)).and_then(standard_string) {
            Some(hash) => out.bulk(&hash),
            None => out.null(),
        }
    }
}

/// GEODIST key member1 member2 [unit]
pub(super) fn geodist(ctx: &mut Ctx, args: &[&[u8]]) {
    let to_meters = match args.len() {
        5 => match unit_or_reply(ctx.out, args[4]) {
            Some(u) => u,
            None => return,
        },
        4 => 1.0,
        _ => return ctx.out.error(SYNTAX),
    };
    let Ok((z, out)) = read_zset(ctx, args[1]) else {
        return;
    };
    let Some(z) = z else {
        return out.null();
    };
    let point = |m: &[u8]| z.score(m).map(decode_score);
    match (point(args[2]), point(args[3])) {
        (Some(Some((x1, y1))), Some(Some((x2, y2)))) => {
            reply::distance(out, distance(x1, y1, x2, y2) / to_meters)
        }
        _ => out.null(),
    }
}
