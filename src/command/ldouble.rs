//! Redis's `long double` arithmetic, in software.
//!
//! INCRBYFLOAT (and HINCRBYFLOAT) compute in C `long double`, which on
//! x86-64 Linux is the x87 80-bit extended format: a 64-bit mantissa with
//! an explicit integer bit and a 15-bit exponent. The reply is printed
//! with `%.17Lf` and its trailing zeros trimmed, so the digits depend on
//! that exact precision (0.1 prints as `0.1`, where a `double` would give
//! `0.10000000000000001`). This module reproduces the three steps exactly:
//! parsing as glibc's `strtold` (correctly rounded, round-half-even),
//! adding with one rounding, and printing as glibc's `%.17Lf`.

use std::cmp::Ordering;

/// An 80-bit extended precision value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LongDouble {
    /// `(-1)^neg * mant * 2^exp`. Normal values have the top bit of
    /// `mant` set; subnormals have `exp == EXP_MIN`; zero has `mant == 0`.
    Finite {
        neg: bool,
        mant: u64,
        exp: i32,
    },
    Inf {
        neg: bool,
    },
}

/// Exponent of the subnormals and of the smallest normals (2^-16382 is
/// the smallest normal: mantissa 2^63 times 2^-16445).
const EXP_MIN: i32 = -16445;
/// Exponent of the largest finite values ((2^64-1) * 2^16320).
const EXP_MAX: i32 = 16320;
/// Redis's `MAX_LONG_DOUBLE_CHARS`: longer strings are not floats.
const MAX_CHARS: usize = 5 * 1024;

impl LongDouble {
    pub const ZERO: LongDouble = LongDouble::Finite {
        neg: false,
        mant: 0,
        exp: 0,
    };

    pub fn from_i64(n: i64) -> LongDouble {
        round(n < 0, Big::from_u64(n.unsigned_abs()), 0, false)
    }

    pub fn is_finite(&self) -> bool {
        matches!(self, LongDouble::Finite { .. })
    }

    /// Parses as Redis's `string2ld`: `strtold` on the whole string, no
    /// leading space, no NaN, and no overflow or underflow to zero.
    pub fn parse(s: &[u8]) -> Option<LongDouble> {
        if s.is_empty() || s.len() >= MAX_CHARS || is_c_space(s[0]) {
            return None;
        }
        let (neg, body) = match s[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(LongDouble::Inf { neg });
        }
        let v = if body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
            parse_hex(neg, &body[2..])?
        } else {
            parse_decimal(neg, body)?
        };
        match v {
            // Overflow (ERANGE with HUGE_VAL): refused.
            LongDouble::Inf { .. } => None,
            _ => Some(v),
        }
    }

    /// `self + other`, rounded once to nearest-even. Infinities and NaN
    /// come out as `Inf` (callers refuse both alike).
    #[allow(clippy::should_implement_trait)] // also implemented: `a + b`
    pub fn add(self, other: LongDouble) -> LongDouble {
        let (
            LongDouble::Finite {
                neg: an,
                mant: am,
                exp: ae,
            },
            LongDouble::Finite {
                neg: bn,
                mant: bm,
                exp: be,
            },
        ) = (self, other)
        else {
            return LongDouble::Inf { neg: false };
        };
        if am == 0 && bm == 0 {
            return LongDouble::Finite {
                neg: an && bn,
                mant: 0,
                exp: 0,
            };
        }
        if am == 0 {
            return other;
        }
        if bm == 0 {
            return self;
        }
        // Order so that `a` has the larger exponent.
        let ((an, am, ae), (bn, bm, be)) = if ae >= be {
            ((an, am, ae), (bn, bm, be))
        } else {
            ((bn, bm, be), (an, am, ae))
        };
        let diff = (ae - be) as u32;
        if diff >= 200 {
            // `b` is below a quarter of the last place of `a` (which is
            // normal, having the larger exponent): only its sign matters.
            let n = Big::from_u64(am).shl(3);
            return if an == bn {
                round(an, n, ae - 3, true)
            } else {
                round(an, n.sub(&Big::from_u64(1)), ae - 3, true)
            };
        }
        let a = Big::from_u64(am).shl(diff);
        let b = Big::from_u64(bm);
        if an == bn {
            return round(an, a.add(&b), be, false);
        }
        match a.cmp(&b) {
            Ordering::Equal => LongDouble::ZERO,
            Ordering::Greater => round(an, a.sub(&b), be, false),
            Ordering::Less => round(bn, b.sub(&a), be, false),
        }
    }

    /// The value as Redis prints it in human form (`ld2string` with
    /// `LD_STR_HUMAN`): `%.17Lf`, trailing zeros and a trailing point
    /// trimmed, `-0` as `0`. Infinities print as `inf` / `-inf`.
    pub fn to_human(&self) -> String {
        let (neg, mant, exp) = match *self {
            LongDouble::Inf { neg } => return if neg { "-inf".into() } else { "inf".into() },
            LongDouble::Finite { neg, mant, exp } => (neg, mant, exp),
        };
        let mut s = String::new();
        if neg {
            s.push('-');
        }
        if exp >= 0 {
            s.push_str(&Big::from_u64(mant).shl(exp as u32).to_decimal());
        } else {
            let r = scaled_fraction(mant, (-exp) as u32);
            let int = r / FRAC_SCALE;
            let frac = r % FRAC_SCALE;
            s.push_str(&int.to_string());
            if frac != 0 {
                let digits = format!(".{frac:017}");
                s.push_str(digits.trim_end_matches('0'));
            }
        }
        if s == "-0" {
            s = "0".into();
        }
        s
    }
}

