//! A key as the commands that recreate it: the body of an AOF base file
//! written without the RDB preamble (`aof-use-rdb-preamble no`), laid out
//! as Redis 7.0's rewrite does so redis-server and redis-check-aof read
//! it back: `SELECT` when the database changes, one creating command per
//! type (SET, RPUSH, SADD, ZADD, HMSET) carrying at most
//! [`ITEMS_PER_CMD`] items each, then `PEXPIREAT` for a key with a TTL.

use super::record::{encode_command, encode_select};
use crate::store::value::Value;

/// Items per command (Redis's AOF_REWRITE_ITEMS_PER_CMD): bounds the size
/// of one command, so loading never needs a huge argument vector.
pub const ITEMS_PER_CMD: usize = 64;

/// Writes keys as commands, remembering the database the file is in.
#[derive(Default)]
pub struct Emitter {
    db: Option<usize>,
}

impl Emitter {
    pub fn new() -> Emitter {
        Emitter::default()
    }

    /// Appends to `out` the commands that recreate `key` in `db`.
    pub fn key(
        &mut self,
        out: &mut Vec<u8>,
        db: usize,
        key: &[u8],
        value: &Value,
        expire_ms: Option<u64>,
    ) {
        if self.db != Some(db) {
            encode_select(out, db);
            self.db = Some(db);
        }
        match value {
            Value::Str(_) | Value::Raw(_) => {
                let v = value.as_str().unwrap_or_default();
                encode_command(out, &[b"SET".as_slice(), key, v]);
            }
            Value::List(l) => batched(
                out,
                b"RPUSH",
                key,
                l.iter().map(|v| [bytes(|b| v.write_to(b))]),
            ),
            Value::Set(s) => batched(
                out,
                b"SADD",
                key,
                s.iter().map(|m| [bytes(|b| m.write_to(b))]),
            ),
            Value::ZSet(z) => batched(
                out,
                b"ZADD",
                key,
                z.iter().map(|(m, score)| {
                    let score = crate::resp::fmt_double(score).into_bytes();
                    [score, bytes(|b| m.write_to(b))]
                }),
            ),
            Value::Hash(h) => batched(
                out,
                b"HMSET",
                key,
                h.iter()
                    .map(|(f, v)| [bytes(|b| f.write_to(b)), bytes(|b| v.write_to(b))]),
            ),
            Value::Stream(s) => super::emit_stream::stream(out, key, s),
        }
        if let Some(ms) = expire_ms {
            encode_command(
                out,
                &[b"PEXPIREAT".as_slice(), key, ms.to_string().as_bytes()],
            );
        }
    }
}

fn bytes(write: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut b = Vec::new();
    write(&mut b);
    b
}

/// `cmd key item...` commands of at most [`ITEMS_PER_CMD`] items, each
/// item `N` arguments (a member; a score and member; a field and value).
fn batched<const N: usize>(
    out: &mut Vec<u8>,
    cmd: &[u8],
    key: &[u8],
    items: impl Iterator<Item = [Vec<u8>; N]>,
) {
    let mut args: Vec<Vec<u8>> = Vec::with_capacity(2 + ITEMS_PER_CMD * N);
    let mut count = 0;
    for item in items {
        if count == 0 {
            args.clear();
            args.push(cmd.to_vec());
            args.push(key.to_vec());
        }
        args.extend(item);
        count += 1;
        if count == ITEMS_PER_CMD {
            encode_command(out, &args);
            count = 0;
        }
    }
    if count > 0 {
        encode_command(out, &args);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::aof::parse::for_each_command;
    use crate::store::list::End;
    use crate::store::{EncodingLimits, List};

    /// The commands in `bytes`, each as its arguments.
    fn commands(bytes: &[u8]) -> Vec<Vec<Vec<u8>>> {
        let mut all = Vec::new();
        let outcome = for_each_command(bytes, |_, argv| {
            all.push(argv.iter().map(|a| a.to_vec()).collect());
            Ok::<(), String>(())
        });
        assert!(matches!(outcome, Ok(Ok(()))));
        all
    }

    #[test]
    fn long_lists_go_in_batches_of_64() {
        let lim = EncodingLimits::default();
        let mut l = List::new();
        for i in 0..130 {
            l.push(End::Right, i.to_string().as_bytes(), &lim);
        }
        let mut out = Vec::new();
        Emitter::new().key(
            &mut out,
            0,
            b"l",
            &Value::List(crate::store::PackedBox::new(l)),
            None,
        );
        let cmds = commands(&out);
        assert_eq!(cmds.len(), 4, "SELECT then three RPUSH");
        assert_eq!(cmds[0], [b"SELECT".to_vec(), b"0".to_vec()]);
        let sizes: Vec<usize> = cmds[1..].iter().map(|c| c.len() - 2).collect();
        assert_eq!(sizes, [64, 64, 2]);
        assert!(cmds[1..].iter().all(|c| c[0] == b"RPUSH" && c[1] == b"l"));
        assert_eq!(cmds[3][3], b"129");
    }

    #[test]
    fn expiry_follows_as_pexpireat() {
        let mut out = Vec::new();
        let v = Value::from_bytes(b"v");
        Emitter::new().key(&mut out, 2, b"k", &v, Some(1_700_000_000_123));
        let cmds = commands(&out);
        assert_eq!(cmds[1], [b"SET".to_vec(), b"k".to_vec(), b"v".to_vec()]);
        assert_eq!(
            cmds[2],
            [
                b"PEXPIREAT".to_vec(),
                b"k".to_vec(),
                b"1700000000123".to_vec()
            ]
        );
    }

    #[test]
    fn select_only_when_the_database_changes() {
        let mut out = Vec::new();
        let mut e = Emitter::new();
        let v = Value::from_bytes(b"v");
        for (db, key) in [(0, "a"), (0, "b"), (3, "c"), (3, "d"), (0, "e")] {
            e.key(&mut out, db, key.as_bytes(), &v, None);
        }
        let selects: Vec<Vec<u8>> = commands(&out)
            .into_iter()
            .filter(|c| c[0] == b"SELECT")
            .map(|c| c[1].clone())
            .collect();
        assert_eq!(selects, [b"0".to_vec(), b"3".to_vec(), b"0".to_vec()]);
    }

    #[test]
    fn zset_scores_and_hash_pairs() {
        let lim = EncodingLimits::default();
        let mut z = crate::store::ZSet::default();
        z.add(b"m", 1.5, Default::default(), &lim);
        let mut out = Vec::new();
        Emitter::new().key(
            &mut out,
            0,
            b"z",
            &Value::ZSet(crate::store::PackedBox::new(z)),
            None,
        );
        let cmds = commands(&out);
        assert_eq!(
            cmds[1],
            [
                b"ZADD".to_vec(),
                b"z".to_vec(),
                b"1.5".to_vec(),
                b"m".to_vec()
            ]
        );
        // 70 pairs: 64 in the first HMSET (130 arguments), 6 in the next.
        let mut h = crate::store::Hash::new();
        for i in 0..70 {
            h.set(format!("f{i}").as_bytes(), b"v", 512, 64);
        }
        let mut out = Vec::new();
        Emitter::new().key(&mut out, 0, b"h", &Value::Hash(h), None);
        let sizes: Vec<usize> = commands(&out)[1..].iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [2 + 2 * 64, 2 + 2 * 6]);
    }
}
