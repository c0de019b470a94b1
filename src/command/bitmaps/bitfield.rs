//! BITFIELD and BITFIELD_RO: integers of 1 to 64 bits at any bit offset.

use super::super::util::{arg_i64, NOT_INTEGER, SYNTAX};
use super::super::{Class, Ctx};
use super::{bit_offset, opt, read_str, with_bit_string};
use crate::resp::Out;

const TYPE_ERR: &str = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

/// What happens when SET or INCRBY leaves the field's range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Get,
    Set,
    IncrBy,
}

/// One subcommand, parsed.
#[derive(Clone, Copy, Debug)]
struct Op {
    kind: Kind,
    signed: bool,
    bits: u32,
    offset: u64,
    /// The value of SET, the increment of INCRBY.
    arg: i64,
    overflow: Overflow,
}

/// A field type `i1`..`i64` or `u1`..`u63` (case-sensitive).
fn field_type(arg: &[u8]) -> Option<(bool, u32)> {
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return None,
    };
    // The width is read as a C string, up to a NUL.
    let bits = arg_i64(super::super::strings::cstr(&arg[1..]))?;
    let max = if signed { 64 } else { 63 };
    (1..=max).contains(&bits).then_some((signed, bits as u32))
}

/// Parses the subcommands, replying the first error as Redis does.
fn parse_ops(ctx: &mut Ctx, args: &[&[u8]]) -> Option<Vec<Op>> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < args.len() {
        let remaining = args.len() - j - 1;
        let sub = args[j];
        let kind = if opt(sub, "get") && remaining >= 2 {
            Kind::Get
        } else if opt(sub, "set") && remaining >= 3 {
            Kind::Set
        } else if opt(sub, "incrby") && remaining >= 3 {
            Kind::IncrBy
        } else if opt(sub, "overflow") && remaining >= 1 {
            overflow = match args[j + 1] {
                a if opt(a, "wrap") => Overflow::Wrap,
                a if opt(a, "sat") => Overflow::Sat,
                a if opt(a, "fail") => Overflow::Fail,
                _ => {
                    ctx.out.error("ERR Invalid OVERFLOW type specified");
                    return None;
                }
            };
            j += 2;
            continue;
        } else {
            ctx.out.error(SYNTAX);
            return None;
        };
        let Some((signed, bits)) = field_type(args[j + 1]) else {
            ctx.out.error(TYPE_ERR);
            return None;
        };
        let offset = bit_offset(ctx, args[j + 2], Some(bits))?;
        let mut arg = 0;
        if kind != Kind::Get {
            let Some(v) = arg_i64(args[j + 3]) else {
                ctx.out.error(NOT_INTEGER);
                return None;
            };
            arg = v;
        }
        ops.push(Op {
            kind,
            signed,
            bits,
            offset,
            arg,
            overflow,
        });
        j += if kind == Kind::Get { 3 } else { 4 };
    }
    Some(ops)
}

/// BITFIELD key [GET encoding offset | [OVERFLOW WRAP | SAT | FAIL]
/// <SET encoding offset value | INCRBY encoding offset increment> ...]
pub fn bitfield(ctx: &mut Ctx, args: &[&[u8]]) {
    run(ctx, args, false);
}

/// BITFIELD_RO key [GET encoding offset ...]
pub fn bitfield_ro(ctx: &mut Ctx, args: &[&[u8]]) {
    run(ctx, args, true);
}

fn run(ctx: &mut Ctx, args: &[&[u8]], readonly_cmd: bool) {
    let Some(ops) = parse_ops(ctx, args) else {
        return;
    };
    let writes = ops.iter().filter(|o| o.kind != Kind::Get);
    let Some(highest) = writes.map(|o| o.offset + o.bits as u64 - 1).max() else {
        // Only GETs: read in place; a missing key reads as zeros.
        if let (Ok(s), out) = read_str(ctx, args[1]) {
            let s = s.unwrap_or_default();
            out.array(ops.len());
            for op in &ops {
                out.int(get(s, op.offset, op.bits, op.signed));
            }
        }
        return;
    };
    if readonly_cmd {
        return ctx
            .out
            .error("ERR BITFIELD_RO only supports the GET subcommand");
    }
    let changes = with_bit_string(ctx, args[1], highest, |buf, grown, out| {
        out.array(ops.len());
        ops.iter().filter(|op| apply(buf, op, grown, out)).count()
    });
    let changes = changes.unwrap_or(0);
    if changes > 0 {
        // One event per command, as Redis's bitfieldGeneric.
        ctx.dirty += changes as u64;
        ctx.notify(Class::String, "setbit", args[1]);
    }
}

