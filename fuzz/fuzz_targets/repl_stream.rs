//! What a replica reads from its master after sending PSYNC, through the
//! pieces repl/replica/link.rs drives: reply lines (empty keepalive lines
//! skipped), the PSYNC answer, the RDB transfer (`$<len>` or
//! `$EOF:<mark>`), the RDB itself, then the command stream.
//!
//! The first input byte sets the size of the reads the transfer is fed
//! in. Checked: no panic; the transfer never takes more than it is
//! given nor reserves much beyond what arrived (a `$` length claiming
//! gigabytes allocates nothing); parsed commands lie inside the buffer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shardis::persist::rdb::file::{read_file, LoadOpts};
use shardis::repl::replica::sync::{stream_limits, take_line, PsyncReply, Transfer};
use shardis::resp::{parse_command, Parsed, Progress};
use shardis::store::EncodingLimits;

/// The next non-empty reply line, as `Link::read_reply`.
fn reply<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    loop {
        let (line, used) = take_line(rest)?;
        *rest = &rest[used..];
        if !line.is_empty() {
            return Some(line);
        }
    }
}

fn transfer(rest: &mut &[u8], read: usize) -> Option<Vec<u8>> {
    let mut t = Transfer::start(reply(rest)?).ok()?;
    while !t.is_done() && !rest.is_empty() {
        let chunk = &rest[..read.min(rest.len())];
        let used = t.feed(chunk);
        assert!(used <= chunk.len());
        assert!(
            t.capacity() <= 2 * t.received() + 128,
            "reserved {}",
            t.capacity()
        );
        *rest = &rest[used..];
    }
    t.is_done().then(|| t.into_rdb())
}

fn command_stream(buf: &[u8]) {
    let limits = stream_limits();
    let (mut progress, mut ranges, mut scratch) = (Progress::default(), Vec::new(), Vec::new());
    let mut pos = 0;
    while pos < buf.len() {
        scratch.clear();
        match parse_command(
            &buf[pos..],
            &limits,
            &mut progress,
            &mut ranges,
            &mut scratch,
        ) {
            Ok(Parsed::Complete { consumed, inline }) => {
                let len = if inline { scratch.len() } else { consumed };
                assert!(ranges.iter().all(|&(s, e)| s <= e && e <= len));
                pos += consumed;
            }
            Ok(Parsed::Incomplete { .. }) | Err(_) => return,
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&first, mut rest)) = input.split_first() else {
        return;
    };
    let read = first as usize % 64 + 1;
    let Some(line) = reply(&mut rest) else {
        return;
    };
    match PsyncReply::parse(line) {
        Ok(PsyncReply::FullResync { .. }) => {
            let Some(rdb) = transfer(&mut rest, read) else {
                return;
            };
            let limits = EncodingLimits::default();
            let opts = LoadOpts {
                databases: 16,
                limits: &limits,
                now_ms: 0,
                checksum: false,
            };
            if read_file(&rdb, &opts, |_| {}).is_err() {
                return;
            }
            command_stream(rest);
        }
        Ok(PsyncReply::Continue { .. }) => command_stream(rest),
        Err(_) => {}
    }
});
