//! Bitmap commands: SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD
//! BITFIELD_RO. Bits are numbered from the most significant bit of the
//! first byte, as Redis does. BITFIELD lives in `bitmaps/bitfield.rs`.

mod bitfield;

use super::spec::{Acl, CommandSpec, Flags, Handler, KeyFlags, KeySpec};
use super::strings::{drop_if_expired, opt, read_str};
use super::util::{arg_i64, NOT_INTEGER, SYNTAX, WRONGTYPE};
use super::{Class, Ctx};
use crate::resp::Out;
use crate::store::Value;

const RO_ACCESS: KeyFlags = KeyFlags::RO.with(KeyFlags::ACCESS);
const KEY1_RO_ACCESS: &[KeySpec] = &[KeySpec::single(1, RO_ACCESS)];
const READ_SLOW: Acl = Acl::READ.with_bits(Acl::BITMAP).with_bits(Acl::SLOW);
const READ_FAST: Acl = Acl::READ.with_bits(Acl::BITMAP).with_bits(Acl::FAST);
const WRITE_SLOW: Acl = Acl::WRITE.with_bits(Acl::BITMAP).with_bits(Acl::SLOW);

const BIT_OFFSET_ERR: &str = "ERR bit offset is not an integer or out of range";

/// A bitmap command: the fields every entry of this family sets.
const fn bitmap_cmd(
    name: &'static str,
    arity: i32,
    flags: Flags,
    acl: Acl,
    keys: &'static [KeySpec],
    handler: fn(&mut Ctx, &[&[u8]]),
    summary: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        acl,
        keys,
        handler: Handler::Shard(handler),
        group: "bitmap",
        summary,
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    }
}

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        since: "2.2.0",
        ..bitmap_cmd(
            "setbit",
            4,
            Flags::WRITE.with(Flags::DENYOOM),
            WRITE_SLOW,
            &[KeySpec::single(1, KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::UPDATE))],
            setbit,
            "Sets or clears the bit at offset in the string value stored at key",
        )
    },
    CommandSpec {
        since: "2.2.0",
        ..bitmap_cmd(
            "getbit",
            3,
            Flags::READONLY.with(Flags::FAST),
            READ_FAST,
            KEY1_RO_ACCESS,
            getbit,
            "Returns the bit value at offset in the string value stored at key",
        )
    },
    CommandSpec {
        since: "2.6.0",
        complexity: "O(N)",
        ..bitmap_cmd("bitcount", -2, Flags::READONLY, READ_SLOW, KEY1_RO_ACCESS, bitcount, "Count set bits in a string")
    },
    CommandSpec {
        since: "2.8.7",
        complexity: "O(N)",
        ..bitmap_cmd("bitpos", -3, Flags::READONLY, READ_SLOW, KEY1_RO_ACCESS, bitpos, "Find first bit set or clear in a string")
    },
    CommandSpec {
        since: "2.6.0",
        complexity: "O(N)",
        ..bitmap_cmd(
            "bitop",
            -4,
            Flags::WRITE.with(Flags::DENYOOM),
            WRITE_SLOW,
            &[KeySpec::single(2, KeyFlags::OW.with(KeyFlags::UPDATE)), KeySpec::range(3, -1, 1, RO_ACCESS)],
            bitop,
            "Perform bitwise operations between strings",
        )
    },
    CommandSpec {
        since: "3.2.0",
        complexity: "O(1) for each subcommand specified",
        key_flags: Some(bitfield_key_flags),
        ..bitmap_cmd(
            "bitfield",
            -2,
            Flags::WRITE.with(Flags::DENYOOM),
            WRITE_SLOW,
            &[KeySpec::single(1, KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::UPDATE).with(KeyFlags::VARIABLE_FLAGS))],
            bitfield::bitfield,
            "Perform arbitrary bitfield integer operations on strings",
        )
    },
    CommandSpec {
        since: "6.0.0",
        complexity: "O(1) for each subcommand specified",
        ..bitmap_cmd(
            "bitfield_ro",
            -2,
            Flags::READONLY.with(Flags::FAST),
            READ_FAST,
            KEY1_RO_ACCESS,
            bitfield::bitfield_ro,
            "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
        )
    },
];

