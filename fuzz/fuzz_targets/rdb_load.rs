//! The RDB loader: whole files (start-up, DEBUG RELOAD, a master's full
//! sync) and DUMP payloads (RESTORE).
//!
//! The first input byte picks the use: even, the rest is a file; odd, a
//! DUMP payload. Checksums are not required (the fuzzer could not forge
//! them, and an attacker can). Checked: no panic, no allocation beyond
//! libFuzzer's RSS limit; every value loaded dumps to a payload that
//! verifies and restores (what we accepted, we can serve to DUMP).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shardis::persist::rdb::encode::EncodeOpts;
use shardis::persist::rdb::file::{read_file, LoadOpts};
use shardis::persist::rdb::payload;
use shardis::store::{EncodingLimits, Value};

fn redump(v: &Value, limits: &EncodingLimits) {
    for compress in [false, true] {
        let opts = EncodeOpts {
            compress,
            ..EncodeOpts::default()
        };
        let p = payload::create(v, &opts);
        assert!(payload::verify(&p));
        payload::load(&p, limits).expect("a value we dumped restores");
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, data)) = input.split_first() else {
        return;
    };
    let limits = EncodingLimits::default();
    if mode & 1 == 0 {
        let opts = LoadOpts {
            databases: 16,
            limits: &limits,
            now_ms: 0,
            checksum: mode & 2 != 0,
        };
        let mut n = 0;
        if let Ok(stats) = read_file(data, &opts, |k| {
            assert!(k.db < 16);
            if n < 16 {
                redump(&k.value, &limits);
            }
            n += 1;
        }) {
            assert!(stats.end <= data.len());
        }
    } else {
        let _ = payload::verify(data);
        if let Ok(v) = payload::load(data, &limits) {
            redump(&v, &limits);
        }
    }
});
