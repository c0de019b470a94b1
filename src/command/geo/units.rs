//! Geo arguments: units, coordinates, radius and box sizes, with
//! Redis's error replies.

use super::geohash::{LAT_MAX, LAT_MIN, LONG_MAX, LONG_MIN};
use crate::command::util::is;
use crate::command::util::NOT_FLOAT;
use crate::command::zsets::parse_double;
use crate::resp::Out;

/// Meters per unit (M, KM, FT, MI), or None after the error reply.
pub fn unit_or_reply(out: &mut Out, unit: &[u8]) -> Option<f64> {
    let per_meter = [("m", 1.0), ("km", 1000.0), ("ft", 0.3048), ("mi", 1609.34)];
    match per_meter.iter().find(|(name, _)| is(unit, name)) {
        Some((_, v)) => Some(*v),
        None => {
            out.error("ERR unsupported unit provided. please use M, KM, FT, MI");
            None
        }
    }
}

/// A float argument, `msg` (or Redis's default) as the error.
fn double_or_reply(out: &mut Out, arg: &[u8], msg: &str) -> Option<f64> {
    let v = parse_double(arg);
    if v.is_none() {
        out.error(msg);
    }
    v
}

/// `longitude latitude` from `args[0..2]`, checked against the limits.
pub fn lon_lat_or_reply(out: &mut Out, args: &[&[u8]]) -> Option<(f64, f64)> {
    let lon = double_or_reply(out, args[0], NOT_FLOAT)?;
    let lat = double_or_reply(out, args[1], NOT_FLOAT)?;
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        out.error(&format!(
            "ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"
        ));
        return None;
    }
    Some((lon, lat))
}

/// `radius unit`: (radius, meters per unit).
pub fn radius_or_reply(out: &mut Out, args: &[&[u8]]) -> Option<(f64, f64)> {
    let r = double_or_reply(out, args[0], "ERR need numeric radius")?;
    if r < 0.0 {
        out.error("ERR radius cannot be negative");
        return None;
    }
    Some((r, unit_or_reply(out, args[1])?))
}

/// `width height unit`: (width, height, meters per unit).
pub fn box_or_reply(out: &mut Out, args: &[&[u8]]) -> Option<(f64, f64, f64)> {
    let w = double_or_reply(out, args[0], "ERR need numeric width")?;
    let h = double_or_reply(out, args[1], "ERR need numeric height")?;
    if h < 0.0 || w < 0.0 {
        out.error("ERR height or width cannot be negative");
        return None;
    }
    Some((w, h, unit_or_reply(out, args[2])?))
}
