//! PFDEBUG and PFSELFTEST: Redis 7.0's internal HyperLogLog commands,
//! which its own test suite (tests/unit/hyperloglog.tcl) relies on to see
//! the encoding of a value, force it dense, and check the estimator.

use super::hll::{
    dense_get, dense_set_reg, hll_add, hll_count, is_hll, is_xzero, is_zero, new_hll,
    sparse_to_dense, val_len, val_value, xzero_len, zero_len, CORRUPTED, DENSE, DENSE_SIZE, HDR,
    INVALID_HLL, REGISTERS, REGISTER_MAX, SPARSE,
};
use super::spec::{Acl, CommandSpec, Flags, Handler, KeyFlags, KeySpec};
use super::util::WRONGTYPE;
use super::Ctx;
use crate::config::keys as conf;
use crate::server::conn::Conn;
use futures::future::LocalBoxFuture;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "pfdebug",
        arity: 3,
        // As in 7.0's pfdebug.json: a write (TODENSE and GETREG may
        // convert the value, and then propagate), for admins only.
        flags: Flags::WRITE.with(Flags::DENYOOM).with(Flags::ADMIN),
        acl: Acl::WRITE
            .with_bits(Acl::HYPERLOGLOG)
            .with_bits(Acl::ADMIN)
            .with_bits(Acl::SLOW)
            .with_bits(Acl::DANGEROUS),
        keys: &[KeySpec::single(2, KeyFlags::RW.with(KeyFlags::ACCESS))],
        handler: Handler::Shard(pfdebug),
        group: "hyperloglog",
        since: "2.8.9",
        summary: "Internal commands for debugging HyperLogLog values",
        complexity: "N/A",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "pfselftest",
        arity: 1,
        flags: Flags::ADMIN,
        acl: Acl::HYPERLOGLOG
            .with_bits(Acl::ADMIN)
            .with_bits(Acl::SLOW)
            .with_bits(Acl::DANGEROUS),
        handler: Handler::Conn(pfselftest),
        group: "hyperloglog",
        since: "2.8.9",
        summary: "An internal command for testing HyperLogLog values",
        complexity: "N/A",
        ..CommandSpec::DEFAULT
    },
];

/// PFDEBUG GETREG|DECODE|ENCODING|TODENSE key. As in Redis the key is
/// looked up and checked before the subcommand is: an unknown subcommand
/// on a missing key reports the missing key.
fn pfdebug(ctx: &mut Ctx, args: &[&[u8]]) {
    let (sub, key) = (args[1], args[2]);
    let now = ctx.now_ms;
    let access = ctx.access;
    // lookupKeyWrite: touches the key, counts no hit or miss.
    let Some(e) = ctx.store.dbs[ctx.db].lookup(key, now) else {
        return ctx.out.error("ERR The specified key does not exist");
    };
    access.touch(&mut e.lru, crate::command::shard_random);
    match e.value.as_str() {
        None => return ctx.out.error(WRONGTYPE),
        Some(s) if !is_hll(s) => return ctx.out.error(INVALID_HLL),
        Some(_) => {}
    }
    let v = e.value.as_raw_mut().expect("a string");
    let mut converted = false;
    if sub.eq_ignore_ascii_case(b"getreg") || sub.eq_ignore_ascii_case(b"todense") {
        if v[4] == SPARSE {
            if sparse_to_dense(v).is_err() {
                return ctx.out.error(CORRUPTED);
            }
            converted = true;
        }
        if sub.eq_ignore_ascii_case(b"getreg") {
            ctx.out.array(REGISTERS);
            for i in 0..REGISTERS {
                ctx.out.int(dense_get(&v[HDR..], i) as i64);
            }
        } else {
            ctx.out.int(converted as i64);
        }
    } else if sub.eq_ignore_ascii_case(b"decode") {
        if v[4] != SPARSE {
            return ctx.out.error("ERR HLL encoding is not sparse");
        }
        let decoded = decode_sparse(v);
        ctx.out.bulk(decoded.as_bytes());
    } else if sub.eq_ignore_ascii_case(b"encoding") {
        ctx.out
            .simple(if v[4] == DENSE { "dense" } else { "sparse" });
    } else {
        // Redis formats the name as a C string: it ends at a NUL byte.
        let name = sub.split(|&c| c == 0).next().unwrap_or_default();
        let mut msg = b"ERR Unknown PFDEBUG subcommand '".to_vec();
        msg.extend_from_slice(name);
        msg.push(b'\'');
        return ctx.out.error_bytes(&msg);
    }
    if converted {
        // Redis forces propagation of the encoding change (server.dirty)
        // but signals no key as modified: WATCH and tracking ignore it.
        ctx.dirty += 1;
        ctx.modified = Some(Vec::new());
    }
}

