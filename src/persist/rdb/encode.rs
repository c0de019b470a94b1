//! Writing a value as Redis 7.0's `rdbSaveObjectType` + `rdbSaveObject`
//! do: a type byte, then the object.
//!
//! ```text
//! string          0  <string>
//! list           18  <node count> (<container: 2 packed> <string: listpack>)...
//! set (intset)   11  <string: intset bytes>
//! set (table)     2  <count> <member string>...
//! zset (listpack)17  <string: listpack member, score, ...>
//! zset (big)      5  <count> (<member string> <score: f64 LE>)... highest first
//! hash (listpack)16  <string: listpack field, value, ...>
//! hash (table)    4  <count> (<field string> <value string>)...
//! ```
//!
//! Blobs (listpacks, intsets) are strings too, so they are LZF-compressed
//! like any string longer than 20 bytes.

use super::length::write_len;
use super::string::write_string;
use super::types;
use crate::store::listpack::{Listpack, LpValue};
use crate::store::{Hash, List, Set, Value, ZSet};

/// Writer settings from the configuration.
#[derive(Clone, Copy, Debug)]
pub struct EncodeOpts {
    /// `rdbcompression`.
    pub compress: bool,
    /// `list-max-listpack-size`, which decides the quicklist nodes.
    pub list_fill: i64,
}

impl Default for EncodeOpts {
    fn default() -> Self {
        EncodeOpts {
            compress: true,
            list_fill: -2,
        }
    }
}

/// `QUICKLIST_NODE_CONTAINER_PACKED`.
const CONTAINER_PACKED: u64 = 2;

/// Appends the type byte and the object.
pub fn write_value(out: &mut Vec<u8>, v: &Value, opts: &EncodeOpts) {
    match v {
        Value::Str(_) | Value::Raw(_) => {
            out.push(types::STRING);
            write_string(out, v.as_str().unwrap_or_default(), opts.compress);
        }
        Value::List(l) => write_list(out, l, opts),
        Value::Set(s) => write_set(out, s, opts),
        Value::ZSet(z) => write_zset(out, z, opts),
        Value::Hash(h) => write_hash(out, h, opts),
        Value::Stream(s) => super::stream::write(out, s, opts.compress),
    }
}

fn lp_bytes(v: LpValue<'_>, buf: &mut Vec<u8>) {
    buf.clear();
    v.write_to(buf);
}

/// Redis 7.0's `_quicklistNodeAllowInsert`: whether a node of `bytes`
/// bytes and `count` entries takes one more entry of `sz` bytes.
fn node_allows(bytes: usize, count: usize, sz: usize, fill: i64) -> bool {
    const SIZE_SAFETY_LIMIT: usize = 8192;
    const OPTIMIZATION_LEVEL: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
    let fill = fill.clamp(-5, (1 << 15) - 1);
    let new_sz = bytes + sz + 8;
    if fill < 0 {
        return new_sz <= OPTIMIZATION_LEVEL[(-fill - 1) as usize];
    }
    new_sz <= SIZE_SAFETY_LIMIT && (count as i64) < fill
}

/// The list as quicklist nodes, cut as Redis cuts a list built by RPUSH
/// under `fill` (the store does not expose its own node boundaries).
fn list_nodes(l: &List, fill: i64) -> Vec<Listpack> {
    let mut nodes: Vec<Listpack> = Vec::new();
    let mut buf = Vec::new();
    for v in l.iter() {
        lp_bytes(v, &mut buf);
        match nodes.last_mut() {
            Some(n) if node_allows(n.bytes_len(), n.len(), buf.len(), fill) => n.push_back(&buf),
            _ => {
                let mut n = Listpack::new();
                n.push_back(&buf);
                nodes.push(n);
            }
        }
    }
    nodes
}

fn write_list(out: &mut Vec<u8>, l: &List, opts: &EncodeOpts) {
    out.push(types::LIST_QUICKLIST_2);
    let nodes = list_nodes(l, opts.list_fill);
    write_len(out, nodes.len() as u64);
    for n in &nodes {
        write_len(out, CONTAINER_PACKED);
        write_string(out, n.as_bytes(), opts.compress);
    }
}

fn write_set(out: &mut Vec<u8>, s: &Set, opts: &EncodeOpts) {
    match s {
        Set::Ints(is) => {
            out.push(types::SET_INTSET);
            write_string(out, is.as_bytes(), opts.compress);
        }
        Set::Table(_) => {
            out.push(types::SET);
            write_len(out, s.len() as u64);
            let mut buf = Vec::new();
            for m in s.iter() {
                buf.clear();
                m.write_to(&mut buf);
                write_string(out, &buf, opts.compress);
            }
        }
    }
}

fn write_zset(out: &mut Vec<u8>, z: &ZSet, opts: &EncodeOpts) {
    match z {
        ZSet::Listpack(lp) => {
            out.push(types::ZSET_LISTPACK);
            write_string(out, lp.as_bytes(), opts.compress);
        }
        ZSet::Skiplist(_) => {
            out.push(types::ZSET_2);
            write_len(out, z.len() as u64);
            let mut buf = Vec::new();
            // Redis walks its skiplist from the tail: highest score first.
            for (m, score) in z.iter_at(z.len().saturating_sub(1), true) {
                lp_bytes(m, &mut buf);
                write_string(out, &buf, opts.compress);
                out.extend_from_slice(&score.to_le_bytes());
            }
        }
    }
}

fn write_hash(out: &mut Vec<u8>, h: &Hash, opts: &EncodeOpts) {
    match h {
        Hash::Pack(lp) => {
            out.push(types::HASH_LISTPACK);
            write_string(out, lp.as_bytes(), opts.compress);
        }
        Hash::Table(_) => {
            out.push(types::HASH);
            write_len(out, h.len() as u64);
            let mut buf = Vec::new();
            for (f, v) in h.iter() {
                lp_bytes(f, &mut buf);
                write_string(out, &buf, opts.compress);
                lp_bytes(v, &mut buf);
                write_string(out, &buf, opts.compress);
            }
        }
    }
}
