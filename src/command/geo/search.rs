//! Finding a zset's members inside a circle or a box (geo.c's
//! membersOfAllNeighbors): each cell is a score range read in order.

use super::area::cells_to_search;
use super::distance::{distance, within_box};
use super::geohash::decode_score;
use crate::store::zset::{ScoreRange, ZSet};

/// A search area around `center` (longitude, latitude); sizes are in the
/// request's unit, `to_meters` converts them.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub center: (f64, f64),
    pub to_meters: f64,
    pub kind: ShapeKind,
}

#[derive(Clone, Copy, Debug)]
pub enum ShapeKind {
    Radius(f64),
    Box { width: f64, height: f64 },
}

impl Shape {
    /// Half width and half height of the bounding box, in meters.
    pub fn half_extent_m(&self) -> (f64, f64) {
        match self.kind {
            ShapeKind::Radius(r) => (self.to_meters * r, self.to_meters * r),
            ShapeKind::Box { width, height } => (
                self.to_meters * (width / 2.0),
                self.to_meters * (height / 2.0),
            ),
        }
    }

    /// The distance from the centre to the farthest corner, in meters.
    pub fn reach_m(&self) -> f64 {
        let r = match self.kind {
            ShapeKind::Radius(r) => r,
            ShapeKind::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        };
        r * self.to_meters
    }

    /// The point's distance from the centre (meters) when it is inside.
    fn contains(&self, lon: f64, lat: f64) -> Option<f64> {
        let (x, y) = self.center;
        match self.kind {
            ShapeKind::Radius(r) => {
                let d = distance(x, y, lon, lat);
                (d <= r * self.to_meters).then_some(d)
            }
            ShapeKind::Box { width, height } => within_box(
                width * self.to_meters,
                height * self.to_meters,
                x,
                y,
                lon,
                lat,
            ),
        }
    }
}

/// A member found by a search.
#[derive(Clone, Debug)]
pub struct Point {
    pub member: Vec<u8>,
    pub lon: f64,
    pub lat: f64,
    /// Meters from the centre (in the request's unit once replied).
    pub dist: f64,
    pub score: f64,
}

/// The members of `z` inside `shape`, cell by cell; with `limit` > 0
/// (COUNT ... ANY) it stops once that many are found.
pub fn members_in_shape(z: &ZSet, shape: &Shape, limit: usize) -> Vec<Point> {
    let cells = cells_to_search(shape);
    let mut found = Vec::new();
    // Redis compares a cell with the last one read only from the second
    // read on (its `last_processed` index starts at 0, meaning none).
    let mut last_read = 0usize;
    for (i, cell) in cells.iter().enumerate() {
        if cell.is_zero() {
            continue;
        }
        // Huge radii make neighbours coincide: skip a repeat.
        if last_read != 0 && *cell == cells[last_read] {
            continue;
        }
        if limit > 0 && found.len() >= limit {
            break;
        }
        let min = cell.align52() as f64;
        let max = super::geohash::Hash {
            bits: cell.bits + 1,
            step: cell.step,
        }
        .align52() as f64;
        members_in_range(z, min, max, shape, &mut found, limit);
        last_read = i;
    }
    found
}

/// Appends the members with `min <= score < max` inside `shape`.
fn members_in_range(
    z: &ZSet,
    min: f64,
    max: f64,
    shape: &Shape,
    found: &mut Vec<Point>,
    limit: usize,
) {
    let range = ScoreRange {
        min,
        max,
        minex: false,
        maxex: true,
    };
    let (start, end) = z.score_span(&range);
    if start >= end {
        return;
    }
    for (member, score) in z.iter_at(start, false).take(end - start) {
        if let Some((lon, lat)) = decode_score(score) {
            if let Some(dist) = shape.contains(lon, lat) {
                found.push(Point {
                    member: member.to_vec(),
                    lon,
                    lat,
                    dist,
                    score,
                });
            }
        }
        if limit > 0 && found.len() >= limit {
            break;
        }
    }
}
