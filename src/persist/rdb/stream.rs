//! Streams in an RDB, as Redis 7.0's rdbSaveObject / rdbLoadObject lay
//! them out (RDB_TYPE_STREAM_LISTPACKS_2, 19; type 15 is read too):
//!
//! ```text
//! <node count> (<string: 16-byte master ID> <string: listpack>)...
//! <length> <last ms> <last seq> [<first ms> <first seq>
//! <max deleted ms> <max deleted seq> <entries added>]   (type 19 only)
//! <group count> ...groups                              (stream_groups.rs)
//! ```

use super::length::write_len;
use super::reader::Reader;
use super::string::write_string;
use super::{types, RdbError, Result};
use crate::store::listpack::Listpack;
use crate::store::stream::{pack, Stream, StreamId};
use crate::store::{PackedBox, Value};

const BAD_NODE: RdbError = RdbError("Stream listpack integrity check failed.");

/// Appends type 19 and the stream.
pub fn write(out: &mut Vec<u8>, s: &Stream, compress: bool) {
    out.push(types::STREAM_LISTPACKS_2);
    write_len(out, s.nodes.len() as u64);
    for (k, n) in &s.nodes {
        write_string(out, &k.to_be_bytes(), compress);
        write_string(out, pack::to_listpack(n).as_bytes(), compress);
    }
    write_len(out, s.length);
    for id in [s.last_id, s.first_id, s.max_deleted] {
        write_len(out, id.ms);
        write_len(out, id.seq);
    }
    write_len(out, s.entries_added);
    super::stream_groups::write(out, s, compress);
}

/// Reads a stream of type `t` (15 or 19).
pub fn read(r: &mut Reader, t: u8) -> Result<Value> {
    let mut s = Stream::new();
    let nodes = r.length()?;
    for _ in 0..nodes {
        let key = r.string()?;
        let master = StreamId::from_be_bytes(&key).ok_or(RdbError(
            "Stream node key entry is not the size of a stream ID",
        ))?;
        let lp = Listpack::from_bytes(r.string()?).ok_or(BAD_NODE)?;
        let node = pack::from_listpack(master, &lp).ok_or(BAD_NODE)?;
        if s.nodes.last_key_value().is_some_and(|(k, _)| *k >= master) {
            return Err(BAD_NODE);
        }
        s.nodes.insert(master, node);
    }
    s.length = r.length()?;
    s.last_id = StreamId::new(r.length()?, r.length()?);
    if t == types::STREAM_LISTPACKS_2 {
        s.first_id = StreamId::new(r.length()?, r.length()?);
        s.max_deleted = StreamId::new(r.length()?, r.length()?);
        s.entries_added = r.length()?;
    } else {
        s.entries_added = s.length;
        s.first_id = s.edge_id(true).unwrap_or(StreamId::MAX);
    }
    let live: u64 = s.nodes.values().map(|n| n.live as u64).sum();
    if live != s.length {
        return Err(BAD_NODE);
    }
    super::stream_groups::read(r, t, &mut s)?;
    Ok(Value::Stream(PackedBox::new(s)))
}
