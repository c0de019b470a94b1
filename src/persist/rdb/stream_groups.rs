//! The consumer groups that end a stream in an RDB (rdbSaveObject /
//! rdbLoadObject of Redis 7.0):
//!
//! ```text
//! <group count> (<name> <last ms> <last seq> [<entries read>] (type 19)
//!   <PEL count> (<16-byte ID> <8-byte LE delivery ms> <delivery count>)...
//!   <consumer count> (<name> <8-byte LE seen ms>
//!     <PEL count> <16-byte ID>...)...)...
//! ```
//! A consumer's PEL names entries of the group's PEL, which gets their
//! owner from it; an entry with no owner, or with two, is refused.

use super::length::write_len;
use super::reader::Reader;
use super::string::write_string;
use super::{types, RdbError, Result};
use crate::store::stream::{Consumer, Group, Nack, Stream, StreamId};
use std::collections::HashSet;

pub fn write(out: &mut Vec<u8>, s: &Stream, compress: bool) {
    write_len(out, s.groups.len() as u64);
    for (name, g) in &s.groups {
        write_string(out, name, compress);
        write_len(out, g.last_id.ms);
        write_len(out, g.last_id.seq);
        write_len(out, g.entries_read as u64);
        write_len(out, g.pel.len() as u64);
        for (id, n) in &g.pel {
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&n.delivery_time.to_le_bytes());
            write_len(out, n.delivery_count);
        }
        write_len(out, g.consumers.len() as u64);
        for (cname, c) in &g.consumers {
            write_string(out, cname, compress);
            out.extend_from_slice(&c.seen_time.to_le_bytes());
            write_len(out, c.pel.len() as u64);
            for id in &c.pel {
                out.extend_from_slice(&id.to_be_bytes());
            }
        }
    }
}

fn raw_id(r: &mut Reader) -> Result<StreamId> {
    let b: [u8; 16] = r.array()?;
    Ok(StreamId::from_be_bytes(&b).expect("16 bytes"))
}

// Redis's words for each check (rdb.c's rdbReportCorruptRDB), which
// RESTORE logs and the corrupt-dump tests look for.
const DUP_GROUP: RdbError = RdbError("Duplicated consumer group name");
const DUP_GLOBAL_PEL: RdbError =
    RdbError("Duplicated global PEL entry loading stream consumer group");
const DUP_CONSUMER: RdbError = RdbError("Duplicate stream consumer detected.");
const NOT_IN_GLOBAL_PEL: RdbError = RdbError("Consumer entry not found in group global PEL");
// Debian's 7.0 (a backported fix): an entry in two consumer PELs, or
// twice in one, is refused before the duplicate-in-PEL check.
const PEL_ENTRY_OWNED: RdbError =
    RdbError("Stream consumer PEL entry already has a consumer assigned");
const PEL_WITHOUT_CONSUMER: RdbError = RdbError("Stream CG PEL entry without consumer");

pub fn read(r: &mut Reader, t: u8, s: &mut Stream) -> Result<()> {
    let count = r.length()?;
    for _ in 0..count {
        let name = r.string()?;
        if s.groups.contains_key(&name) {
            return Err(DUP_GROUP);
        }
        let last_id = StreamId::new(r.length()?, r.length()?);
        let read = if t == types::STREAM_LISTPACKS_2 {
            r.length()? as i64
        } else {
            s.estimate_distance(last_id)
        };
        let mut g = Group::new(last_id, read);
        for _ in 0..r.length()? {
            let id = raw_id(r)?;
            let nack = Nack {
                delivery_time: u64::from_le_bytes(r.array()?),
                delivery_count: r.length()?,
                consumer: Vec::new(),
            };
            if g.pel.insert(id, nack).is_some() {
                return Err(DUP_GLOBAL_PEL);
            }
        }
        let mut owned = HashSet::new();
        for _ in 0..r.length()? {
            let cname = r.string()?;
            if g.consumers.contains_key(&cname) {
                return Err(DUP_CONSUMER);
            }
            let mut c = Consumer {
                seen_time: u64::from_le_bytes(r.array()?),
                ..Consumer::default()
            };
            for _ in 0..r.length()? {
                let id = raw_id(r)?;
                let n = g.pel.get_mut(&id).ok_or(NOT_IN_GLOBAL_PEL)?;
                if !owned.insert(id) {
                    return Err(PEL_ENTRY_OWNED);
                }
                n.consumer = cname.clone();
                c.pel.insert(id);
            }
            g.consumers.insert(cname, c);
        }
        // Every pending entry has one owner.
        if owned.len() != g.pel.len() {
            return Err(PEL_WITHOUT_CONSUMER);
        }
        s.groups.insert(name, g);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::rdb::payload;
    use crate::store::EncodingLimits;

    #[test]
    fn duplicate_consumer_is_named_as_redis_does() {
        // corrupt-dump's "stream with duplicate consumers": group "mygroup"
        // with two consumers called "name".
        let p = b"\x0F\x00\x00\x00\x00\x01\x07\x6D\x79\x67\x72\x6F\x75\x70\x00\x00\x00\x02\x04\x6E\x61\x6D\x65\x2A\x4C\xAA\x9A\x7D\x01\x00\x00\x00\x04\x6E\x61\x6D\x65\x2B\x4C\xAA\x9A\x7D\x01\x00\x00\x00\x0A\x00\xCC\xED\x8C\xA7\x62\xEE\xC7\xC8";
        let e = payload::load(p, &EncodingLimits::default()).unwrap_err();
        assert_eq!(e.0, "Duplicate stream consumer detected.");
    }
    #[test]
    fn entry_in_two_consumer_pels_is_refused_as_debian_does() {
        // One group "g" whose PEL holds 0-1, claimed by consumers "a" and
        // "b" (Debian's corrupt-dump test, in 7.0's type-15 layout).
        let id = StreamId::new(0, 1).to_be_bytes();
        let mut p = vec![1, 1, b'g', 0, 0, 1];
        p.extend_from_slice(&id);
        p.extend_from_slice(&[0; 8]);
        p.extend_from_slice(&[1, 2]);
        for name in [b'a', b'b'] {
            p.extend_from_slice(&[1, name]);
            p.extend_from_slice(&[0; 8]);
            p.push(1);
            p.extend_from_slice(&id);
        }
        let e = read(
            &mut Reader::new(&p),
            types::STREAM_LISTPACKS,
            &mut Stream::default(),
        );
        assert_eq!(
            e.unwrap_err().0,
            "Stream consumer PEL entry already has a consumer assigned"
        );
    }
}
