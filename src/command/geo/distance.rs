//! Distances on Redis's spherical earth (geohash_helper.c): haversine
//! with the WGS-84 quadratic mean radius.

pub const EARTH_RADIUS_IN_METERS: f64 = 6372797.560856;

/// Redis's `D_R` (M_PI / 180.0).
const D_R: f64 = std::f64::consts::PI / 180.0;

pub fn deg_rad(ang: f64) -> f64 {
    ang * D_R
}

pub fn rad_deg(ang: f64) -> f64 {
    ang / D_R
}

/// Distance along a meridian between two latitudes.
pub fn lat_distance(lat1d: f64, lat2d: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (deg_rad(lat2d) - deg_rad(lat1d)).abs()
}

/// Great-circle distance in meters.
pub fn distance(lon1d: f64, lat1d: f64, lon2d: f64, lat2d: f64) -> f64 {
    let lon1r = deg_rad(lon1d);
    let lon2r = deg_rad(lon2d);
    let v = ((lon2r - lon1r) / 2.0).sin();
    // Same longitude: the cheaper meridian distance, as Redis does.
    if v == 0.0 {
        return lat_distance(lat1d, lat2d);
    }
    let lat1r = deg_rad(lat1d);
    let lat2r = deg_rad(lat2d);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

/// The distance from the centre when the point lies in the box
/// `width_m` x `height_m` centred on (x1, y1).
pub fn within_box(width_m: f64, height_m: f64, x1: f64, y1: f64, x2: f64, y2: f64) -> Option<f64> {
    if lat_distance(y2, y1) > height_m / 2.0 {
        return None;
    }
    if distance(x2, y2, x1, y2) > width_m / 2.0 {
        return None;
    }
    Some(distance(x1, y1, x2, y2))
}
