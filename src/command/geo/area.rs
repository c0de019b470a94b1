//! The cells a search reads (geohash_helper.c): a step estimated from the
//! radius, the centre cell and its eight neighbours, minus those the
//! search's bounding box cannot reach.

use super::distance::{deg_rad, rad_deg, EARTH_RADIUS_IN_METERS};
use super::geohash::{self, Area, Hash, Neighbors};
use super::search::Shape;

const MERCATOR_MAX: f64 = 20037726.37;

/// The coarsest step whose cells still cover `range_meters` near `lat`.
fn estimate_steps(mut range_meters: f64, lat: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range_meters < MERCATOR_MAX {
        range_meters *= 2.0;
        step += 1;
    }
    step -= 2;
    // Meridians converge towards the poles: wider cells there.
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// (min lon, min lat, max lon, max lat) around the shape's centre.
fn bounding_box(shape: &Shape) -> [f64; 4] {
    let (lon, lat) = shape.center;
    let (half_w, half_h) = shape.half_extent_m();
    let lat_delta = rad_deg(half_h / EARTH_RADIUS_IN_METERS);
    let long_delta_top = rad_deg(half_w / EARTH_RADIUS_IN_METERS / deg_rad(lat + lat_delta).cos());
    let long_delta_bottom =
        rad_deg(half_w / EARTH_RADIUS_IN_METERS / deg_rad(lat - lat_delta).cos());
    // The widest parallel is the one nearer the equator.
    let long_delta = if lat < 0.0 {
        long_delta_bottom
    } else {
        long_delta_top
    };
    [
        lon - long_delta,
        lat - lat_delta,
        lon + long_delta,
        lat + lat_delta,
    ]
}

/// The centre cell and its neighbours, in Redis's search order (zero
/// hashes are skipped).
pub fn cells_to_search(shape: &Shape) -> [Hash; 9] {
    let [min_lon, min_lat, max_lon, max_lat] = bounding_box(shape);
    let (lon, lat) = shape.center;
    let mut steps = estimate_steps(shape.reach_m(), lat);
    let at = |steps: u8| {
        let hash = geohash::encode_wgs84(lon, lat, steps).unwrap_or(Hash {
            bits: 0,
            step: steps,
        });
        (
            hash,
            geohash::neighbors(hash),
            geohash::decode(hash).unwrap_or_default(),
        )
    };
    let (mut hash, mut n, mut area) = at(steps);
    // A neighbour too close to the box's edge: one step coarser.
    let decoded = |h: Hash| geohash::decode(h).unwrap_or_default();
    let decrease = decoded(n.north).latitude.max < max_lat
        || decoded(n.south).latitude.min > min_lat
        || decoded(n.east).longitude.max < max_lon
        || decoded(n.west).longitude.min > min_lon;
    if steps > 1 && decrease {
        steps -= 1;
        (hash, n, area) = at(steps);
    }
    if steps >= 2 {
        drop_useless(&mut n, &area, [min_lon, min_lat, max_lon, max_lat]);
    }
    [
        hash,
        n.north,
        n.south,
        n.east,
        n.west,
        n.north_east,
        n.north_west,
        n.south_east,
        n.south_west,
    ]
}

/// Zeroes the neighbours on a side the box does not cross (a corner
/// goes with either of its sides).
fn drop_useless(n: &mut Neighbors, area: &Area, [min_lon, min_lat, max_lon, max_lat]: [f64; 4]) {
    let south = area.latitude.min < min_lat;
    let north = area.latitude.max > max_lat;
    let west = area.longitude.min < min_lon;
    let east = area.longitude.max > max_lon;
    let cells = [
        (&mut n.south, south),
        (&mut n.north, north),
        (&mut n.west, west),
        (&mut n.east, east),
        (&mut n.south_west, south || west),
        (&mut n.south_east, south || east),
        (&mut n.north_west, north || west),
        (&mut n.north_east, north || east),
    ];
    for (cell, useless) in cells {
        if useless {
            *cell = Hash::ZERO;
        }
    }
}
