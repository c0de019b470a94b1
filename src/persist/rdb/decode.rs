//! Reading a value (type byte, then object) as Redis 7.0's
//! `rdbLoadObjectType` + `rdbLoadObject` do, including the older encodings
//! 7.0 still loads, into the encoding Redis 7.0 would give it under the
//! current `*-max-*` limits.
//!
//! Every blob is validated in depth (as with `sanitize-dump-payload yes`):
//! listpack and intset structure, ziplist prevlens, pair counts, duplicate
//! members or fields, NaN scores. An empty collection is an error, as in
//! Redis (which skips such keys when loading a file).

use super::reader::Reader;
use super::{types, ziplist, RdbError, Result};
use crate::store::dict::Dict;
use crate::store::intset::IntSet;
use crate::store::list::End;
use crate::store::listpack::{Listpack, LpValue};
use crate::store::{EncodingLimits, Hash, List, Set, SmallBytes, Value, ZSet};
use std::collections::HashSet;

const EMPTY: RdbError = RdbError("empty collection");
// Redis's words for each kind of blob that fails its check (rdb.c's
// rdbReportCorruptRDB), which RESTORE logs and operators grep for.
const BAD_LISTPACK: RdbError = RdbError("Listpack integrity check failed.");
const BAD_LIST_ZIPLIST: RdbError = RdbError("List ziplist integrity check failed.");
const BAD_ZSET_ZIPLIST: RdbError = RdbError("Zset ziplist integrity check failed.");
const BAD_ZSET_LISTPACK: RdbError = RdbError("Zset listpack integrity check failed.");
const BAD_HASH_ZIPLIST: RdbError = RdbError("Hash ziplist integrity check failed.");
const BAD_HASH_LISTPACK: RdbError = RdbError("Hash listpack integrity check failed.");
const DUP_SET: RdbError = RdbError("duplicate set members detected");
const DUP_HASH: RdbError = RdbError("duplicate hash fields detected");
const DUP_ZSET: RdbError = RdbError("duplicate zset fields detected");

/// `QUICKLIST_NODE_CONTAINER_PLAIN` / `_PACKED`.
const CONTAINER_PLAIN: u64 = 1;
const CONTAINER_PACKED: u64 = 2;

/// Reads one value: its type byte, then the object.
pub fn read_value(r: &mut Reader, lim: &EncodingLimits) -> Result<Value> {
    let t = r.u8()?;
    read_object(r, t, lim)
}

/// Reads the object of type `t`.
pub fn read_object(r: &mut Reader, t: u8, lim: &EncodingLimits) -> Result<Value> {
    match t {
        types::STRING => Ok(Value::from_bytes(&r.string()?)),
        types::LIST => {
            let n = r.count()?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(r.string()?);
            }
            list_from(items.iter().map(|v| v.as_slice()), lim)
        }
        types::LIST_ZIPLIST => {
            let items = ziplist::entries(&r.string()?).map_err(|_| BAD_LIST_ZIPLIST)?;
            list_from(items.iter().map(|v| v.as_slice()), lim)
        }
        types::LIST_QUICKLIST | types::LIST_QUICKLIST_2 => read_quicklist(r, t, lim),
        types::SET => read_set(r, lim),
        types::SET_INTSET => {
            let is = IntSet::from_bytes(r.string()?)
                .ok_or(RdbError("Intset integrity check failed."))?;
            if is.is_empty() {
                return Err(EMPTY);
            }
            if is.len() > lim.set_max_intset_entries {
                let mut d = Dict::with_capacity(is.len());
                let mut buf = Vec::new();
                for v in is.iter() {
                    buf.clear();
                    crate::resp::push_i64(&mut buf, v);
                    d.insert_new(SmallBytes::new(&buf));
                }
                return Ok(Value::Set(crate::store::PackedBox::new(Set::Table(
                    Box::new(d),
                ))));
            }
            Ok(Value::Set(crate::store::PackedBox::new(Set::Ints(is))))
        }
        types::ZSET | types::ZSET_2 => read_zset(r, t == types::ZSET_2, lim),
        types::ZSET_ZIPLIST => {
            let items = ziplist::entries(&r.string()?).map_err(|_| BAD_ZSET_ZIPLIST)?;
            zset_from_listpack(pack(items), BAD_ZSET_ZIPLIST, lim)
        }
        types::ZSET_LISTPACK => {
            zset_from_listpack(listpack(r, BAD_ZSET_LISTPACK)?, BAD_ZSET_LISTPACK, lim)
        }
        types::HASH => read_hash(r, lim),
        types::HASH_ZIPLIST => {
            let items = ziplist::entries(&r.string()?).map_err(|_| BAD_HASH_ZIPLIST)?;
            hash_from_listpack(pack(items), BAD_HASH_ZIPLIST, lim)
        }
        types::HASH_LISTPACK => {
            hash_from_listpack(listpack(r, BAD_HASH_LISTPACK)?, BAD_HASH_LISTPACK, lim)
        }
        types::HASH_ZIPMAP => {
            let pairs = ziplist::zipmap_pairs(&r.string()?)?;
            hash_from_pairs(pairs, lim)
        }
        types::STREAM_LISTPACKS | types::STREAM_LISTPACKS_2 => super::stream::read(r, t),
        _ => Err(RdbError("unknown or unsupported object type")),
    }
}

