//! The 52-bit interleaved geohash Redis stores as a geo member's score
//! (geohash.c): latitude bits at even positions, longitude bits at odd
//! ones, over Web Mercator's latitude limits.

/// Bits per coordinate of a stored score (26 * 2 = 52).
pub const STEP_MAX: u8 = 26;
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;

/// A geohash cell: `step` bits per coordinate. The zero hash (bits 0,
/// step 0) marks a neighbour left out of a search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hash {
    pub bits: u64,
    pub step: u8,
}

impl Hash {
    pub const ZERO: Hash = Hash { bits: 0, step: 0 };

    pub fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }

    /// The cell's prefix aligned to a 52-bit score.
    pub fn align52(&self) -> u64 {
        self.bits << (52 - self.step as u32 * 2)
    }
}

/// A coordinate interval.
#[derive(Clone, Copy, Debug, Default)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

/// A cell's extent.
#[derive(Clone, Copy, Debug, Default)]
pub struct Area {
    pub longitude: Range,
    pub latitude: Range,
}

pub const LONG_RANGE: Range = Range {
    min: LONG_MIN,
    max: LONG_MAX,
};
pub const LAT_RANGE: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};

/// Spreads the low 32 bits of `x` to the even positions, `y` to the odd.
fn interleave(x: u32, y: u32) -> u64 {
    fn spread(v: u32) -> u64 {
        let mut v = v as u64;
        v = (v | (v << 16)) & 0x0000_FFFF_0000_FFFF;
        v = (v | (v << 8)) & 0x00FF_00FF_00FF_00FF;
        v = (v | (v << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
        v = (v | (v << 2)) & 0x3333_3333_3333_3333;
        (v | (v << 1)) & 0x5555_5555_5555_5555
    }
    spread(x) | (spread(y) << 1)
}

/// The inverse of `interleave`: even bits in the low word, odd bits in
/// the high word.
fn deinterleave(v: u64) -> u64 {
    fn squash(v: u64) -> u64 {
        let mut v = v & 0x5555_5555_5555_5555;
        v = (v | (v >> 1)) & 0x3333_3333_3333_3333;
        v = (v | (v >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
        v = (v | (v >> 4)) & 0x00FF_00FF_00FF_00FF;
        v = (v | (v >> 8)) & 0x0000_FFFF_0000_FFFF;
        (v | (v >> 16)) & 0x0000_0000_FFFF_FFFF
    }
    squash(v) | (squash(v >> 1) << 32)
}

/// Redis's `geohashEncode`: None outside the ranges (or Mercator's limits).
pub fn encode(long_range: Range, lat_range: Range, lon: f64, lat: f64, step: u8) -> Option<Hash> {
    if step == 0 || step > 32 {
        return None;
    }
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_range.min || lat > lat_range.max || lon < long_range.min || lon > long_range.max {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_offset = (lat - lat_range.min) / (lat_range.max - lat_range.min) * scale;
    let long_offset = (lon - long_range.min) / (long_range.max - long_range.min) * scale;
    // C converts the doubles to uint32_t: truncation.
    Some(Hash {
        bits: interleave(lat_offset as u32, long_offset as u32),
        step,
    })
}

/// The hash of a point at `step` over the Mercator ranges.
pub fn encode_wgs84(lon: f64, lat: f64, step: u8) -> Option<Hash> {
    encode(LONG_RANGE, LAT_RANGE, lon, lat, step)
}

/// Redis's `geohashDecode` over the Mercator ranges.
pub fn decode(hash: Hash) -> Option<Area> {
    if hash.is_zero() {
        return None;
    }
    let sep = deinterleave(hash.bits);
    let ilato = sep as u32 as f64;
    let ilono = (sep >> 32) as u32 as f64;
    let div = (1u64 << hash.step) as f64;
    let lat_scale = LAT_MAX - LAT_MIN;
    let long_scale = LONG_MAX - LONG_MIN;
    Some(Area {
        latitude: Range {
            min: LAT_MIN + (ilato * 1.0 / div) * lat_scale,
            max: LAT_MIN + ((ilato + 1.0) * 1.0 / div) * lat_scale,
        },
        longitude: Range {
            min: LONG_MIN + (ilono * 1.0 / div) * long_scale,
            max: LONG_MIN + ((ilono + 1.0) * 1.0 / div) * long_scale,
        },
    })
}

/// The (longitude, latitude) a stored score stands for: its cell's
/// centre, clamped to the limits.
pub fn decode_score(score: f64) -> Option<(f64, f64)> {
    let area = decode(Hash {
        bits: c_double_to_u64(score),
        step: STEP_MAX,
    })?;
    let lon = ((area.longitude.min + area.longitude.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((area.latitude.min + area.latitude.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    Some((lon, lat))
}

/// C's `(uint64_t)` of a double as x86-64 code computes it (cvttsd2si,
/// with 2^63 subtracted first for large values), so the scores of a set
/// that is not a geo set decode to the same points as in Redis.
fn c_double_to_u64(v: f64) -> u64 {
    const TWO_63: f64 = 9223372036854775808.0;
    let cvtt = |x: f64| {
        if x.is_nan() || !(-TWO_63..TWO_63).contains(&x) {
            i64::MIN
        } else {
            x as i64
        }
    };
    if v < TWO_63 {
        cvtt(v) as u64
    } else {
        (cvtt(v - TWO_63) as u64) ^ (1 << 63)
    }
}

/// The score GEOADD stores for a point.
pub fn score_of(lon: f64, lat: f64) -> u64 {
    encode_wgs84(lon, lat, STEP_MAX).map_or(0, |h| h.align52())
}

/// Longitude bits of a hash (odd positions); latitude is the rest.
const LONG_BITS: u64 = 0xaaaa_aaaa_aaaa_aaaa;
const LAT_BITS: u64 = 0x5555_5555_5555_5555;

/// Moves a cell one step along the coordinate whose bits are `axis`:
/// east or north for `d` > 0, west or south for `d` < 0 (geohash.c's
/// geohash_move_x / geohash_move_y).
fn move_along(hash: &mut Hash, d: i8, axis: u64) {
    if d == 0 {
        return;
    }
    let shift = 64 - hash.step as u32 * 2;
    let mut moving = hash.bits & axis;
    let kept = hash.bits & !axis;
    // Ones in the other coordinate's places carry the increment across.
    let zz = !axis >> shift;
    if d > 0 {
        moving = moving.wrapping_add(zz + 1);
    } else {
        moving |= zz;
        moving = moving.wrapping_sub(zz + 1);
    }
    moving &= axis >> shift;
    hash.bits = moving | kept;
}

/// The eight cells around one.
#[derive(Clone, Copy, Debug)]
pub struct Neighbors {
    pub north: Hash,
    pub south: Hash,
    pub east: Hash,
    pub west: Hash,
    pub north_east: Hash,
    pub north_west: Hash,
    pub south_east: Hash,
    pub south_west: Hash,
}

pub fn neighbors(hash: Hash) -> Neighbors {
    let moved = |dx: i8, dy: i8| {
        let mut h = hash;
        move_along(&mut h, dx, LONG_BITS);
        move_along(&mut h, dy, LAT_BITS);
        h
    };
    Neighbors {
        north: moved(0, 1),
        south: moved(0, -1),
        east: moved(1, 0),
        west: moved(-1, 0),
        north_east: moved(1, 1),
        north_west: moved(-1, 1),
        south_east: moved(1, -1),
        south_west: moved(-1, -1),
    }
}

/// GEOHASH's 11-character standard geohash of a stored score: the point
/// re-encoded over latitude -90..90, the 11th character always '0'.
pub fn standard_string(score: f64) -> Option<[u8; 11]> {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (lon, lat) = decode_score(score)?;
    let full = |min, max| Range { min, max };
    let bits =
        encode(full(-180.0, 180.0), full(-90.0, 90.0), lon, lat, STEP_MAX).map_or(0, |h| h.bits);
    let mut out = [b'0'; 11];
    for (i, c) in out.iter_mut().enumerate().take(10) {
        *c = ALPHABET[((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_round_trips() {
        let v = interleave(0x0123_4567, 0x89ab_cdef);
        assert_eq!(deinterleave(v), 0x89ab_cdef_0123_4567);
    }

    #[test]
    fn palermo_scores_as_redis() {
        // GEOADD Sicily 13.361389 38.115556 "Palermo": ZSCORE 3479099956230698.
        assert_eq!(score_of(13.361389, 38.115556), 3479099956230698);
        let hash = standard_string(3479099956230698.0).unwrap();
        assert_eq!(&hash, b"sqc8b49rny0");
    }
}