/// A bit offset argument, as Redis's `getBitOffsetFromArgument`: a
/// non-negative integer whose byte lies below proto-max-bulk-len. With
/// `width` (BITFIELD), `#n` means n times the field width. Replies the
/// error on failure.
fn bit_offset(ctx: &mut Ctx, arg: &[u8], width: Option<u32>) -> Option<u64> {
    let off = parse_bit_offset(arg, width, ctx.limits.proto_max_bulk_len);
    if off.is_none() {
        ctx.out.error(BIT_OFFSET_ERR);
    }
    off
}

fn parse_bit_offset(arg: &[u8], width: Option<u32>, max_bulk: u64) -> Option<u64> {
    let (digits, mul) = match (arg.first(), width) {
        (Some(b'#'), Some(w)) => (&arg[1..], w as i64),
        _ => (arg, 1),
    };
    let off = arg_i64(digits)?.wrapping_mul(mul);
    (off >= 0 && ((off >> 3) as u64) < max_bulk).then_some(off as u64)
}

/// Runs `f` on the string at `key` made long enough to hold bit `maxbit`
/// (created, zero-filled, if missing) and turned raw, as Redis's
/// `lookupStringForBitCommand`. `f` also gets whether the string was
/// created or grown. None after replying WRONGTYPE.
fn with_bit_string<R>(
    ctx: &mut Ctx,
    key: &[u8],
    maxbit: u64,
    f: impl FnOnce(&mut Vec<u8>, bool, &mut Out) -> R,
) -> Option<R> {
    let need = (maxbit >> 3) as usize + 1;
    let (now, lru) = (ctx.now_ms, ctx.lru);
    let out = &mut *ctx.out;
    let db = &mut ctx.store.dbs[ctx.db];
    if let Some(e) = db.lookup(key, now) {
        e.lru = lru;
        let Some(buf) = e.value.as_raw_mut() else {
            out.error(WRONGTYPE);
            return None;
        };
        let grown = buf.len() < need;
        if grown {
            buf.resize(need, 0);
        }
        return Some(f(buf, grown, out));
    }
    let mut buf = vec![0u8; need];
    let r = f(&mut buf, true, out);
    db.set(key, Value::Raw(crate::store::PackedBox::new(buf)), lru);
    Some(r)
}

/// SETBIT key offset value
fn setbit(ctx: &mut Ctx, args: &[&[u8]]) {
    const BIT_ERR: &str = "ERR bit is not an integer or out of range";
    let Some(offset) = bit_offset(ctx, args[2], None) else {
        return;
    };
    let on = match arg_i64(args[3]) {
        Some(v @ (0 | 1)) => v as u8,
        _ => return ctx.out.error(BIT_ERR),
    };
    let changed = with_bit_string(ctx, args[1], offset, |buf, grown, out| {
        let (byte, mask) = ((offset >> 3) as usize, 0x80u8 >> (offset & 7));
        let old = (buf[byte] & mask != 0) as u8;
        buf[byte] = if on == 1 {
            buf[byte] | mask
        } else {
            buf[byte] & !mask
        };
        out.int(old as i64);
        grown || old != on
    });
    if changed == Some(true) {
        ctx.dirty += 1;
        ctx.notify(Class::String, "setbit", args[1]);
    }
}

/// GETBIT key offset
fn getbit(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(offset) = bit_offset(ctx, args[2], None) else {
        return;
    };
    if let (Ok(s), out) = read_str(ctx, args[1]) {
        let byte = s
            .and_then(|s| s.get((offset >> 3) as usize))
            .copied()
            .unwrap_or(0);
        out.int((byte & (0x80 >> (offset & 7)) != 0) as i64);
    }
}

/// Resolves a Redis range (negative counts from the end) over `total`
/// units to `[start, end]`, clamped; start > end means empty.
fn clamp_range(start: i64, end: i64, total: i64) -> (i64, i64) {
    let start = if start < 0 {
        (start + total).max(0)
    } else {
        start
    };
    let end = if end < 0 { (end + total).max(0) } else { end }.min(total - 1);
    (start, end)
}

/// An optional BYTE|BIT argument: Ok(true) for BIT; Err(()) after
/// replying a syntax error for anything else.
fn unit_is_bit(out: &mut Out, arg: Option<&&[u8]>) -> Result<bool, ()> {
    match arg {
        None => Ok(false),
        Some(a) if opt(a, "bit") => Ok(true),
        Some(a) if opt(a, "byte") => Ok(false),
        Some(_) => {
            out.error(SYNTAX);
            Err(())
        }
    }
}