/// A listpack blob, checked; `bad` says which kind failed.
fn listpack(r: &mut Reader, bad: RdbError) -> Result<Listpack> {
    Listpack::from_bytes(r.string()?).ok_or(bad)
}

/// A listpack of the given values (converted ziplists).
fn pack(items: Vec<Vec<u8>>) -> Listpack {
    let mut lp = Listpack::new();
    for v in &items {
        lp.push_back(v);
    }
    lp
}

fn list_from<'a>(items: impl Iterator<Item = &'a [u8]>, lim: &EncodingLimits) -> Result<Value> {
    let mut l = List::new();
    for v in items {
        l.push(End::Right, v, lim);
    }
    if l.is_empty() {
        return Err(EMPTY);
    }
    Ok(Value::List(crate::store::PackedBox::new(l)))
}

/// Types 14 (nodes are ziplists) and 18 (container + listpack or plain).
fn read_quicklist(r: &mut Reader, t: u8, lim: &EncodingLimits) -> Result<Value> {
    let nodes = r.count()?;
    let mut l = List::new();
    let mut buf = Vec::new();
    for _ in 0..nodes {
        let container = if t == types::LIST_QUICKLIST_2 {
            r.length()?
        } else {
            CONTAINER_PACKED
        };
        let data = r.string()?;
        if data.is_empty() {
            return Err(RdbError("empty quicklist node"));
        }
        match container {
            CONTAINER_PLAIN => l.push(End::Right, &data, lim),
            CONTAINER_PACKED if t == types::LIST_QUICKLIST_2 => {
                let lp = Listpack::from_bytes(data).ok_or(BAD_LISTPACK)?;
                for v in lp.iter() {
                    buf.clear();
                    v.write_to(&mut buf);
                    l.push(End::Right, &buf, lim);
                }
            }
            CONTAINER_PACKED => {
                for v in ziplist::entries(&data)? {
                    l.push(End::Right, &v, lim);
                }
            }
            _ => return Err(RdbError("Quicklist integrity check failed.")),
        }
    }
    if l.is_empty() {
        return Err(EMPTY);
    }
    Ok(Value::List(crate::store::PackedBox::new(l)))
}

/// Type 2: a count and the members; an intset while all are integers and
/// the count allows it, as `rdbLoadObject` decides.
fn read_set(r: &mut Reader, lim: &EncodingLimits) -> Result<Value> {
    let n = r.count()?;
    if n == 0 {
        return Err(EMPTY);
    }
    let mut s = if n > lim.set_max_intset_entries {
        Set::Table(Box::new(Dict::with_capacity(n)))
    } else {
        Set::new_intset()
    };
    for _ in 0..n {
        let m = r.string()?;
        // `add` keeps an intset while it may and converts otherwise.
        if !s.add(&m, lim.set_max_intset_entries) {
            return Err(DUP_SET);
        }
    }
    Ok(Value::Set(crate::store::PackedBox::new(s)))
}

/// A legacy text double (type 3): length byte, ASCII; 253 NaN, 254 +inf,
/// 255 -inf.
fn text_double(r: &mut Reader) -> Result<f64> {
    let n = r.u8()?;
    match n {
        253 => Ok(f64::NAN),
        254 => Ok(f64::INFINITY),
        255 => Ok(f64::NEG_INFINITY),
        _ => {
            let s = r.take(n as usize)?;
            std::str::from_utf8(s)
                .ok()
                .and_then(|t| t.parse().ok())
                .ok_or(RdbError("invalid double"))
        }
    }
}