/// Runs one subcommand on `buf`, replying its result; true if it changed
/// the string (or the string was just created or grown).
fn apply(buf: &mut [u8], op: &Op, grown: bool, out: &mut Out) -> bool {
    if op.kind == Kind::Get {
        out.int(get(buf, op.offset, op.bits, op.signed));
        return false;
    }
    let old = get(buf, op.offset, op.bits, op.signed);
    let (value, incr) = if op.kind == Kind::IncrBy {
        (old, op.arg)
    } else {
        (op.arg, 0)
    };
    let fitted = if op.signed {
        fit_signed(value, incr, op.bits, op.overflow)
    } else {
        fit_unsigned(value as u64, incr, op.bits, op.overflow).map(|v| v as i64)
    };
    let Some(new) = fitted else {
        out.null();
        return false;
    };
    out.int(if op.kind == Kind::IncrBy { new } else { old });
    set(buf, op.offset, op.bits, new as u64);
    grown || old != new
}

/// Where `value + incr` falls: 1 above the field's range, -1 below, 0 in.
type Side = i8;

/// `value + incr` fitted into a signed field as the overflow policy says;
/// None for FAIL out of range. The range test is Redis's
/// `checkSignedBitfieldOverflow`, wrapping arithmetic and all: a value far
/// below the range (SET i8 0 -9223372036854775808) counts as above it, so
/// SAT gives the maximum, as Redis does.
pub(crate) fn fit_signed(value: i64, incr: i64, bits: u32, overflow: Overflow) -> Option<i64> {
    let max: i64 = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let side: Side = if value > max
        || (bits != 64 && incr > maxincr)
        || (value >= 0 && incr > 0 && incr > maxincr)
    {
        1
    } else if value < min
        || (bits != 64 && incr < minincr)
        || (value < 0 && incr < 0 && incr < minincr)
    {
        -1
    } else {
        0
    };
    match (side, overflow) {
        (0, _) => Some(value.wrapping_add(incr)),
        (_, Overflow::Fail) => None,
        (1, Overflow::Sat) => Some(max),
        (_, Overflow::Sat) => Some(min),
        (_, Overflow::Wrap) => Some(sign_extend(
            (value as u64).wrapping_add(incr as u64) & mask(bits),
            bits,
        )),
    }
}

/// `value + incr` fitted into an unsigned field (at most 63 bits), as
/// Redis's `checkUnsignedBitfieldOverflow`; None for FAIL out of range.
pub(crate) fn fit_unsigned(value: u64, incr: i64, bits: u32, overflow: Overflow) -> Option<u64> {
    let max = mask(bits);
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = (value as i64).wrapping_neg();
    let side: Side = if value > max || (incr > 0 && incr > maxincr) {
        1
    } else if incr < 0 && incr < minincr {
        -1
    } else {
        0
    };
    match (side, overflow) {
        (0, _) => Some(value.wrapping_add(incr as u64)),
        (_, Overflow::Fail) => None,
        (1, Overflow::Sat) => Some(max),
        (_, Overflow::Sat) => Some(0),
        (_, Overflow::Wrap) => Some(value.wrapping_add(incr as u64) & max),
    }
}

