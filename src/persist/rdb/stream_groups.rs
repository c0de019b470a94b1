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
//! owner from it; an entry with no owner is refused.

use super::length::write_len;
use super::reader::Reader;
use super::string::write_string;
use super::{types, RdbError, Result};
use crate::store::stream::{Consumer, Group, Nack, Stream, StreamId};

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

fn corrupt(_: ()) -> RdbError {
    RdbError("Stream consumer group integrity check failed.")
}

pub fn read(r: &mut Reader, t: u8, s: &mut Stream) -> Result<()> {
    let count = r.length()?;
    for _ in 0..count {
        let name = r.string()?;
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
                return Err(corrupt(()));
            }
        }
        let mut owned = 0;
        for _ in 0..r.length()? {
            let cname = r.string()?;
            let mut c = Consumer {
                seen_time: u64::from_le_bytes(r.array()?),
                ..Consumer::default()
            };
            for _ in 0..r.length()? {
                let id = raw_id(r)?;
                let n = g.pel.get_mut(&id).ok_or(()).map_err(corrupt)?;
                n.consumer = cname.clone();
                if !c.pel.insert(id) {
                    return Err(corrupt(()));
                }
                owned += 1;
            }
            if g.consumers.insert(cname, c).is_some() {
                return Err(corrupt(()));
            }
        }
        // Every pending entry has one owner.
        if owned != g.pel.len() {
            return Err(corrupt(()));
        }
        if s.groups.insert(name, g).is_some() {
            return Err(corrupt(()));
        }
    }
    Ok(())
}