/// Types 3 and 5: count, then (member, score) in any order.
fn read_zset(r: &mut Reader, binary: bool, lim: &EncodingLimits) -> Result<Value> {
    let n = r.count()?;
    if n == 0 {
        return Err(EMPTY);
    }
    let mut items: Vec<(Vec<u8>, f64)> = Vec::with_capacity(n);
    let mut seen = HashSet::with_capacity(n);
    for _ in 0..n {
        let m = r.string()?;
        let score = if binary {
            f64::from_le_bytes(r.array()?)
        } else {
            text_double(r)?
        };
        if score.is_nan() {
            return Err(RdbError("zset with NaN score"));
        }
        if !seen.insert(m.clone()) {
            return Err(DUP_ZSET);
        }
        items.push((m, score));
    }
    // (-0.0 and 0.0 are one score to Redis: ties go by member.)
    items.sort_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
    Ok(Value::ZSet(crate::store::PackedBox::new(
        ZSet::from_sorted(items, lim),
    )))
}

/// Checks a listpack of pairs: an even, non-zero count and no duplicate
/// first elements; `bad` names the blob in Redis's words (its integrity
/// check covers both).
fn check_pairs(lp: &Listpack, bad: RdbError) -> Result<()> {
    let n = lp.iter().count();
    if n == 0 {
        return Err(EMPTY);
    }
    if !n.is_multiple_of(2) {
        return Err(bad);
    }
    let mut seen = HashSet::with_capacity(n / 2);
    for (i, v) in lp.iter().enumerate() {
        if i % 2 == 0 && !seen.insert(v.to_vec()) {
            return Err(bad);
        }
    }
    Ok(())
}

fn zset_from_listpack(lp: Listpack, bad: RdbError, lim: &EncodingLimits) -> Result<Value> {
    check_pairs(&lp, bad)?;
    for (i, v) in lp.iter().enumerate() {
        if i % 2 == 1 {
            if let LpValue::Str(s) = v {
                let ok = std::str::from_utf8(s)
                    .ok()
                    .and_then(|t| t.parse::<f64>().ok());
                if ok.is_none_or(f64::is_nan) {
                    return Err(RdbError("invalid zset score"));
                }
            }
        }
    }
    let mut z = ZSet::Listpack(lp);
    if z.len() > lim.zset_max_listpack_entries {
        z.convert_to_skiplist();
    }
    Ok(Value::ZSet(crate::store::PackedBox::new(z)))
}

fn hash_from_listpack(lp: Listpack, bad: RdbError, lim: &EncodingLimits) -> Result<Value> {
    check_pairs(&lp, bad)?;
    let mut h = Hash::Pack(lp);
    if h.len() > lim.hash_max_listpack_entries {
        h.convert_to_table();
    }
    Ok(Value::Hash(h))
}

/// Type 4: count, then (field, value) strings.
fn read_hash(r: &mut Reader, lim: &EncodingLimits) -> Result<Value> {
    let n = r.count()?;
    let mut pairs = Vec::with_capacity(n);
    for _ in 0..n {
        let f = r.string()?;
        let v = r.string()?;
        pairs.push((f, v));
    }
    hash_from_pairs(pairs, lim)
}