/// The opcodes of a sparse HLL as Redis prints them: `z:<run>` (ZERO),
/// `Z:<run>` (XZERO), `v:<value>,<run>` (VAL), separated by spaces.
fn decode_sparse(v: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut p = HDR;
    while p < v.len() {
        let b = v[p];
        if is_zero(b) {
            parts.push(format!("z:{}", zero_len(b)));
            p += 1;
        } else if is_xzero(b) {
            // A truncated XZERO reads the terminator Redis keeps after
            // the string: a zero byte.
            let b1 = v.get(p + 1).copied().unwrap_or(0);
            parts.push(format!("Z:{}", xzero_len(b, b1)));
            p += 2;
        } else {
            parts.push(format!("v:{},{}", val_value(b), val_len(b)));
            p += 1;
        }
    }
    parts.join(" ")
}

/// PFSELFTEST: Redis's self test of the register access and of the
/// estimator's error. It takes a while (ten million additions to a dense
/// and a sparse HLL), so it runs on its own thread: the shard's other
/// clients are not held up meanwhile.
fn pfselftest(conn: &mut Conn, _args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let max_bytes = conn
            .rt
            .shared
            .read_config(|c| c.int(conf::HLL_SPARSE_MAX_BYTES))
            .max(0) as usize;
        let seed = crate::command::shard_random();
        let (tx, rx) = futures::channel::oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("pfselftest".into())
            .spawn(move || {
                let _ = tx.send(selftest(max_bytes, seed, TEST_ELEMENTS));
            });
        let result = match spawned {
            Ok(_) => rx
                .await
                .unwrap_or_else(|_| selftest(max_bytes, seed, TEST_ELEMENTS)),
            Err(_) => selftest(max_bytes, seed, TEST_ELEMENTS),
        };
        match result {
            Ok(()) => conn.out.ok(),
            Err(e) => conn.out.error(&e),
        }
    })
}

/// Random register values, ten million elements: as pfselftestCommand.
const TEST_CYCLES: usize = 1000;
const TEST_ELEMENTS: u64 = 10_000_000;

/// xorshift64*: the test needs varied values, not good ones.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545f4914f6cdd1d)
    }
}

/// The two tests of Redis's pfselftestCommand, with `elements` additions
/// (Redis: ten million); Err is the error reply.
pub fn selftest(sparse_max_bytes: usize, seed: u64, elements: u64) -> Result<(), String> {
    let mut rng = Rng(seed | 1);
    // Test 1: every register keeps what was set, neighbours untouched.
    let mut regs = vec![0u8; DENSE_SIZE - HDR];
    let mut bytes = vec![0u8; REGISTERS];
    for _ in 0..TEST_CYCLES {
        for (i, b) in bytes.iter_mut().enumerate() {
            let r = (rng.next() as u8) & REGISTER_MAX;
            *b = r;
            dense_set_reg(&mut regs, i, r);
        }
        for (i, &b) in bytes.iter().enumerate() {
            let val = dense_get(&regs, i);
            if val != b {
                return Err(format!(
                    "TESTFAILED Register {i} should be {b} but is {val}"
                ));
            }
        }
    }
    // Test 2: a dense and a sparse HLL fed the same elements agree, the
    // sparse one stays sparse while small, and the estimate stays within
    // six standard errors at every power of ten.
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..4].copy_from_slice(b"HYLL");
    dense[4] = DENSE;
    let mut sparse = new_hll();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let mut checkpoint: u64 = 1;
    let ele_seed = rng.next();
    for j in 1..=elements {
        let ele = (j ^ ele_seed).to_le_bytes();
        let _ = hll_add(&mut dense, &ele, sparse_max_bytes);
        if hll_add(&mut sparse, &ele, sparse_max_bytes).is_err() {
            return Err(CORRUPTED.to_string());
        }
        if j != checkpoint {
            continue;
        }
        if (j as usize) < sparse_max_bytes / 2 && sparse[4] != SPARSE {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let card = hll_count(&dense).unwrap_or(0);
        if hll_count(&sparse) != Ok(card) {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        let abserr = (checkpoint as i64 - card as i64).unsigned_abs();
        // Redis allows cardinality 10 one error only, since collisions
        // there are likely enough to fail now and then otherwise.
        let maxerr = if j == 10 {
            1
        } else {
            (relerr * 6.0 * checkpoint as f64).ceil() as u64
        };
        if abserr > maxerr {
            return Err(format!(
                "TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"
            ));
        }
        checkpoint *= 10;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_empty_and_small() {
        assert_eq!(decode_sparse(&new_hll()), "Z:16384");
        let mut v = new_hll();
        for e in [b"a", b"b", b"c"] {
            hll_add(&mut v, e, 3000).unwrap();
        }
        assert_eq!(
            decode_sparse(&v),
            "Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603"
        );
    }

    #[test]
    fn selftest_passes_with_fewer_elements() {
        // The full run takes seconds unoptimized; the server runs it whole.
        for seed in [1, 0x9e3779b97f4a7c15] {
            assert_eq!(selftest(3000, seed, 100_000), Ok(()));
        }
    }
}