fn mask(bits: u32) -> u64 {
    if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

fn sign_extend(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// Reads the field at `offset`; bits past the end of `buf` read as 0.
pub(crate) fn get(buf: &[u8], offset: u64, bits: u32, signed: bool) -> i64 {
    let mut v: u64 = 0;
    for i in 0..bits as u64 {
        let pos = offset + i;
        let byte = buf.get((pos >> 3) as usize).copied().unwrap_or(0);
        v = v << 1 | ((byte >> (7 - (pos & 7))) & 1) as u64;
    }
    if signed {
        sign_extend(v, bits)
    } else {
        v as i64
    }
}

/// Writes the low `bits` bits of `v` at `offset` (which must fit in `buf`).
pub(crate) fn set(buf: &mut [u8], offset: u64, bits: u32, v: u64) {
    for i in 0..bits as u64 {
        let pos = offset + i;
        let bit = (v >> (bits as u64 - 1 - i)) & 1;
        let byte = &mut buf[(pos >> 3) as usize];
        let m = 0x80u8 >> (pos & 7);
        *byte = if bit == 1 { *byte | m } else { *byte & !m };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_and_set_fields() {
        let mut b = [0u8; 3];
        set(&mut b, 7, 5, 23);
        assert_eq!(b, [0b0000_0001, 0b0111_0000, 0]);
        assert_eq!(get(&b, 7, 5, false), 23);
        assert_eq!(get(&b, 7, 5, true), -9);
        assert_eq!(get(&b, 20, 8, false), 0); // past the end reads zeros
        set(&mut b, 0, 24, u64::MAX);
        assert_eq!(get(&b, 0, 24, true), -1);
        let mut w = [0u8; 9];
        set(&mut w, 3, 64, i64::MIN as u64);
        assert_eq!(get(&w, 3, 64, true), i64::MIN);
    }

    #[test]
    fn overflow_policies_match_redis() {
        // Values observed from redis-server 7.0 BITFIELD.
        assert_eq!(fit_unsigned(300, 0, 8, Overflow::Wrap), Some(44));
        assert_eq!(fit_unsigned(300, 0, 8, Overflow::Sat), Some(255));
        assert_eq!(fit_unsigned(300, 0, 8, Overflow::Fail), None);
        assert_eq!(fit_unsigned(-1i64 as u64, 0, 8, Overflow::Sat), Some(255));
        assert_eq!(fit_unsigned(44, -1000, 8, Overflow::Sat), Some(0));
        assert_eq!(fit_unsigned(38, 250, 8, Overflow::Wrap), Some(32));
        assert_eq!(
            fit_unsigned(i64::MAX as u64, 1, 63, Overflow::Wrap),
            Some(0)
        );
        assert_eq!(fit_signed(300, 0, 8, Overflow::Sat), Some(127));
        assert_eq!(fit_signed(-300, 0, 8, Overflow::Sat), Some(-128));
        assert_eq!(fit_signed(128, 0, 8, Overflow::Wrap), Some(-128));
        assert_eq!(fit_signed(5, 0, 1, Overflow::Wrap), Some(-1));
        assert_eq!(
            fit_signed(-1, i64::MAX, 64, Overflow::Wrap),
            Some(i64::MAX - 1)
        );
        assert_eq!(
            fit_signed(i64::MAX - 1, i64::MAX, 64, Overflow::Sat),
            Some(i64::MAX)
        );
        assert_eq!(
            fit_signed(i64::MIN + 1, -2, 64, Overflow::Wrap),
            Some(i64::MAX)
        );
        assert_eq!(fit_signed(i64::MIN, -1, 64, Overflow::Fail), None);
        // Redis's quirk: far below the range counts as above it.
        assert_eq!(
            fit_signed(i64::MIN, 0, 30, Overflow::Sat),
            Some((1 << 29) - 1)
        );
    }

    #[test]
    fn field_types() {
        assert_eq!(field_type(b"i64"), Some((true, 64)));
        assert_eq!(field_type(b"u63"), Some((false, 63)));
        assert_eq!(field_type(b"u64"), None);
        assert_eq!(field_type(b"i0"), None);
        assert_eq!(field_type(b"U8"), None);
        assert_eq!(field_type(b"u08"), None);
        assert_eq!(field_type(b"u8\0x"), Some((false, 8)));
    }
}
