//! HyperLogLog commands: PFADD PFCOUNT PFMERGE, with Redis 7.0's exact
//! representation (sparse and dense encodings, the "HYLL" header, 6-bit
//! registers, cached cardinality, sparse to dense promotion past
//! `hll-sparse-max-bytes`), so the string values are byte for byte what
//! redis-server stores for the same sequence of commands.

use super::spec::{Acl, BeginSearch, CommandSpec, FindKeys, Flags, Handler, KeyFlags, KeySpec};
use super::util::WRONGTYPE;
use super::{Class, Ctx};
use crate::store::Value;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "pfadd",
        arity: -2,
        flags: Flags::WRITE.with(Flags::DENYOOM).with(Flags::FAST),
        acl: Acl::WRITE.with_bits(Acl::HYPERLOGLOG).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RW.with(KeyFlags::INSERT), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(pfadd),
        group: "hyperloglog",
        since: "2.8.9",
        summary: "Adds the specified elements to the specified HyperLogLog.",
        complexity: "O(1) to add every element.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "pfcount",
        arity: -2,
        // may_replicate: it may store its cached cardinality.
        flags: Flags::READONLY.with(Flags::MAY_REPLICATE),
        acl: Acl::READ.with_bits(Acl::HYPERLOGLOG).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RW.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: -1, step: 1, limit: 0 } }],
        handler: Handler::Shard(pfcount),
        group: "hyperloglog",
        since: "2.8.9",
        summary: "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).",
        complexity: "O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "pfmerge",
        arity: -2,
        flags: Flags::WRITE.with(Flags::DENYOOM),
        acl: Acl::WRITE.with_bits(Acl::HYPERLOGLOG).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::INSERT), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }, KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(2), find: FindKeys::Range { lastkey: -1, step: 1, limit: 0 } }],
        handler: Handler::Shard(pfmerge),
        group: "hyperloglog",
        since: "2.8.9",
        summary: "Merge N different HyperLogLogs into a single one.",
        complexity: "O(N) to merge N HyperLogLogs, but with high constant times.",
        ..CommandSpec::DEFAULT
    },
];

// ---------------------------------------------------------------------------
// The representation, byte-compatible with Redis 7.0:
//
// header (16 bytes): "HYLL", encoding (0 dense, 1 sparse), 3 unused bytes,
// cached cardinality (u64 LE; the top bit of byte 15 set = stale);
// dense: 16384 6-bit registers packed LSB first (12288 bytes);
// sparse: run-length opcodes ZERO 00xxxxxx (1-64 zeros), XZERO 01xxxxxx
// yyyyyyyy (1-16384 zeros), VAL 1vvvvvxx (value 1-32, run 1-4).

pub(super) const HDR: usize = 16;
const P: u32 = 14;
const Q: u32 = 64 - P;
pub(super) const REGISTERS: usize = 1 << P;
const P_MASK: u64 = (REGISTERS - 1) as u64;
const BITS: usize = 6;
pub(super) const REGISTER_MAX: u8 = (1 << BITS) - 1;
pub(super) const DENSE_SIZE: usize = HDR + (REGISTERS * BITS).div_ceil(8);
pub(super) const DENSE: u8 = 0;
pub(super) const SPARSE: u8 = 1;
const SPARSE_VAL_MAX_VALUE: u8 = 32;
const SPARSE_VAL_MAX_LEN: usize = 4;
const SPARSE_ZERO_MAX_LEN: usize = 64;
const SPARSE_XZERO_MAX_LEN: usize = 16384;
/// 0.5/ln(2), written as in hyperloglog.c.
#[allow(clippy::excessive_precision)]
const ALPHA_INF: f64 = 0.721347520444481703680;

pub(super) const INVALID_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
pub(super) const CORRUPTED: &str = "INVALIDOBJ Corrupted HLL object detected";

/// MurmurHash2, 64-bit version, as Redis uses it (little-endian reads).
pub fn murmurhash64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4a7935bd1e995;
    const R: u32 = 47;
    let mut h: u64 = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes(c.try_into().unwrap());
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate().rev() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// (register index, run length of the 000..1 pattern) of an element.
fn pat_len(ele: &[u8]) -> (usize, u8) {
    let hash = murmurhash64a(ele, 0xadc83b19);
    let index = (hash & P_MASK) as usize;
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

#[inline]
pub(super) fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let b0 = regs[byte] as u32;
    let b1 = regs.get(byte + 1).copied().unwrap_or(0) as u32;
    (((b0 >> fb) | (b1 << (8 - fb))) & REGISTER_MAX as u32) as u8
}

