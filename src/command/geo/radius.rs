//! GEORADIUS, GEORADIUSBYMEMBER, their _RO forms, GEOSEARCH and
//! GEOSEARCHSTORE: one search (geo.c's georadiusGeneric), replied or
//! stored.

use super::lookup::read_zset;
use super::options::{parse, Form, Request, Sort};
use super::order::sort_first;
use super::reply;
use super::search::{members_in_shape, Point};
use crate::command::zsets::store_result_counting;
use crate::command::Ctx;
use crate::resp::Out;
use std::cmp::Ordering;

pub(super) fn georadius(ctx: &mut Ctx, args: &[&[u8]]) {
    search(
        ctx,
        args,
        1,
        Form::Radius {
            store_allowed: true,
        },
    )
}

pub(super) fn georadius_ro(ctx: &mut Ctx, args: &[&[u8]]) {
    search(
        ctx,
        args,
        1,
        Form::Radius {
            store_allowed: false,
        },
    )
}

pub(super) fn georadiusbymember(ctx: &mut Ctx, args: &[&[u8]]) {
    search(
        ctx,
        args,
        1,
        Form::ByMember {
            store_allowed: true,
        },
    )
}

pub(super) fn georadiusbymember_ro(ctx: &mut Ctx, args: &[&[u8]]) {
    search(
        ctx,
        args,
        1,
        Form::ByMember {
            store_allowed: false,
        },
    )
}

pub(super) fn geosearch(ctx: &mut Ctx, args: &[&[u8]]) {
    search(ctx, args, 1, Form::Search)
}

pub(super) fn geosearchstore(ctx: &mut Ctx, args: &[&[u8]]) {
    search(ctx, args, 2, Form::SearchStore)
}

fn search(ctx: &mut Ctx, args: &[&[u8]], src: usize, form: Form) {
    let Ok((z, out)) = read_zset(ctx, args[src]) else {
        return;
    };
    let Some(mut req) = parse(out, form, args, z) else {
        return;
    };
    let points = match (z, &req.shape) {
        (Some(z), Some(shape)) => {
            // COUNT without ANY means the nearest ones.
            if req.count != 0 && req.sort == Sort::None && !req.any {
                req.sort = Sort::Asc;
            }
            let limit = if req.any { req.count } else { 0 };
            let mut points = members_in_shape(z, shape, limit);
            let wanted = if req.count == 0 {
                points.len()
            } else {
                req.count
            };
            sort_points(&mut points, req.sort, wanted);
            points.truncate(wanted);
            for p in &mut points {
                p.dist /= shape.to_meters;
            }
            points
        }
        _ => Vec::new(),
    };
    match req.store {
        None => reply_points(out, &req, &points),
        Some(dst) => store_points(ctx, dst, &req, points, form),
    }
}

/// Orders by distance as Redis does (see `order`): the first `wanted`.
fn sort_points(points: &mut [Point], sort: Sort, wanted: usize) {
    let by_dist = |a: &Point, b: &Point| a.dist.partial_cmp(&b.dist).unwrap_or(Ordering::Equal);
    match sort {
        Sort::None => {}
        Sort::Asc => sort_first(points, wanted, by_dist),
        Sort::Desc => sort_first(points, wanted, |a, b| by_dist(b, a)),
    }
}

fn reply_points(out: &mut Out, req: &Request, points: &[Point]) {
    let extras = req.with_dist as usize + req.with_hash as usize + req.with_coord as usize;
    out.array(points.len());
    for p in points {
        if extras > 0 {
            out.array(extras + 1);
        }
        out.bulk(&p.member);
        if req.with_dist {
            reply::distance(out, p.dist);
        }
        if req.with_hash {
            out.int(p.score as i64);
        }
        if req.with_coord {
            out.array(2);
            reply::coordinate(out, p.lon);
            reply::coordinate(out, p.lat);
        }
    }
}

/// STORE / STOREDIST / GEOSEARCHSTORE: the points as a zset at `dst`
/// (scored by geohash or by distance), replying with their count.
fn store_points(ctx: &mut Ctx, dst: &[u8], req: &Request, points: Vec<Point>, form: Form) {
    let n = points.len() as u64;
    let mut items: Vec<(Vec<u8>, f64)> = points
        .into_iter()
        .map(|p| {
            let score = if req.store_dist { p.dist } else { p.score };
            (p.member, score)
        })
        .collect();
    items.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    items.dedup_by(|a, b| a.0 == b.0);
    let event = match form {
        Form::Search | Form::SearchStore => "geosearchstore",
        _ => "georadiusstore",
    };
    // Redis counts one change per stored member.
    store_result_counting(ctx, dst, items, event, n);
}