/// A user range in bytes or bits over a string of `len` bytes, resolved
/// to an inclusive range of bit positions (start > end when empty).
fn bit_range(start: i64, end: i64, len: i64, in_bits: bool) -> (i64, i64) {
    if in_bits {
        clamp_range(start, end, len * 8)
    } else {
        let (a, b) = clamp_range(start, end, len);
        (a * 8, b * 8 + 7)
    }
}

/// Set bits of `s` in the bit range `[start, end]` (inclusive, in range).
fn count_bits(s: &[u8], start: u64, end: u64) -> u64 {
    let (b0, b1) = ((start >> 3) as usize, (end >> 3) as usize);
    let mut n: u64 = s[b0..=b1].iter().map(|b| b.count_ones() as u64).sum();
    let head = s[b0] & !(0xffu8 >> (start & 7)); // bits before start
    let tail = s[b1] & (0x7fu8 >> (end & 7)); // bits after end
    n -= head.count_ones() as u64 + tail.count_ones() as u64;
    n
}

/// BITCOUNT key [start end [BYTE | BIT]]
fn bitcount(ctx: &mut Ctx, args: &[&[u8]]) {
    // Redis 7.0 looks the key up first: a missing key counts 0 whatever
    // the other arguments are.
    let (s, out) = match read_str(ctx, args[1]) {
        (Err(()), _) => return,
        (Ok(None), out) => return out.int(0),
        (Ok(Some(s)), out) => (s, out),
    };
    let len = s.len() as i64;
    let (start, end) = match args.len() {
        2 => (0, len * 8 - 1),
        4 | 5 => {
            let (Some(start), Some(end)) = (arg_i64(args[2]), arg_i64(args[3])) else {
                return out.error(NOT_INTEGER);
            };
            if start < 0 && end < 0 && start > end {
                return out.int(0);
            }
            let Ok(in_bits) = unit_is_bit(out, args.get(4)) else {
                return;
            };
            bit_range(start, end, len, in_bits)
        }
        _ => return out.error(SYNTAX),
    };
    out.int(if start > end {
        0
    } else {
        count_bits(s, start as u64, end as u64) as i64
    });
}

/// The first bit equal to `bit` in the bit range `[start, end]`.
fn find_bit(s: &[u8], bit: bool, start: u64, end: u64) -> Option<u64> {
    let mut pos = start;
    while pos <= end {
        let byte = s[(pos >> 3) as usize];
        let skip = if bit { 0x00 } else { 0xff };
        if pos & 7 == 0 && end - pos >= 7 && byte == skip {
            pos += 8;
            continue;
        }
        if (byte & (0x80 >> (pos & 7)) != 0) == bit {
            return Some(pos);
        }
        pos += 1;
    }
    None
}

/// BITPOS key bit [start [end [BYTE | BIT]]]
fn bitpos(ctx: &mut Ctx, args: &[&[u8]]) {
    let bit = match arg_i64(args[2]) {
        None => return ctx.out.error(NOT_INTEGER),
        Some(b @ (0 | 1)) => b == 1,
        Some(_) => return ctx.out.error("ERR The bit argument must be 1 or 0."),
    };
    // A missing key is an infinite run of zeros.
    let (s, out) = match read_str(ctx, args[1]) {
        (Err(()), _) => return,
        (Ok(None), out) => return out.int(if bit { -1 } else { 0 }),
        (Ok(Some(s)), out) => (s, out),
    };
    let len = s.len() as i64;
    let end_given = args.len() >= 5;
    let (start, end) = match args.len() {
        3 => (0, len * 8 - 1),
        4..=6 => {
            let Some(start) = arg_i64(args[3]) else {
                return out.error(NOT_INTEGER);
            };
            let Ok(in_bits) = unit_is_bit(out, args.get(5)) else {
                return;
            };
            let end = match args.get(4).map(|a| arg_i64(a)) {
                None => len - 1,
                Some(Some(e)) => e,
                Some(None) => return out.error(NOT_INTEGER),
            };
            bit_range(start, end, len, in_bits)
        }
        _ => return out.error(SYNTAX),
    };
    if start > end {
        return out.int(-1);
    }
    let pos = match find_bit(s, bit, start as u64, end as u64) {
        Some(p) => p as i64,
        // Looking for a clear bit without an explicit end: the string is
        // taken as padded with zeros on the right.
        None if !bit && !end_given => end + 1,
        None => -1,
    };
    out.int(pos);
}