impl std::ops::Add for LongDouble {
    type Output = LongDouble;

    fn add(self, other: LongDouble) -> LongDouble {
        LongDouble::add(self, other)
    }
}

/// 10^17: `%.17Lf` keeps 17 decimals.
const FRAC_SCALE: u128 = 100_000_000_000_000_000;

/// `mant / 2^shift * 10^17`, rounded to nearest-even (as glibc's printf).
fn scaled_fraction(mant: u64, shift: u32) -> u128 {
    let p = mant as u128 * FRAC_SCALE; // < 2^121
    if shift >= 122 {
        return 0; // below half a unit of the 17th decimal
    }
    let q = p >> shift;
    let rem = p & ((1u128 << shift) - 1);
    let half = 1u128 << (shift - 1);
    if rem > half || (rem == half && q & 1 == 1) {
        q + 1
    } else {
        q
    }
}

fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Rounds `(n + sticky) * 2^exp` to the format, where `sticky` stands for
/// a nonzero amount below one unit of `n` (then `n` must have at least 66
/// bits, so that the rounding point lies inside `n`).
fn round(neg: bool, n: Big, exp: i32, sticky: bool) -> LongDouble {
    let len = n.bits() as i64;
    if len == 0 {
        return LongDouble::Finite {
            neg,
            mant: 0,
            exp: 0,
        };
    }
    let mut shift = len - 64;
    if exp as i64 + shift < EXP_MIN as i64 {
        shift = EXP_MIN as i64 - exp as i64; // subnormal: fewer bits
    }
    let mut e = exp as i64 + shift;
    let mant = if shift <= 0 {
        debug_assert!(!sticky);
        n.low_u64() << (-shift)
    } else {
        let sh = shift as u32;
        let m = n.shr(sh).low_u64();
        let half = n.bit(sh - 1);
        let rest = sticky || n.any_below(sh - 1);
        if half && (rest || m & 1 == 1) {
            match m.checked_add(1) {
                Some(m) => m,
                None => {
                    e += 1;
                    1 << 63
                }
            }
        } else {
            m
        }
    };
    if mant == 0 {
        return LongDouble::Finite {
            neg,
            mant: 0,
            exp: 0,
        };
    }
    if e > EXP_MAX as i64 {
        return LongDouble::Inf { neg };
    }
    LongDouble::Finite {
        neg,
        mant,
        exp: e as i32,
    }
}

/// Underflow to zero of a nonzero input is an error for `string2ld`.
fn nonzero_or_none(v: LongDouble) -> Option<LongDouble> {
    match v {
        LongDouble::Finite { mant: 0, .. } => None,
        v => Some(v),
    }
}

