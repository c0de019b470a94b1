//! SCAN cursor [MATCH pattern] [COUNT count] [TYPE type], over every shard
//! of the node with one opaque cursor.
//!
//! The keyspace of a shard is a table per slot. The cursor is a position
//! in the node's slots taken shard-major: shard 0's slots in local order,
//! then shard 1's, and so on (16384 positions in all; 0 is both the start
//! and the end). A call visits whole slots from the cursor on until it
//! has seen COUNT keys (before MATCH/TYPE filtering, as Redis counts
//! work), crossing into the next shard when one is exhausted. Because a
//! slot is always taken whole, a key present during the whole scan is
//! returned at least once, and (slots never move between shards) at most
//! once.

use super::util::{arg_i64, is, NOT_INTEGER, SYNTAX};
use crate::server::conn::Conn;
use crate::server::mesh;
use crate::slot::SLOTS;
use crate::sys::clock::unix_ms;
use futures::future::LocalBoxFuture;

/// Number of slots shard `shard` of `nshards` holds.
fn slots_of(shard: usize, nshards: usize) -> usize {
    (SLOTS - shard).div_ceil(nshards)
}

/// The cursor position of shard `shard`'s first slot.
fn base_of(shard: usize, nshards: usize) -> usize {
    (0..shard).map(|s| slots_of(s, nshards)).sum()
}

/// (shard, local slot index) of cursor position `pos` (< SLOTS).
fn locate(pos: usize, nshards: usize) -> (usize, usize) {
    let mut base = 0;
    for s in 0..nshards {
        let n = slots_of(s, nshards);
        if pos < base + n {
            return (s, pos - base);
        }
        base += n;
    }
    (nshards - 1, slots_of(nshards - 1, nshards))
}

/// A cursor as Redis's `parseScanCursorOrReply` reads it (`strtoul`):
/// optional sign (a negative value wraps), decimal digits, nothing else;
/// the empty string is cursor 0.
pub fn parse_cursor(a: &[u8]) -> Option<u64> {
    let c_isspace = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    match a.first() {
        None => return Some(0),
        Some(&c) if c_isspace(c) => return None,
        _ => {}
    }
    let (neg, digits) = match a[0] {
        b'-' => (true, &a[1..]),
        b'+' => (false, &a[1..]),
        _ => (false, a),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// One shard's part of a SCAN call.
struct Step {
    keys: Vec<Vec<u8>>,
    /// Local slot index to resume from.
    next: usize,
    /// Keys looked at, matching or not.
    seen: usize,
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
pub fn scan(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(cursor) = parse_cursor(&args[1]) else {
            return conn.out.error("ERR invalid cursor");
        };
        let mut count: usize = 10;
        let mut pattern: Option<Vec<u8>> = None;
        let mut typ: Option<Vec<u8>> = None;
        let mut i = 2;
        while i < args.len() {
            let more = i + 1 < args.len();
            if is(&args[i], "count") && more {
                match arg_i64(&args[i + 1]) {
                    None => return conn.out.error(NOT_INTEGER),
                    Some(n) if n < 1 => return conn.out.error(SYNTAX),
                    Some(n) => count = usize::try_from(n).unwrap_or(usize::MAX),
                }
            } else if is(&args[i], "match") && more {
                let p = &args[i + 1];
                pattern = (p.as_slice() != b"*").then(|| p.clone());
            } else if is(&args[i], "type") && more {
                typ = Some(args[i + 1].clone());
            } else {
                return conn.out.error(SYNTAX);
            }
            i += 2;
        }

        let nshards = conn.rt.nshards;
        let db = conn.db;
        let mut pos = (cursor % SLOTS as u64) as usize;
        let mut keys = Vec::new();
        let mut seen = 0;
        loop {
            let (shard, start) = locate(pos, nshards);
            let (need, pattern, typ) = (count - seen, pattern.clone(), typ.clone());
            let step = mesh::run_on(&conn.rt, shard, move |rt| {
                scan_shard(rt, db, start, need, pattern.as_deref(), typ.as_deref())
            })
            .await;
            keys.extend(step.keys);
            seen += step.seen;
            pos = base_of(shard, nshards) + step.next;
            if pos >= SLOTS {
                pos = 0;
                break;
            }
            if seen >= count {
                break;
            }
        }
        conn.out.array(2);
        conn.out.bulk_i64(pos as i64);
        conn.out.array(keys.len());
        for k in &keys {
            conn.out.bulk(k);
        }
    })
}

/// Visits whole slots of this shard from local index `start` until `need`
/// keys were seen or the shard's slots are exhausted. Expired keys are
/// deleted and not returned; a TYPE filter counts keyspace hits/misses as
/// Redis's lookup does.
fn scan_shard(
    rt: &crate::server::shard::ShardRt,
    db: usize,
    start: usize,
    need: usize,
    pattern: Option<&[u8]>,
    typ: Option<&[u8]>,
) -> Step {
    let now = unix_ms();
    let end = slots_of(rt.id, rt.nshards);
    // The keys deleted below are logged for their DELs and events.
    let (mut guard, events) = crate::server::effects::begin_visit(rt);
    let core = &mut *guard;
    let d = &mut core.store.dbs[db];
    let mut step = Step {
        keys: Vec::new(),
        next: start,
        seen: 0,
    };
    let mut dead: Vec<(u16, Vec<u8>)> = Vec::new();
    let (mut hits, mut misses) = (0, 0);
    while step.next < end && step.seen < need {
        let i = step.next;
        step.next += 1;
        let Some(t) = d.table_at(i) else { continue };
        for (k, e) in &t.keys {
            step.seen += 1;
            if pattern.is_some_and(|p| !crate::glob::matches(p, k, false)) {
                continue;
            }
            let expired =
                !t.expires.is_empty() && t.expires.get(k.as_slice()).is_some_and(|&at| at <= now);
            if expired {
                if typ.is_some() {
                    misses += 1;
                }
                if let Some(slot) = d.slot_at(rt.id, i) {
                    dead.push((slot, k.to_vec()));
                }
                continue;
            }
            if let Some(ty) = typ {
                hits += 1;
                if !ty.eq_ignore_ascii_case(e.value.type_name().as_bytes()) {
                    continue;
                }
            }
            step.keys.push(k.to_vec());
        }
    }
    for (slot, k) in dead {
        d.expire_if_needed(slot, &k, now);
        // The TYPE filter's read lookup missed (`keymiss`, after `expired`).
        if typ.is_some() && d.log_mask & crate::store::LOG_MISS != 0 {
            d.key_log.push((crate::store::LOG_MISS, k));
        }
    }
    core.stats.keyspace_hits += hits;
    core.stats.keyspace_misses += misses;
    crate::server::effects::end_visit(rt, guard, events);
    step
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_parsing_as_strtoul() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"+5"), Some(5));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551616"), None);
        for bad in [&b" 1"[..], b"1 ", b"abc", b"+", b"-", b"0x10", b"1.5"] {
            assert_eq!(parse_cursor(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn positions_cover_every_slot_once() {
        for n in [1, 2, 3, 4, 7] {
            let mut seen = vec![false; SLOTS];
            for pos in 0..SLOTS {
                let (s, i) = locate(pos, n);
                assert_eq!(base_of(s, n) + i, pos);
                let slot = i * n + s;
                assert!(slot < SLOTS && !seen[slot]);
                seen[slot] = true;
            }
            assert!(seen.iter().all(|&x| x));
        }
    }
}