#[inline]
pub(super) fn dense_set_reg(regs: &mut [u8], i: usize, val: u8) {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let v = val as u32;
    regs[byte] &= !((REGISTER_MAX as u32) << fb) as u8;
    regs[byte] |= (v << fb) as u8;
    if let Some(b1) = regs.get_mut(byte + 1) {
        *b1 &= !((REGISTER_MAX as u32) >> (8 - fb)) as u8;
        *b1 |= (v >> (8 - fb)) as u8;
    }
}

/// Sets register `i` to `count` if larger; true if it changed.
fn dense_set(regs: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(regs, i) {
        dense_set_reg(regs, i, count);
        true
    } else {
        false
    }
}

#[inline]
pub(super) fn is_zero(b: u8) -> bool {
    b & 0xc0 == 0
}
#[inline]
pub(super) fn is_xzero(b: u8) -> bool {
    b & 0xc0 == 0x40
}
#[inline]
fn is_val(b: u8) -> bool {
    b & 0x80 != 0
}
#[inline]
pub(super) fn zero_len(b: u8) -> usize {
    (b & 0x3f) as usize + 1
}
#[inline]
pub(super) fn xzero_len(b0: u8, b1: u8) -> usize {
    ((((b0 & 0x3f) as usize) << 8) | b1 as usize) + 1
}
#[inline]
pub(super) fn val_value(b: u8) -> u8 {
    ((b >> 2) & 0x1f) + 1
}
#[inline]
pub(super) fn val_len(b: u8) -> usize {
    (b & 0x3) as usize + 1
}
#[inline]
fn val_op(val: u8, len: usize) -> u8 {
    (((val - 1) << 2) | (len as u8 - 1)) | 0x80
}
#[inline]
fn push_zero(seq: &mut Vec<u8>, len: usize) {
    if len > SPARSE_ZERO_MAX_LEN {
        let l = len - 1;
        seq.push((l >> 8) as u8 | 0x40);
        seq.push((l & 0xff) as u8);
    } else {
        seq.push((len - 1) as u8);
    }
}

/// A new, empty HLL: sparse, one XZERO opcode.
pub(super) fn new_hll() -> Vec<u8> {
    let mut v = Vec::with_capacity(HDR + 2);
    v.extend_from_slice(b"HYLL");
    v.push(SPARSE);
    v.extend_from_slice(&[0; 11]);
    let mut aux = REGISTERS;
    while aux > 0 {
        let x = aux.min(SPARSE_XZERO_MAX_LEN);
        let l = x - 1;
        v.push((l >> 8) as u8 | 0x40);
        v.push((l & 0xff) as u8);
        aux -= x;
    }
    v
}

/// Whether `v` is a valid HLL string (`isHLLObjectOrReply`).
pub(super) fn is_hll(v: &[u8]) -> bool {
    v.len() >= HDR
        && &v[..4] == b"HYLL"
        && v[4] <= SPARSE
        && (v[4] != DENSE || v.len() == DENSE_SIZE)
}

#[inline]
fn invalidate_cache(v: &mut [u8]) {
    v[15] |= 1 << 7;
}

/// Converts a sparse HLL to dense in place (the header, including the
/// cached cardinality, is kept). Err if the sparse data is corrupt.
pub(super) fn sparse_to_dense(v: &mut Vec<u8>) -> Result<(), ()> {
    if v[4] == DENSE {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR].copy_from_slice(&v[..HDR]);
    dense[4] = DENSE;
    let mut idx = 0usize;
    let mut p = HDR;
    let end = v.len();
    while p < end {
        let b = v[p];
        if is_zero(b) {
            idx += zero_len(b);
            p += 1;
        } else if is_xzero(b) {
            idx += xzero_len(b, v.get(p + 1).copied().unwrap_or(0));
            p += 2;
        } else {
            let runlen = val_len(b);
            let regval = val_value(b);
            if runlen + idx > REGISTERS {
                break;
            }
            for _ in 0..runlen {
                dense_set_reg(&mut dense[HDR..], idx, regval);
                idx += 1;
            }
            p += 1;
        }
    }
    if idx != REGISTERS {
        return Err(());
    }
    *v = dense;
    Ok(())
}