/// BITOP AND | OR | XOR | NOT destkey key [key ...]
fn bitop(ctx: &mut Ctx, args: &[&[u8]]) {
    type ByteOp = fn(u8, u8) -> u8;
    let ops: [(&str, ByteOp); 4] = [
        ("and", |a, b| a & b),
        ("or", |a, b| a | b),
        ("xor", |a, b| a ^ b),
        ("not", |a, _| a),
    ];
    let Some(&(name, op)) = ops.iter().find(|(n, _)| opt(args[1], n)) else {
        return ctx.out.error(SYNTAX);
    };
    let not = name == "not";
    if not && args.len() != 4 {
        return ctx
            .out
            .error("ERR BITOP NOT must be called with a single source key.");
    }
    let mut srcs = Vec::with_capacity(args.len() - 3);
    for key in &args[3..] {
        match read_str(ctx, key) {
            (Err(()), _) => return,
            (Ok(s), _) => srcs.push(s.map(<[u8]>::to_vec).unwrap_or_default()),
        }
    }
    let maxlen = srcs.iter().map(Vec::len).max().unwrap_or(0);
    let byte = |s: &Vec<u8>, j: usize| s.get(j).copied().unwrap_or(0);
    let res: Vec<u8> = (0..maxlen)
        .map(|j| {
            let first = if not {
                !byte(&srcs[0], j)
            } else {
                byte(&srcs[0], j)
            };
            srcs[1..].iter().fold(first, |acc, s| op(acc, byte(s, j)))
        })
        .collect();
    let dest = args[2];
    let lru = ctx.lru;
    if maxlen > 0 {
        drop_if_expired(ctx, dest);
        ctx.db()
            .set(dest, Value::Raw(crate::store::PackedBox::new(res)), lru);
        ctx.dirty += 1;
        ctx.notify(Class::String, "set", dest);
    } else if ctx.db().remove(dest).is_some() {
        ctx.dirty += 1;
        ctx.notify(Class::Generic, "del", dest);
    }
    ctx.out.int(maxlen as i64);
}

/// BITFIELD only reads when every subcommand is a complete GET or
/// OVERFLOW (Redis's bitfieldGetKeys: a SET, an INCRBY or anything it
/// cannot parse counts as a write).
fn bitfield_key_flags(argv: &[&[u8]]) -> KeyFlags {
    let mut i = 2;
    while i < argv.len() {
        let rest = argv.len() - i - 1;
        let a = argv[i];
        if a.eq_ignore_ascii_case(b"get") && rest >= 2 {
            i += 2;
        } else if a.eq_ignore_ascii_case(b"overflow") && rest >= 1 {
            i += 1;
        } else {
            return KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::UPDATE);
        }
        i += 1;
    }
    KeyFlags::RO.with(KeyFlags::ACCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_finds_bits_in_ranges() {
        let s = b"\xff\xf0\x00";
        assert_eq!(count_bits(s, 0, 23), 12);
        assert_eq!(count_bits(s, 3, 10), 8);
        assert_eq!(count_bits(s, 12, 12), 0);
        assert_eq!(find_bit(s, false, 0, 23), Some(12));
        assert_eq!(find_bit(s, true, 12, 23), None);
        assert_eq!(find_bit(s, true, 5, 23), Some(5));
        assert_eq!(find_bit(b"\x00\x00\x01", true, 0, 23), Some(23));
    }

    #[test]
    fn offsets_like_redis() {
        let max = 512 * 1024 * 1024;
        assert_eq!(parse_bit_offset(b"0", None, max), Some(0));
        assert_eq!(parse_bit_offset(b"#3", Some(8), max), Some(24));
        assert_eq!(parse_bit_offset(b"#3", None, max), None);
        assert_eq!(parse_bit_offset(b"-1", None, max), None);
        assert_eq!(parse_bit_offset(b"4294967295", None, max), Some(4294967295));
        assert_eq!(parse_bit_offset(b"4294967296", None, max), None);
        assert_eq!(clamp_range(-100, -200, 5), (0, 0));
        assert_eq!(clamp_range(0, -1, 0), (0, -1));
    }
}
