//! DEBUG DIGEST and DIGEST-VALUE, computed as Redis 7.0's debug.c does
//! (SHA-1 mixes; unordered collections xor their elements' digests), so
//! the same data gives the same hex on Shardis and redis-server.

use crate::store::db::Db;
use crate::store::{Entry, Value};
use crate::sys::sha1::sha1;

pub type Digest = [u8; 20];

fn xor_digest(d: &mut Digest, data: &[u8]) {
    for (x, y) in d.iter_mut().zip(sha1(data)) {
        *x ^= y;
    }
}

/// digest = SHA1(digest xor SHA1(data)): order matters.
fn mix_digest(d: &mut Digest, data: &[u8]) {
    xor_digest(d, data);
    *d = sha1(d);
}

/// Redis's object type numbers (OBJ_STRING ...).
fn type_code(v: &Value) -> u32 {
    match v {
        Value::Str(_) | Value::Raw(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
        Value::Stream(_) => 6,
    }
}

/// Redis's xorObjectDigest: the value (and whether it has a TTL) mixed
/// into `d`.
pub fn object_digest(d: &mut Digest, v: &Value, has_expire: bool) {
    mix_digest(d, &type_code(v).to_be_bytes());
    let mut buf = Vec::new();
    match v {
        Value::Str(_) | Value::Raw(_) => mix_digest(d, v.as_str().unwrap_or_default()),
        Value::List(l) => {
            for e in l.iter() {
                buf.clear();
                e.write_to(&mut buf);
                mix_digest(d, &buf);
            }
        }
        Value::Set(s) => {
            for m in s.iter() {
                buf.clear();
                m.write_to(&mut buf);
                xor_digest(d, &buf);
            }
        }
        Value::ZSet(z) => {
            for (m, score) in z.iter() {
                let mut ele = [0u8; 20];
                buf.clear();
                m.write_to(&mut buf);
                mix_digest(&mut ele, &buf);
                mix_digest(&mut ele, crate::resp::fmt_g(score, 17).as_bytes());
                xor_digest(d, &ele);
            }
        }
        Value::Hash(h) => {
            for (f, val) in h.pairs() {
                let mut ele = [0u8; 20];
                buf.clear();
                f.write_to(&mut buf);
                mix_digest(&mut ele, &buf);
                buf.clear();
                val.write_to(&mut buf);
                mix_digest(&mut ele, &buf);
                xor_digest(d, &ele);
            }
        }
        Value::Stream(s) => {
            let (lo, hi) = (
                crate::store::stream::StreamId::MIN,
                crate::store::stream::StreamId::MAX,
            );
            s.range(lo, hi, false, &mut |n, e| {
                mix_digest(d, format!("{}.{}", e.id.ms, e.id.seq).as_bytes());
                for (f, v) in n.pairs(e) {
                    mix_digest(d, f);
                    mix_digest(d, v);
                }
                true
            });
        }
    }
    if has_expire {
        xor_digest(d, b"!!expire!!");
    }
}

/// One key's part of the dataset digest: key, then value.
pub fn key_digest(key: &[u8], e: &Entry, has_expire: bool) -> Digest {
    let mut d = [0u8; 20];
    mix_digest(&mut d, key);
    object_digest(&mut d, &e.value, has_expire);
    d
}

/// One shard's xor of its keys' digests in `db`, and whether it has keys.
pub fn db_part(db: &Db, now_ms: u64) -> (Digest, bool) {
    let mut acc = [0u8; 20];
    let mut any = false;
    db.for_each_key(now_ms, |k, e| {
        any = true;
        xor_digest(&mut acc, &key_digest(k, e, db.expire_of(k).is_some()));
    });
    (acc, any)
}

/// Redis's computeDatasetDigest from every shard's per-database parts:
/// each non-empty database mixes its number in, then xors its keys.
pub fn dataset(parts: &[Vec<(Digest, bool)>]) -> Digest {
    let mut fin = [0u8; 20];
    let dbs = parts.iter().map(|p| p.len()).max().unwrap_or(0);
    for j in 0..dbs {
        let in_db: Vec<&(Digest, bool)> = parts.iter().filter_map(|p| p.get(j)).collect();
        if !in_db.iter().any(|(_, any)| *any) {
            continue;
        }
        mix_digest(&mut fin, &(j as u32).to_be_bytes());
        for (d, _) in in_db {
            for (x, y) in fin.iter_mut().zip(d) {
                *x ^= y;
            }
        }
    }
    fin
}

pub fn hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}