/// Redis's `hllSparseSet`: sets register `index` to `count` if larger,
/// splitting opcodes in place, merging adjacent VALs, and promoting to
/// dense when needed. Ok(true) if the register changed, Err if corrupt.
fn sparse_set(v: &mut Vec<u8>, index: usize, count: u8, max_bytes: usize) -> Result<bool, ()> {
    if count > SPARSE_VAL_MAX_VALUE {
        return promote(v, index, count);
    }
    // Step 1: find the opcode covering `index`.
    let end = v.len();
    let mut p = HDR;
    let mut first = 0usize;
    let mut prev: Option<usize> = None;
    let mut span = 0usize;
    while p < end {
        let b = v[p];
        let mut oplen = 1;
        if is_zero(b) {
            span = zero_len(b);
        } else if is_val(b) {
            span = val_len(b);
        } else {
            span = xzero_len(b, v.get(p + 1).copied().unwrap_or(0));
            oplen = 2;
        }
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += oplen;
        first += span;
    }
    if span == 0 || p >= end {
        return Err(());
    }
    let b = v[p];
    let (zero, xzero) = (is_zero(b), is_xzero(b));
    let runlen = if zero {
        zero_len(b)
    } else if xzero {
        xzero_len(b, v.get(p + 1).copied().unwrap_or(0))
    } else {
        val_len(b)
    };
    // Step 2: the easy cases, then the general split.
    let mut done = false;
    if !zero && !xzero {
        let old = val_value(b);
        if old >= count {
            return Ok(false);
        }
        if runlen == 1 {
            v[p] = val_op(count, 1);
            done = true;
        }
    }
    if !done && zero && runlen == 1 {
        v[p] = val_op(count, 1);
        done = true;
    }
    if !done {
        let last = first + span - 1;
        let mut seq: Vec<u8> = Vec::with_capacity(5);
        if zero || xzero {
            if index != first {
                push_zero(&mut seq, index - first);
            }
            seq.push(val_op(count, 1));
            if index != last {
                push_zero(&mut seq, last - index);
            }
        } else {
            let curval = val_value(b);
            if index != first {
                seq.push(val_op(curval, index - first));
            }
            seq.push(val_op(count, 1));
            if index != last {
                seq.push(val_op(curval, last - index));
            }
        }
        let oldlen = if xzero { 2 } else { 1 };
        if seq.len() > oldlen && v.len() + (seq.len() - oldlen) > max_bytes {
            return promote(v, index, count);
        }
        v.splice(p..p + oldlen, seq);
    }
    // Step 4: merge adjacent VAL opcodes with the same value.
    let mut p = prev.unwrap_or(HDR);
    let mut scan = 5;
    while p < v.len() && scan > 0 {
        scan -= 1;
        let b = v[p];
        if is_xzero(b) {
            p += 2;
            continue;
        } else if is_zero(b) {
            p += 1;
            continue;
        }
        if p + 1 < v.len() && is_val(v[p + 1]) {
            let v1 = val_value(b);
            let v2 = val_value(v[p + 1]);
            if v1 == v2 {
                let len = val_len(b) + val_len(v[p + 1]);
                if len <= SPARSE_VAL_MAX_LEN {
                    v[p + 1] = val_op(v1, len);
                    v.remove(p);
                    continue;
                }
            }
        }
        p += 1;
    }
    invalidate_cache(v);
    Ok(true)
}

fn promote(v: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, ()> {
    sparse_to_dense(v)?;
    let changed = dense_set(&mut v[HDR..], index, count);
    debug_assert!(changed);
    Ok(changed)
}

/// Adds one element; Ok(true) if a register changed.
pub(super) fn hll_add(v: &mut Vec<u8>, ele: &[u8], max_bytes: usize) -> Result<bool, ()> {
    let (index, count) = pat_len(ele);
    match v[4] {
        DENSE => Ok(dense_set(&mut v[HDR..], index, count)),
        SPARSE => sparse_set(v, index, count, max_bytes),
        _ => Err(()),
    }
}

/// Folds `v`'s registers into `max` (M[i] = max(M[i], v[i])).
fn hll_merge(max: &mut [u8; REGISTERS], v: &[u8]) -> Result<(), ()> {
    if v[4] == DENSE {
        let regs = &v[HDR..];
        for (i, m) in max.iter_mut().enumerate() {
            let r = dense_get(regs, i);
            if r > *m {
                *m = r;
            }
        }
        return Ok(());
    }
    let mut i = 0usize;
    let mut p = HDR;
    while p < v.len() {
        let b = v[p];
        if is_zero(b) {
            i += zero_len(b);
            p += 1;
        } else if is_xzero(b) {
            i += xzero_len(b, v.get(p + 1).copied().unwrap_or(0));
            p += 2;
        } else {
            let runlen = val_len(b);
            let regval = val_value(b);
            if runlen + i > REGISTERS {
                break;
            }
            for m in &mut max[i..i + runlen] {
                if regval > *m {
                    *m = regval;
                }
            }
            i += runlen;
            p += 1;
        }
    }
    if i != REGISTERS {
        return Err(());
    }
    Ok(())
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let zp = z;
        z += x * y;
        y += y;
        if zp == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let zp = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if zp == z {
            return z / 3.0;
        }
    }
}

