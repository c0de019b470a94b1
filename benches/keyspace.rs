//! Keyspace benchmarks: one shard's `Db` holding 1M keys of 16 bytes
//! (`key:000000000042`, the shape of redis-benchmark's `-r` keys), and
//! the slot hash.
//!
//! `cargo bench --bench keyspace`. Keys are visited in a scattered order
//! (a multiplicative permutation) so the numbers include cache misses,
//! as a server with a large keyspace sees them.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use shardis::slot::key_slot;
use shardis::store::{Db, Value};
use std::time::{Duration, Instant};

const KEYS: usize = 1_000_000;
/// Odd and coprime with KEYS: `i * STRIDE % KEYS` visits every key once.
const STRIDE: usize = 618_033;

fn key(i: usize) -> [u8; 16] {
    let mut k = *b"key:000000000000";
    let mut n = i;
    for pos in (4..16).rev() {
        k[pos] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    k
}

/// A key of the same shape that is never stored.
fn absent_key(i: usize) -> [u8; 16] {
    let mut k = key(i);
    k[3] = b';';
    k
}

fn preloaded() -> Db {
    let mut db = Db::new(1);
    let value = b"0123456789abcdef";
    for i in 0..KEYS {
        db.set(&key(i), Value::from_bytes(value), 0);
    }
    assert_eq!(db.len(), KEYS);
    db
}

fn keyspace(c: &mut Criterion) {
    let mut db = preloaded();
    let value = b"fedcba9876543210";
    let now = 1;
    let mut g = c.benchmark_group("db_1m");

    let mut i = 0usize;
    g.bench_function("lookup_hit", |b| {
        b.iter(|| {
            i = (i + STRIDE) % KEYS;
            db.lookup(black_box(&key(i)), now).is_some()
        })
    });
    g.bench_function("lookup_miss", |b| {
        b.iter(|| {
            i = (i + STRIDE) % KEYS;
            db.lookup(black_box(&absent_key(i)), now).is_some()
        })
    });
    g.bench_function("set_overwrite", |b| {
        b.iter(|| {
            i = (i + STRIDE) % KEYS;
            db.set(black_box(&key(i)), Value::from_bytes(value), 0)
        })
    });
    // A new key each time; the timed part is only the insertion (the
    // extra keys are removed afterwards, untimed).
    g.bench_function("set_new", |b| {
        b.iter_custom(|iters| {
            let keys: Vec<[u8; 16]> = (0..iters as usize).map(absent_key).collect();
            let start = Instant::now();
            for k in &keys {
                db.set(black_box(k), Value::from_bytes(value), 0);
            }
            let took = start.elapsed();
            for k in &keys {
                db.remove(k);
            }
            took
        })
    });
    // Removing existing keys; they are put back afterwards, untimed.
    g.bench_function("remove", |b| {
        b.iter_custom(|iters| {
            let picked: Vec<[u8; 16]> = (0..iters as usize)
                .map(|_| {
                    i = (i + STRIDE) % KEYS;
                    key(i)
                })
                .collect();
            let start = Instant::now();
            for k in &picked {
                black_box(db.remove(black_box(k)));
            }
            let took = start.elapsed();
            for k in &picked {
                db.set(k, Value::from_bytes(value), 0);
            }
            took
        })
    });
    g.finish();
    assert_eq!(db.len(), KEYS);
}

fn slots(c: &mut Criterion) {
    let mut g = c.benchmark_group("key_slot");
    let long = vec![b'k'; 100];
    let cases: [(&str, &[u8]); 3] = [
        ("16b", b"key:000000000042"),
        ("hash_tag", b"{user1000}.following"),
        ("100b", &long),
    ];
    for (name, k) in cases {
        g.bench_with_input(BenchmarkId::from_parameter(name), k, |b, k| {
            b.iter(|| key_slot(black_box(k)))
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = keyspace, slots
}
criterion_main!(benches);
