//! The timeout argument of the blocking commands, as Redis 7.0's
//! `getTimeoutFromObjectOrReply(..., UNIT_SECONDS)` reads it: a C
//! `long double` (`strtold`), times 1000 in long double arithmetic,
//! rounded up (`ceill`) to `long long` milliseconds: 0.001 is 1 ms,
//! though its long double times 1000 is just below 1. x86-64 turns a product out of
//! `long long` range (and infinity) into `LLONG_MIN`, hence "timeout is
//! negative" for `1e300` or `inf`. A deadline past the end of Redis's
//! millisecond clock never fires: Redis 7.0 does not reject it.

use crate::command::ldouble::LongDouble;

pub const NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
pub const NEGATIVE: &str = "ERR timeout is negative";

/// Milliseconds to wait, or None to wait forever (0, or a deadline past
/// `i64::MAX` ms since the epoch).
pub fn parse_timeout(arg: &[u8], now_ms: u64) -> Result<Option<u64>, &'static str> {
    let ld = LongDouble::parse(arg).ok_or(NOT_FLOAT)?;
    let ms = times_1000_ceil(ld);
    if ms < 0 {
        return Err(NEGATIVE);
    }
    if ms == 0 || ms > i64::MAX - now_ms as i64 {
        return Ok(None);
    }
    Ok(Some(ms as u64))
}

/// `(long long) ceill(x * 1000.0)` with `x` a long double.
fn times_1000_ceil(x: LongDouble) -> i64 {
    let LongDouble::Finite { neg, mant, exp } = x else {
        return i64::MIN;
    };
    let p = mant as u128 * 1000;
    if p == 0 {
        return 0;
    }
    // Round the exact product to the 64-bit mantissa, half to even.
    let bits = 128 - p.leading_zeros() as i32;
    let mut shift = (bits - 64).max(0);
    let mut q = p >> shift;
    if shift > 0 {
        let rem = p & ((1u128 << shift) - 1);
        let half = 1u128 << (shift - 1);
        if rem > half || (rem == half && q & 1 == 1) {
            q += 1;
            if q >> 64 != 0 {
                q >>= 1;
                shift += 1;
            }
        }
    }
    let e = exp + shift;
    let magnitude: u128 = if e >= 0 {
        let qbits = 128 - q.leading_zeros() as i32;
        if qbits + e > 63 {
            return i64::MIN;
        }
        q << e
    } else if -e >= 128 {
        // Below 1: ceil gives 1 for a positive value.
        u128::from(!neg)
    } else {
        let whole = q >> (-e);
        let fraction = q & ((1u128 << -e) - 1) != 0;
        whole + u128::from(fraction && !neg)
    };
    if neg {
        -(magnitude as i64)
    } else {
        magnitude as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Result<Option<u64>, &'static str> {
        parse_timeout(s.as_bytes(), 1_700_000_000_000)
    }

    #[test]
    fn redis_timeouts() {
        assert_eq!(t("0"), Ok(None));
        assert_eq!(t("1"), Ok(Some(1000)));
        assert_eq!(t("0.01"), Ok(Some(10)));
        assert_eq!(t("1.5"), Ok(Some(1500)));
        assert_eq!(t("0.0001"), Ok(Some(1)));
        assert_eq!(t("0.001"), Ok(Some(1)));
        assert_eq!(t("0.002"), Ok(Some(2)));
        assert_eq!(t("-0.0001"), Ok(None));
        assert_eq!(t("-1"), Err(NEGATIVE));
        assert_eq!(t("1e300"), Err(NEGATIVE));
        assert_eq!(t("inf"), Err(NEGATIVE));
        assert_eq!(t("abc"), Err(NOT_FLOAT));
        assert_eq!(t("nan"), Err(NOT_FLOAT));
        assert_eq!(t("9223372036854775"), Ok(None));
        assert_eq!(t("100000"), Ok(Some(100_000_000)));
    }
}