/// The cardinality estimate from a register histogram (Ertl's method, as
/// Redis 7.0 computes it).
fn estimate(histo: &[u64; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - histo[Q as usize + 1] as f64) / m);
    for j in (1..=Q as usize).rev() {
        z += histo[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histo[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// The cardinality of an HLL value; Err if a sparse one is corrupt.
pub(super) fn hll_count(v: &[u8]) -> Result<u64, ()> {
    let mut histo = [0u64; 64];
    if v[4] == DENSE {
        let regs = &v[HDR..];
        for i in 0..REGISTERS {
            histo[dense_get(regs, i) as usize] += 1;
        }
    } else {
        let mut idx = 0usize;
        let mut p = HDR;
        while p < v.len() {
            let b = v[p];
            if is_zero(b) {
                let r = zero_len(b);
                idx += r;
                histo[0] += r as u64;
                p += 1;
            } else if is_xzero(b) {
                let r = xzero_len(b, v.get(p + 1).copied().unwrap_or(0));
                idx += r;
                histo[0] += r as u64;
                p += 2;
            } else {
                let r = val_len(b);
                idx += r;
                histo[val_value(b) as usize] += r as u64;
                p += 1;
            }
        }
        if idx != REGISTERS {
            return Err(());
        }
    }
    Ok(estimate(&histo))
}

fn count_raw(max: &[u8; REGISTERS]) -> u64 {
    let mut histo = [0u64; 64];
    for &r in max.iter() {
        histo[r as usize & 63] += 1;
    }
    estimate(&histo)
}

// ---------------------------------------------------------------------------
// Commands

/// The HLL string at `key` for writing, created when missing. Replies the
/// error and returns None for a non-string or invalid string. The bool
/// says whether it was created.
fn hll_for_write<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Option<(&'a mut Vec<u8>, bool)> {
    let now = ctx.now_ms;
    let lru = ctx.lru;
    let exists = ctx.store.dbs[ctx.db].lookup(key, now).is_some();
    if !exists {
        ctx.store.dbs[ctx.db].set(
            key,
            Value::Raw(crate::store::PackedBox::new(new_hll())),
            lru,
        );
    }
    let access = ctx.access;
    let e = ctx.store.dbs[ctx.db].lookup(key, now).expect("just set");
    if exists {
        access.touch(&mut e.lru, crate::command::shard_random);
    }
    if exists {
        match e.value.as_str() {
            None => {
                ctx.out.error(WRONGTYPE);
                return None;
            }
            Some(s) if !is_hll(s) => {
                ctx.out.error(INVALID_HLL);
                return None;
            }
            _ => {}
        }
    }
    let v = e.value.as_raw_mut().expect("a string");
    Some((v, !exists))
}

/// PFADD key [element ...]
fn pfadd(ctx: &mut Ctx, args: &[&[u8]]) {
    let max_bytes = ctx.limits.encodings.hll_sparse_max_bytes;
    let key = args[1];
    let mut updated = 0u64;
    let mut corrupt = false;
    {
        let Some((v, created)) = hll_for_write(ctx, key) else {
            return;
        };
        if created {
            updated += 1;
        }
        for ele in &args[2..] {
            match hll_add(v, ele, max_bytes) {
                Ok(true) => updated += 1,
                Ok(false) => {}
                Err(()) => {
                    corrupt = true;
                    break;
                }
            }
        }
        if !corrupt && updated > 0 {
            invalidate_cache(v);
        }
    }
    if corrupt {
        return ctx.out.error(CORRUPTED);
    }
    ctx.dirty += updated;
    if updated > 0 {
        ctx.notify(Class::String, "pfadd", args[1]);
    }
    ctx.out.int((updated > 0) as i64);
}

/// PFCOUNT key [key ...]
fn pfcount(ctx: &mut Ctx, args: &[&[u8]]) {
    if args.len() > 2 {
        let mut max = [0u8; REGISTERS];
        for key in &args[1..] {
            let Some(e) = ctx.lookup_read(key) else {
                continue;
            };
            let Some(v) = e.value.as_str() else {
                return ctx.out.error(WRONGTYPE);
            };
            if !is_hll(v) {
                return ctx.out.error(INVALID_HLL);
            }
            if hll_merge(&mut max, v).is_err() {
                return ctx.out.error(CORRUPTED);
            }
        }
        let n = count_raw(&max);
        return ctx.out.int(n as i64);
    }
    let Some(e) = ctx.lookup_read(args[1]) else {
        return ctx.out.int(0);
    };
    match e.value.as_str() {
        None => return ctx.out.error(WRONGTYPE),
        Some(v) if !is_hll(v) => return ctx.out.error(INVALID_HLL),
        Some(v) if v[15] & 0x80 == 0 => {
            let card = u64::from_le_bytes(v[8..16].try_into().unwrap());
            return ctx.out.int(card as i64);
        }
        _ => {}
    }
    let v = e.value.as_raw_mut().expect("a string");
    let Ok(card) = hll_count(v) else {
        return ctx.out.error(CORRUPTED);
    };
    v[8..16].copy_from_slice(&card.to_le_bytes());
    ctx.dirty += 1;
    ctx.out.int(card as i64);
}

/// PFMERGE destkey [sourcekey ...]
fn pfmerge(ctx: &mut Ctx, args: &[&[u8]]) {
    let max_bytes = ctx.limits.encodings.hll_sparse_max_bytes;
    let mut max = [0u8; REGISTERS];
    let mut use_dense = false;
    for key in &args[1..] {
        let Some(e) = ctx.lookup_read(key) else {
            continue;
        };
        let Some(v) = e.value.as_str() else {
            return ctx.out.error(WRONGTYPE);
        };
        if !is_hll(v) {
            return ctx.out.error(INVALID_HLL);
        }
        if v[4] == DENSE {
            use_dense = true;
        }
        if hll_merge(&mut max, v).is_err() {
            return ctx.out.error(CORRUPTED);
        }
    }
    {
        let Some((v, _)) = hll_for_write(ctx, args[1]) else {
            return;
        };
        if use_dense && sparse_to_dense(v).is_err() {
            return ctx.out.error(CORRUPTED);
        }
        for (i, &m) in max.iter().enumerate() {
            if m == 0 {
                continue;
            }
            if v[4] == DENSE {
                dense_set(&mut v[HDR..], i, m);
            } else {
                let _ = sparse_set(v, i, m, max_bytes);
            }
        }
        invalidate_cache(v);
    }
    ctx.dirty += 1;
    ctx.notify(Class::String, "pfadd", args[1]);
    ctx.out.ok();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_hll_layout() {
        let v = new_hll();
        assert_eq!(v.len(), 18);
        assert_eq!(&v[16..], &[0x7f, 0xff]);
        assert_eq!(hll_count(&v), Ok(0));
    }

    #[test]
    fn sparse_and_dense_agree() {
        let mut s = new_hll();
        let mut d = new_hll();
        sparse_to_dense(&mut d).unwrap();
        for i in 0..5000u32 {
            let e = format!("element:{i}");
            let a = hll_add(&mut s, e.as_bytes(), 3000).unwrap();
            let b = hll_add(&mut d, e.as_bytes(), 3000).unwrap();
            assert_eq!(a, b, "at {i}");
            if i % 500 == 0 {
                assert_eq!(hll_count(&s), hll_count(&d));
            }
        }
        assert_eq!(s[4], DENSE);
        let c = hll_count(&s).unwrap();
        assert!((4800..5200).contains(&c), "{c}");
    }

    #[test]
    fn dense_registers_roundtrip() {
        let mut regs = vec![0u8; DENSE_SIZE - HDR];
        for i in 0..REGISTERS {
            dense_set_reg(&mut regs, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&regs, i), (i % 64) as u8);
        }
    }
}
