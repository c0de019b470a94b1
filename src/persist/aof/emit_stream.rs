//! A stream as the commands that recreate it (Redis 7.0's
//! rewriteStreamObject): one XADD per entry (an empty stream: `XADD key
//! MAXLEN 0 0-1 x y`), then XSETID with the last ID, ENTRIESADDED and
//! MAXDELETEDID, then the consumer groups.

use super::record::encode_command;
use crate::store::stream::{Stream, StreamId};

pub fn stream(out: &mut Vec<u8>, key: &[u8], s: &Stream) {
    if s.length > 0 {
        s.range(StreamId::MIN, StreamId::MAX, false, &mut |n, e| {
            let id = e.id.to_bytes();
            let mut args: Vec<&[u8]> = vec![b"XADD", key, &id];
            for (f, v) in n.pairs(e) {
                args.push(f);
                args.push(v);
            }
            encode_command(out, &args);
            true
        });
    } else {
        encode_command(
            out,
            &[b"XADD".as_slice(), key, b"MAXLEN", b"0", b"0-1", b"x", b"y"],
        );
    }
    encode_command(
        out,
        &[
            b"XSETID".as_slice(),
            key,
            &s.last_id.to_bytes(),
            b"ENTRIESADDED",
            s.entries_added.to_string().as_bytes(),
            b"MAXDELETEDID",
            &s.max_deleted.to_bytes(),
        ],
    );
    groups(out, key, s);
}

/// The groups of a stream: XGROUP CREATE ... ENTRIESREAD per group, then
/// per consumer an XCLAIM ... JUSTID FORCE per pending entry, or XGROUP
/// CREATECONSUMER when it has none (rewriteStreamObject's order).
fn groups(out: &mut Vec<u8>, key: &[u8], s: &Stream) {
    for (name, g) in &s.groups {
        encode_command(
            out,
            &[
                b"XGROUP".as_slice(),
                b"CREATE",
                key,
                name,
                &g.last_id.to_bytes(),
                b"ENTRIESREAD",
                g.entries_read.to_string().as_bytes(),
            ],
        );
        for (cname, c) in &g.consumers {
            if c.pel.is_empty() {
                encode_command(
                    out,
                    &[b"XGROUP".as_slice(), b"CREATECONSUMER", key, name, cname],
                );
            }
            for id in &c.pel {
                let n = &g.pel[id];
                encode_command(
                    out,
                    &[
                        b"XCLAIM".as_slice(),
                        key,
                        name,
                        cname,
                        b"0",
                        &id.to_bytes(),
                        b"TIME",
                        n.delivery_time.to_string().as_bytes(),
                        b"RETRYCOUNT",
                        n.delivery_count.to_string().as_bytes(),
                        b"JUSTID",
                        b"FORCE",
                    ],
                );
            }
        }
    }
}
