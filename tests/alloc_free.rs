//! Issue 15: pipelined GET and SET hits allocate nothing per request.
//! `DEBUG ALLOC-COUNT` (Shardis-only) reports the allocations made so far
//! by the connection's shard thread; `DEBUG SHARD` names that shard, so
//! the keys can be chosen on it.
//!
//! The same number of batches is run with 8 and with 64 requests each:
//! what a batch costs whatever its size cancels out, and the difference
//! is the requests' own allocations, which must be none. A batch does
//! cost a few allocations in glommio's reactor each time the thread
//! sleeps and wakes for the next read (its preemption timers and
//! io_uring sources), bounded here by `PER_BATCH_MAX`; Shardis's own
//! request path allocates nothing per batch either.

mod common;

use common::{int_reply, Conn, Server};

/// Batches measured per size.
const BATCHES: usize = 300;
/// The reactor's allocations per batch allowed (one sleep and wake-up of
/// the shard thread per batch: about 5 seen).
const PER_BATCH_MAX: i64 = 16;

fn alloc_count(c: &mut Conn) -> i64 {
    int_reply(&c.cmd(&["DEBUG", "ALLOC-COUNT"]))
}

/// `n` keys whose slot falls on `shard` of `shards`.
fn keys_on_shard(shard: usize, shards: usize, n: usize) -> Vec<String> {
    (0..)
        .map(|i| format!("af:{i}"))
        .filter(|k| shardis::slot::key_slot(k.as_bytes()) as usize % shards == shard)
        .take(n)
        .collect()
}

/// One batch's bytes: `size` requests alternating a GET of a key and a
/// SET overwriting one with a value of the same size.
fn batch(keys: &[String], round: usize, size: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    for i in 0..size {
        let k = &keys[(round + i) % keys.len()];
        if i % 2 == 0 {
            bytes.extend(common::encode(&["GET", k.as_str()]));
        } else {
            let v = format!("{:016}", round * size + i);
            bytes.extend(common::encode(&["SET", k.as_str(), v.as_str()]));
        }
    }
    bytes
}

fn run_batches(c: &mut Conn, keys: &[String], n: usize, size: usize) {
    for round in 0..n {
        c.send_raw(&batch(keys, round, size));
        for r in c.read_replies(size) {
            assert!(
                (r[0] == b'$' && r.len() == 16 + 7) || r == b"+OK\r\n",
                "{}",
                common::escape(&r)
            );
        }
    }
}

/// Allocations of the connection's shard thread over `BATCHES` batches
/// of `size` requests, less what asking costs.
fn allocations(c: &mut Conn, keys: &[String], size: usize) -> i64 {
    // The cost of asking, measured the same way (two reads in a row).
    let a = alloc_count(c);
    let probe = alloc_count(c) - a;
    let before = alloc_count(c);
    run_batches(c, keys, BATCHES, size);
    let after = alloc_count(c);
    after - before - probe
}

/// (allocations per request, per batch) on a connection at `shards`
/// whose keys all live on its own shard.
fn measure(shards: usize) -> (f64, f64) {
    let server = Server::shardis(shards, &["--enable-debug-command", "yes", "--hz", "1"]);
    let mut c = server.conn();
    let shard = int_reply(&c.cmd(&["DEBUG", "SHARD"])) as usize;
    assert!(shard < shards);
    let keys = keys_on_shard(shard, shards, 16);
    for k in &keys {
        assert_eq!(c.cmd(&["SET", k.as_str(), "0000000000000000"]), b"+OK\r\n");
    }
    // Warm-up: buffers and tables grow to their working size.
    run_batches(&mut c, &keys, 50, 64);
    // Timers firing meanwhile (active expiry, save rules: a dozen
    // allocations each) add noise that grows with the run's length, so
    // the least of three tries counts.
    let (small, large) = (0..3)
        .map(|_| {
            let small = allocations(&mut c, &keys, 8);
            (small, allocations(&mut c, &keys, 64))
        })
        .min_by_key(|(s, l)| l - s)
        .unwrap();
    let per_request = (large - small) as f64 / (BATCHES * (64 - 8)) as f64;
    let per_batch = small as f64 / BATCHES as f64;
    eprintln!(
        "shards {shards}: {BATCHES} batches of 8: {small} allocations, of 64: {large}; \
         {per_request:.4} per request, {per_batch:.2} per batch"
    );
    // One allocation per SET would add 300 * 56 / 2; the bound leaves
    // room for timer noise only (less than one per 56 requests).
    assert!(
        large - small < BATCHES as i64,
        "shards {shards}: requests allocate: {small} allocations for batches of 8, \
         {large} for batches of 64"
    );
    assert!(
        small <= PER_BATCH_MAX * BATCHES as i64,
        "shards {shards}: {small} allocations for {BATCHES} batches"
    );
    (per_request, per_batch)
}

#[test]
fn pipelined_get_set_hits_allocate_nothing_shards_1() {
    measure(1);
}

#[test]
fn pipelined_get_set_hits_allocate_nothing_shards_4() {
    measure(4);
}