/// Digits with an optional point, then an optional exponent; the whole
/// input must be consumed.
fn parse_decimal(neg: bool, s: &[u8]) -> Option<LongDouble> {
    let mut i = 0;
    let mut digits = Big::zero();
    let mut ndigits = 0usize; // significant digits accumulated
    let mut frac_digits: i64 = 0;
    let mut seen_digit = false;
    let mut seen_point = false;
    while i < s.len() {
        match s[i] {
            c @ b'0'..=b'9' => {
                seen_digit = true;
                if ndigits > 0 || c != b'0' {
                    digits = digits.mul_small(10).add_small((c - b'0') as u32);
                    ndigits += 1;
                }
                if seen_point {
                    frac_digits += 1;
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        i += 1;
    }
    if !seen_digit {
        return None;
    }
    let exp10 = parse_exponent(s, &mut i, b'e')?;
    if i != s.len() {
        return None;
    }
    if ndigits == 0 {
        return Some(LongDouble::Finite {
            neg,
            mant: 0,
            exp: 0,
        });
    }
    let e = exp10 - frac_digits;
    // Magnitude bounds: 10^4933 overflows, 10^-4952 underflows.
    let magnitude = ndigits as i64 + e;
    if magnitude > 4934 {
        return Some(LongDouble::Inf { neg });
    }
    if magnitude < -4952 {
        return None;
    }
    let v = if e >= 0 {
        let mut n = digits;
        for _ in 0..e {
            n = n.mul_small(10);
        }
        round(neg, n, 0, false)
    } else {
        let k = (-e) as u32;
        // value = digits / (5^k * 2^k); scale so the quotient has >= 66 bits.
        let five_bits = (k as u64 * 2322 / 1000 + 2) as i64;
        let s = (70 + five_bits - digits.bits() as i64).max(0) as u32;
        let (q, rem) = digits.shl(s).div_pow5(k);
        round(neg, q, -(s as i64 + k as i64) as i32, rem)
    };
    nonzero_or_none(v)
}

/// An optional `<marker>[+-]digits` at `s[*i]`. Without digits after the
/// marker nothing is consumed (strtold stops before it). Saturates.
fn parse_exponent(s: &[u8], i: &mut usize, marker: u8) -> Option<i64> {
    if *i >= s.len() || (s[*i] | 0x20) != marker {
        return Some(0);
    }
    let mut j = *i + 1;
    let neg = match s.get(j) {
        Some(b'-') => {
            j += 1;
            true
        }
        Some(b'+') => {
            j += 1;
            false
        }
        _ => false,
    };
    let start = j;
    let mut v: i64 = 0;
    while j < s.len() && s[j].is_ascii_digit() {
        v = (v * 10 + (s[j] - b'0') as i64).min(1_000_000_000);
        j += 1;
    }
    if j == start {
        return Some(0);
    }
    *i = j;
    Some(if neg { -v } else { v })
}

/// Hex digits with an optional point, then an optional binary exponent
/// `p[+-]digits`.
fn parse_hex(neg: bool, s: &[u8]) -> Option<LongDouble> {
    let mut i = 0;
    let mut n = Big::zero();
    let mut exp2: i64 = 0;
    let mut seen_digit = false;
    let mut seen_point = false;
    while i < s.len() {
        let c = s[i];
        if c == b'.' && !seen_point {
            seen_point = true;
        } else if let Some(d) = (c as char).to_digit(16) {
            seen_digit = true;
            if !n.is_zero() || d != 0 {
                n = n.mul_small(16).add_small(d);
                if seen_point {
                    exp2 -= 4;
                }
            } else if seen_point {
                exp2 -= 4;
            }
        } else {
            break;
        }
        i += 1;
    }
    if !seen_digit {
        return None;
    }
    let pexp = parse_exponent(s, &mut i, b'p')?;
    if i != s.len() {
        return None;
    }
    if n.is_zero() {
        return Some(LongDouble::Finite {
            neg,
            mant: 0,
            exp: 0,
        });
    }
    let e = exp2 + pexp;
    let top = e + n.bits() as i64;
    if top > 16400 {
        return Some(LongDouble::Inf { neg });
    }
    if top < -16500 {
        return None;
    }
    nonzero_or_none(round(neg, n, e as i32, false))
}

/// A minimal unsigned big integer (little-endian 32-bit limbs), enough
/// for exact parsing, addition and printing.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn zero() -> Big {
        Big(Vec::new())
    }

    fn from_u64(v: u64) -> Big {
        Big(vec![v as u32, (v >> 32) as u32]).trimmed()
    }

    fn trimmed(mut self) -> Big {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
        self
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn bits(&self) -> u64 {
        match self.0.last() {
            None => 0,
            Some(&top) => (self.0.len() as u64 - 1) * 32 + (32 - top.leading_zeros()) as u64,
        }
    }

    fn bit(&self, i: u32) -> bool {
        let limb = (i / 32) as usize;
        limb < self.0.len() && self.0[limb] >> (i % 32) & 1 == 1
    }

    /// Whether any bit below bit `i` is set.
    fn any_below(&self, i: u32) -> bool {
        let full = (i / 32) as usize;
        if self.0.iter().take(full).any(|&l| l != 0) {
            return true;
        }
        let part = i % 32;
        part > 0 && full < self.0.len() && self.0[full] & ((1u32 << part) - 1) != 0
    }

    fn low_u64(&self) -> u64 {
        let lo = self.0.first().copied().unwrap_or(0) as u64;
        let hi = self.0.get(1).copied().unwrap_or(0) as u64;
        lo | hi << 32
    }

    fn mul_small(mut self, m: u32) -> Big {
        let mut carry = 0u64;
        for l in self.0.iter_mut() {
            let v = *l as u64 * m as u64 + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
        self
    }

    fn add_small(mut self, a: u32) -> Big {
        let mut carry = a as u64;
        for l in self.0.iter_mut() {
            if carry == 0 {
                break;
            }
            let v = *l as u64 + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
        self
    }

    /// Divides in place by `d`; returns the remainder.
    fn div_small(&mut self, d: u32) -> u32 {
        let mut rem = 0u64;
        for l in self.0.iter_mut().rev() {
            let v = rem << 32 | *l as u64;
            *l = (v / d as u64) as u32;
            rem = v % d as u64;
        }
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
        rem as u32
    }

    /// `floor(self / 5^k)` and whether the division was inexact.
    fn div_pow5(mut self, mut k: u32) -> (Big, bool) {
        let mut inexact = false;
        while k > 0 {
            let step = k.min(13); // 5^13 < 2^32
            inexact |= self.div_small(5u32.pow(step)) != 0;
            k -= step;
        }
        (self, inexact)
    }

    fn shl(&self, n: u32) -> Big {
        let limbs = (n / 32) as usize;
        let bits = n % 32;
        let mut out = vec![0u32; limbs];
        let mut carry = 0u32;
        for &l in &self.0 {
            if bits == 0 {
                out.push(l);
            } else {
                out.push(l << bits | carry);
                carry = l >> (32 - bits);
            }
        }
        if carry > 0 {
            out.push(carry);
        }
        Big(out).trimmed()
    }

    fn shr(&self, n: u32) -> Big {
        let limbs = (n / 32) as usize;
        if limbs >= self.0.len() {
            return Big::zero();
        }
        let bits = n % 32;
        let src = &self.0[limbs..];
        let out = (0..src.len())
            .map(|i| {
                let hi = src.get(i + 1).copied().unwrap_or(0);
                if bits == 0 {
                    src[i]
                } else {
                    src[i] >> bits | hi << (32 - bits)
                }
            })
            .collect();
        Big(out).trimmed()
    }

    fn add(&self, o: &Big) -> Big {
        let n = self.0.len().max(o.0.len());
        let mut out = Vec::with_capacity(n + 1);
        let mut carry = 0u64;
        for i in 0..n {
            let v = self.0.get(i).copied().unwrap_or(0) as u64
                + o.0.get(i).copied().unwrap_or(0) as u64
                + carry;
            out.push(v as u32);
            carry = v >> 32;
        }
        if carry > 0 {
            out.push(carry as u32);
        }
        Big(out).trimmed()
    }

    /// `self - o`, with `self >= o`.
    fn sub(&self, o: &Big) -> Big {
        let mut out = Vec::with_capacity(self.0.len());
        let mut borrow = 0i64;
        for i in 0..self.0.len() {
            let mut v = self.0[i] as i64 - o.0.get(i).copied().unwrap_or(0) as i64 - borrow;
            borrow = 0;
            if v < 0 {
                v += 1 << 32;
                borrow = 1;
            }
            out.push(v as u32);
        }
        Big(out).trimmed()
    }

    fn to_decimal(&self) -> String {
        if self.is_zero() {
            return "0".into();
        }
        let mut n = self.clone();
        let mut chunks = Vec::new();
        while !n.is_zero() {
            chunks.push(n.div_small(1_000_000_000));
        }
        let mut s = chunks.pop().unwrap().to_string();
        for c in chunks.iter().rev() {
            s.push_str(&format!("{c:09}"));
        }
        s
    }
}

impl PartialOrd for Big {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Big {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> LongDouble {
        LongDouble::parse(s.as_bytes()).unwrap_or_else(|| panic!("parse {s}"))
    }

    fn incr(a: &str, b: &str) -> String {
        (p(a) + p(b)).to_human()
    }

    #[test]
    fn human_form_matches_redis() {
        // Values observed from redis-server 7.0 INCRBYFLOAT on x86-64.
        assert_eq!(p("0.1").to_human(), "0.1");
        assert_eq!(incr("0.1", "0.2"), "0.3");
        assert_eq!(incr("1.1", "2.2"), "3.3");
        assert_eq!(
            p("1.23456789012345678901234").to_human(),
            "1.23456789012345679"
        );
        assert_eq!(
            incr("1.23456789012345678901234", "10.5"),
            "11.73456789012345679"
        );
        assert_eq!(p("3.0000000000000000001").to_human(), "3");
        assert_eq!(
            p("123456789012345678901234567890").to_human(),
            "123456789012345678899921813504"
        );
        assert_eq!(p("-0.00000000000000000001").to_human(), "0");
        assert_eq!(incr("-0", "-0"), "0");
        assert_eq!(p("0x10").to_human(), "16");
        assert_eq!(incr("16", "0x1p-3"), "16.125");
        assert_eq!(p("1e-17").to_human(), "0.00000000000000001");
        assert_eq!(incr("1e-17", "5e-18"), "0.00000000000000002");
        assert_eq!(p("0.000000000000000015").to_human(), "0.00000000000000002");
        assert_eq!(p("0.000000000000000025").to_human(), "0.00000000000000002");
        assert_eq!(
            p("0.0000000000000000250000001").to_human(),
            "0.00000000000000003"
        );
        // Exact ties round to even.
        assert_eq!(p("0.000003814697265625").to_human(), "0.00000381469726562");
        assert_eq!(p("0.000011444091796875").to_human(), "0.00001144409179688");
        assert_eq!(
            p("1e300").to_human(),
            "1000000000000000000008997324079559193870523944273290747938260082321265646596180935755849152083750497190350372508614274835903592556184672983913096260520748646287327135641843653294084255107606016789726652932370030551382947620994540294772781889620606179267611627097410650567187386105690089424915104006144"
        );
        assert_eq!(
            incr("1.7976931348623157e308", "1.7976931348623157e308"),
            "359538626972463139991842093548208868096772893888658356970628841530353257046248792709403737216774171128857586838851041378617416726902272110715794556052955234146997955372576789671236326588091188869859074894581254961338834769297758245552436667197907705664206565009503223382416235440319971852753604933726679072768"
        );
        assert_eq!(p("1e-4940").to_human(), "0");
    }

    #[test]
    fn parse_like_string2ld() {
        for bad in [
            "", " 1", "1 ", "nan", "NaN", "1e", "abc", ".", "e5", "1e5000", "1e-5000", "0x",
            "0x1p", "--1", "1.2.3",
        ] {
            assert!(
                LongDouble::parse(bad.as_bytes()).is_none(),
                "{bad:?} should be refused"
            );
        }
        for good in [
            "1",
            "+5",
            "-5",
            ".5",
            "5.",
            "1E3",
            "1e+3",
            "inf",
            "-Infinity",
            "0x.8",
            "0e99999",
            "3.0e-4951",
        ] {
            assert!(
                LongDouble::parse(good.as_bytes()).is_some(),
                "{good:?} should parse"
            );
        }
        assert_eq!(p("5.").to_human(), "5");
        assert_eq!(p("0x.8").to_human(), "0.5");
        assert!(!p("inf").is_finite());
        // The nearest value to 1e4000 lies just below it.
        assert!(p("1e4000")
            .to_human()
            .starts_with("99999999999999999999654638730996"));
        assert_eq!(p("1e4000").to_human().len(), 4000);
    }

    #[test]
    fn addition_rounds_once() {
        assert_eq!(incr("1e18", "1"), "1000000000000000001");
        assert_eq!(incr("18446744073709551616", "1"), "18446744073709551616");
        assert_eq!(incr("18446744073709551616", "3"), "18446744073709551620");
        assert_eq!(incr("1e30", "1"), "1000000000000000000024696061952");
        assert_eq!(incr("1e300", "-1e-300"), p("1e300").to_human());
        assert_eq!(incr("5", "-5"), "0");
        assert_eq!(incr("-2.5", "1"), "-1.5");
        assert!(!(p("1e4932") + p("1e4932")).is_finite());
        assert_eq!(LongDouble::from_i64(-42).to_human(), "-42");
        assert_eq!(
            LongDouble::from_i64(i64::MIN).to_human(),
            "-9223372036854775808"
        );
    }
}