/// A hash of `pairs` (no duplicates allowed) in the encoding Redis picks.
fn hash_from_pairs(pairs: Vec<(Vec<u8>, Vec<u8>)>, lim: &EncodingLimits) -> Result<Value> {
    if pairs.is_empty() {
        return Err(EMPTY);
    }
    let mut seen = HashSet::with_capacity(pairs.len());
    for (f, _) in &pairs {
        if !seen.insert(f.as_slice()) {
            return Err(DUP_HASH);
        }
    }
    let small = pairs.len() <= lim.hash_max_listpack_entries
        && pairs.iter().all(|(f, v)| {
            f.len() <= lim.hash_max_listpack_value && v.len() <= lim.hash_max_listpack_value
        });
    let h = if small {
        let mut lp = Listpack::new();
        for (f, v) in &pairs {
            lp.push_back(f);
            lp.push_back(v);
        }
        Hash::Pack(lp)
    } else {
        let mut d = Dict::with_capacity(pairs.len());
        for (f, v) in &pairs {
            d.insert_new((SmallBytes::new(f), SmallBytes::new(v)));
        }
        Hash::Table(crate::store::PackedBox::new(d))
    };
    Ok(Value::Hash(h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::rdb::length::write_len;
    use crate::persist::rdb::string::write_string;

    fn lim() -> EncodingLimits {
        EncodingLimits {
            hash_max_listpack_entries: 512,
            ..Default::default()
        }
    }

    /// A ziplist of short strings (all entries < 64 bytes).
    fn ziplist(vals: &[&str]) -> Vec<u8> {
        let mut e = Vec::new();
        let mut prev = 0usize;
        let mut tail = 10;
        for v in vals {
            tail = 10 + e.len();
            let start = e.len();
            e.push(prev as u8);
            e.push(v.len() as u8);
            e.extend_from_slice(v.as_bytes());
            prev = e.len() - start;
        }
        let mut zl = Vec::new();
        zl.extend_from_slice(&((11 + e.len()) as u32).to_le_bytes());
        zl.extend_from_slice(&(tail as u32).to_le_bytes());
        zl.extend_from_slice(&(vals.len() as u16).to_le_bytes());
        zl.extend_from_slice(&e);
        zl.push(0xFF);
        zl
    }

    fn blob(t: u8, b: &[u8]) -> Vec<u8> {
        let mut out = vec![t];
        write_string(&mut out, b, false);
        out
    }

    fn load(b: &[u8]) -> Result<Value> {
        read_value(&mut Reader::new(b), &lim())
    }

    fn strings(v: &Value) -> Vec<Vec<u8>> {
        match v {
            Value::List(l) => l.iter().map(|x| x.to_vec()).collect(),
            Value::Hash(h) => h
                .iter()
                .flat_map(|(f, x)| [f.to_vec(), x.to_vec()])
                .collect(),
            Value::ZSet(z) => z
                .iter()
                .flat_map(|(m, s)| [m.to_vec(), s.to_string().into_bytes()])
                .collect(),
            _ => panic!("unexpected type"),
        }
    }

    fn bytes(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn legacy_ziplist_types() {
        let l = load(&blob(types::LIST_ZIPLIST, &ziplist(&["a", "b", "c"]))).unwrap();
        assert_eq!(strings(&l), bytes(&["a", "b", "c"]));
        let h = load(&blob(types::HASH_ZIPLIST, &ziplist(&["f", "v", "g", "w"]))).unwrap();
        assert_eq!(h.encoding(), "listpack");
        assert_eq!(strings(&h), bytes(&["f", "v", "g", "w"]));
        let z = load(&blob(
            types::ZSET_ZIPLIST,
            &ziplist(&["a", "1", "b", "2.5"]),
        ))
        .unwrap();
        assert_eq!(z.encoding(), "listpack");
        assert_eq!(strings(&z), bytes(&["a", "1", "b", "2.5"]));
        // Duplicates and odd counts are refused.
        assert!(load(&blob(types::HASH_ZIPLIST, &ziplist(&["f", "v", "f", "w"]))).is_err());
        assert!(load(&blob(types::ZSET_ZIPLIST, &ziplist(&["a", "1", "b"]))).is_err());
        assert!(load(&blob(types::LIST_ZIPLIST, &ziplist(&[]))).is_err());
    }

    #[test]
    fn quicklist_v1_and_zipmap() {
        let mut q = vec![types::LIST_QUICKLIST];
        write_len(&mut q, 2);
        write_string(&mut q, &ziplist(&["a", "b"]), false);
        write_string(&mut q, &ziplist(&["c"]), false);
        assert_eq!(strings(&load(&q).unwrap()), bytes(&["a", "b", "c"]));
        let zm = [
            2, 1, b'a', 1, 0, b'x', 2, b'b', b'c', 2, 1, b'y', b'z', 0, 0xFF,
        ];
        let h = load(&blob(types::HASH_ZIPMAP, &zm)).unwrap();
        assert_eq!(strings(&h), bytes(&["a", "x", "bc", "yz"]));
        // A plain quicklist node holds one element.
        let mut p = vec![types::LIST_QUICKLIST_2];
        write_len(&mut p, 1);
        write_len(&mut p, 1);
        write_string(&mut p, b"plain", false);
        assert_eq!(strings(&load(&p).unwrap()), bytes(&["plain"]));
    }

    #[test]
    fn conversions_follow_the_limits() {
        let mut s = vec![types::SET];
        write_len(&mut s, 3);
        for m in ["1", "2", "x"] {
            write_string(&mut s, m.as_bytes(), false);
        }
        assert_eq!(load(&s).unwrap().encoding(), "hashtable");
        let mut z = vec![types::ZSET_2];
        write_len(&mut z, 2);
        for (m, sc) in [("b", 2.0f64), ("a", 1.0)] {
            write_string(&mut z, m.as_bytes(), false);
            z.extend_from_slice(&sc.to_le_bytes());
        }
        let v = load(&z).unwrap();
        assert_eq!(v.encoding(), "listpack");
        assert_eq!(strings(&v), bytes(&["a", "1", "b", "2"]));
    }

    #[test]
    fn random_garbage_never_panics() {
        let mut x = 0x9E3779B97F4A7C15u64;
        for len in 0..400usize {
            for t in [0u8, 1, 2, 3, 4, 5, 9, 10, 11, 12, 13, 14, 16, 17, 18] {
                let mut b = vec![t];
                for _ in 0..len % 40 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    b.push(x as u8);
                }
                let _ = load(&b);
            }
        }
    }
}
