//! How geo commands print numbers: distances with four decimals (Redis's
//! `addReplyDoubleDistance`), coordinates as `%.17Lf` trimmed
//! (`addReplyHumanLongDouble`: a double in RESP3).

use crate::command::ldouble::LongDouble;
use crate::resp::Out;

/// A distance as a bulk string, e.g. `166274.1516` (`fixedpoint_d2string`
/// with 4 digits: rounded to nearest, ties to even, as `llrint`).
pub fn distance(out: &mut Out, d: f64) {
    out.bulk(fixed4(d).as_bytes());
}

fn fixed4(d: f64) -> String {
    if d == 0.0 {
        return "0.0000".into();
    }
    let scaled = (d * 10000.0).round_ties_even() as i64;
    let sign = if scaled < 0 { "-" } else { "" };
    let v = scaled.unsigned_abs();
    format!("{sign}{}.{:04}", v / 10000, v % 10000)
}

/// A coordinate: a bulk string in RESP2, a double in RESP3.
pub fn coordinate(out: &mut Out, v: f64) {
    let text = human(v);
    if out.resp3 {
        out.raw(b",");
        out.raw(text.as_bytes());
        out.raw(b"\r\n");
    } else {
        out.bulk(text.as_bytes());
    }
}

/// `v` widened to an x87 long double and printed in Redis's human form.
fn human(v: f64) -> String {
    let bits = v.to_bits();
    let neg = bits >> 63 == 1;
    let exp_bits = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    let (m, e) = if exp_bits == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), exp_bits - 1075)
    };
    let ld = if m == 0 {
        LongDouble::ZERO
    } else {
        let shift = m.leading_zeros() as i32;
        LongDouble::Finite {
            neg,
            mant: m << shift,
            exp: e - shift,
        }
    };
    ld.to_human()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_have_four_decimals() {
        assert_eq!(fixed4(166274.15156960033), "166274.1516");
        assert_eq!(fixed4(0.00004), "0.0000");
        assert_eq!(fixed4(0.5), "0.5000");
        assert_eq!(fixed4(0.0), "0.0000");
    }

    #[test]
    fn coordinates_print_as_redis() {
        // Palermo's GEOPOS in Redis's documentation.
        let (lon, lat) = super::super::geohash::decode_score(3479099956230698.0).unwrap();
        assert_eq!(human(lon), "13.36138933897018433");
        assert_eq!(human(lat), "38.11555639549629859");
        assert_eq!(human(-0.0), "0");
        assert_eq!(human(2.5), "2.5");
    }
}
