//! The AOF loader: the multi-part manifest and the files it lists.
//!
//! The first input byte picks what the rest is. Even: a manifest, parsed
//! as at start-up; one that parses renders to text that parses to the
//! same manifest (the server rewrites it on every BGREWRITEAOF). Odd: an
//! AOF file, loaded as persist/aof/startup.rs loads one: an RDB preamble
//! when it starts with "REDIS", then the commands, each replayed through
//! its handler (the first 64, so a few SETRANGEs cannot add up past the
//! RSS limit). Checked: no panic; offsets lie inside the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shardis::command::ExecLimits;
use shardis::server::aof_replay::HandlerSink;
use shardis::persist::aof::manifest::Manifest;
use shardis::persist::aof::parse::{for_each_command, ParseStop};
use shardis::persist::aof::replay::Replayer;
use shardis::persist::rdb::file::{read_file, LoadOpts};
use shardis::store::EncodingLimits;

fn manifest(text: &[u8]) {
    if let Ok(m) = Manifest::parse(text) {
        let again = m.render();
        // Quoting may lengthen a line past Redis's limit, as in Redis.
        if again.lines().all(|l| l.len() < 1024) {
            assert_eq!(Manifest::parse(again.as_bytes()), Ok(m), "{again:?}");
        }
    }
}

fn aof_file(bytes: &[u8]) {
    let limits = ExecLimits {
        // The smallest proto-max-bulk-len Redis accepts: bounds what one
        // replayed command may build.
        proto_max_bulk_len: 1024 * 1024,
        ..ExecLimits::default()
    };
    // The server finds handlers in the table the families register.
    shardis::command::install();
    let mut sink = HandlerSink::new(limits, 0);
    let mut r = Replayer::new(16, &mut sink);
    r.start_file();
    let mut from = 0;
    if bytes.starts_with(b"REDIS") {
        let enc = EncodingLimits::default();
        let opts = LoadOpts {
            databases: 16,
            limits: &enc,
            now_ms: 0,
            checksum: false,
        };
        let store = &mut r.store;
        match read_file(bytes, &opts, |k| {
            if let Some(db) = store.dbs.get_mut(k.db) {
                db.set_with_expire(&k.key, k.value, k.expire_ms, 0);
            }
        }) {
            Ok(stats) => from = stats.end,
            Err(_) => return,
        }
    }
    let tail = &bytes[from..];
    let mut n = 0;
    let outcome = for_each_command(tail, |offset, argv| {
        assert!(offset < tail.len() && !argv.is_empty());
        n += 1;
        if n > 64 {
            return Err(());
        }
        r.apply(argv).map_err(|_| ())
    });
    match outcome {
        Ok(Err(ParseStop::Truncated { valid })) => assert!(valid <= tail.len()),
        Ok(Err(ParseStop::BadFormat { offset })) => assert!(offset < tail.len()),
        _ => {}
    }
    if r.in_multi() {
        r.discard_multi();
    }
    let _ = r.into_shards(4, 0);
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, data)) = input.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        manifest(data);
    } else {
        aof_file(data);
    }
});
