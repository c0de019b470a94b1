//! DEBUG subcommands about one key or one database: OBJECT, SDSLEN,
//! LISTPACK, QUICKLIST, HTSTATS-KEY, HTSTATS, DIGEST-VALUE, POPULATE.
//! Each runs on the shard that owns the key (or on every shard).

use super::digest;
use crate::config::keys as conf;
use crate::persist::rdb::encode::{write_value, EncodeOpts};
use crate::server::conn::Conn;
use crate::server::mesh;
use crate::slot::key_slot;
use crate::store::{Entry, Value};
use crate::sys::clock::unix_ms;
use std::fmt::Write;

/// What a shard-side DEBUG step answers.
enum Reply {
    Status(String),
    Error(&'static str),
    Verbatim(String),
}

const NO_KEY: &str = "ERR no such key";

/// DEBUG OBJECT | SDSLEN | LISTPACK | QUICKLIST | HTSTATS-KEY <key>.
pub async fn introspect(conn: &mut Conn, sub: &str, key: &[u8]) {
    let db = conn.db;
    let key = key.to_vec();
    let sub = sub.to_string();
    let (opts, compressed) = conn.rt.shared.read_config(|c| {
        (
            EncodeOpts {
                compress: c.flag(conf::RDBCOMPRESSION),
                list_fill: c.int(conf::LIST_MAX_LISTPACK_SIZE),
            },
            c.int(conf::LIST_COMPRESS_DEPTH) != 0,
        )
    });
    let shard = conn.rt.shard_of_slot(key_slot(&key));
    let reply = mesh::run_on(&conn.rt, shard, move |rt| {
        let clock = rt.lru_seconds();
        let core = rt.core.borrow();
        // OBJECT and SDSLEN find a key whose TTL passed (not yet
        // deleted), as Redis's dictFind; the others look up as a read.
        let db = &core.store.dbs[db];
        let found = match sub.as_str() {
            "object" | "sdslen" => db.find_any(&key),
            _ => db.peek(&key, unix_ms()),
        };
        let Some(e) = found else {
            return Reply::Error(NO_KEY);
        };
        match sub.as_str() {
            "object" => Reply::Status(object_line(e, clock, &opts, compressed)),
            "sdslen" => sdslen(&key, &e.value),
            "listpack" if e.value.encoding() == "listpack" => {
                Reply::Status("Listpack structure printed on stdout".into())
            }
            "listpack" => Reply::Error("ERR Not a listpack encoded object."),
            "quicklist" if e.value.encoding() == "quicklist" => {
                Reply::Status("Quicklist structure printed on stdout".into())
            }
            "quicklist" => Reply::Error("ERR Not a quicklist encoded object."),
            _ => match hashtable_len(&e.value) {
                Some(n) => Reply::Verbatim(table_stats(0, "main hash table", n)),
                None => Reply::Error(
                    "ERR The value stored at the specified key is not represented using an hash table",
                ),
            },
        }
    })
    .await;
    match reply {
        Reply::Status(s) => conn.out.simple(&s),
        Reply::Error(e) => conn.out.error(e),
        Reply::Verbatim(s) => conn.out.verbatim(s.as_bytes()),
    }
}

/// Redis's DEBUG OBJECT line. The address is a stable made-up one (there
/// is no robj); serializedlength is the value's real RDB size.
fn object_line(e: &Entry, clock: u32, opts: &EncodeOpts, compressed: bool) -> String {
    let v = &e.value;
    let shared_int = v.encoding() == "int"
        && v.as_str()
            .and_then(crate::resp::parse_i64)
            .is_some_and(|n| (0..10000).contains(&n));
    let refcount = if shared_int { i32::MAX } else { 1 };
    let mut rdb = Vec::new();
    write_value(&mut rdb, v, opts);
    let mut line = format!(
        "Value at:{:p} refcount:{refcount} encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
        v as *const Value,
        v.encoding(),
        rdb.len().saturating_sub(1),
        e.lru,
        clock.saturating_sub(e.lru)
    );
    if let Value::List(l) = v {
        let nodes = l.node_count().max(1);
        let _ = write!(
            line,
            " ql_nodes:{nodes} ql_avg_node:{:.2} ql_listpack_max:{} ql_compressed:{} ql_uncompressed_size:{}",
            l.len() as f64 / nodes as f64,
            opts.list_fill,
            compressed as u8,
            l.heap_size()
        );
    }
    line
}

/// DEBUG SDSLEN: lengths of the key's and value's strings.
fn sdslen(key: &[u8], v: &Value) -> Reply {
    let Some(s) = v.as_str().filter(|_| v.encoding() != "int") else {
        return Reply::Error("ERR Not an sds encoded string.");
    };
    let (len, avail) = match v {
        Value::Raw(r) => (r.len(), r.capacity() - r.len()),
        _ => (s.len(), 0),
    };
    // sdshdr8 (3 bytes) plus the terminating NUL, as Redis's headers.
    Reply::Status(format!(
        "key_sds_len:{}, key_sds_avail:0, key_zmalloc: {}, val_sds_len:{len}, val_sds_avail:{avail}, val_zmalloc: {}",
        key.len(),
        key.len() + 4,
        len + avail + 4
    ))
}

/// Elements of a value Redis keeps in a dict (hashtable hash or set,
/// skiplist zset).
fn hashtable_len(v: &Value) -> Option<usize> {
    match v {
        Value::Hash(h) if h.encoding() == "hashtable" => Some(h.len()),
        Value::Set(s) if s.encoding() == "hashtable" => Some(s.len()),
        Value::ZSet(z) if z.encoding() == "skiplist" => Some(z.len()),
        _ => None,
    }
}

/// Redis's dictGetStats text for a table of `n` elements (sized as
/// Redis sizes its tables: the next power of two, at least 4).
fn table_stats(id: u32, name: &str, n: usize) -> String {
    if n == 0 {
        return "No stats available for empty dictionaries\n".into();
    }
    let size = n.next_power_of_two().max(4);
    format!("Hash table {id} stats ({name}):\n table size: {size}\n number of elements: {n}\n")
}

/// DEBUG HTSTATS <dbid>: the keys' and expires' tables of a database.
pub async fn htstats(conn: &mut Conn, arg: &[u8]) {
    let Some(dbid) = crate::command::util::arg_i64(arg) else {
        return conn
            .out
            .error("ERR value is not an integer or out of range");
    };
    let dbs = conn.settings.databases as i64;
    if dbid < 0 || dbid >= dbs {
        return conn.out.error("ERR Out of range database");
    }
    let counts = mesh::run_on_all(&conn.rt, move |rt| {
        let core = rt.core.borrow();
        let db = &core.store.dbs[dbid as usize];
        (db.len(), db.expires_len())
    })
    .await;
    let keys: usize = counts.iter().map(|c| c.0).sum();
    let expires: usize = counts.iter().map(|c| c.1).sum();
    let mut s = String::from("[Dictionary HT]\n");
    s.push_str(&table_stats(0, "main hash table", keys));
    s.push_str("[Expires HT]\n");
    s.push_str(&table_stats(0, "main hash table", expires));
    conn.out.verbatim(s.as_bytes());
}

/// DEBUG DIGEST-VALUE key [key ...]: each value's digest (40 zeros for a
/// missing key); expired but not yet removed keys count, as in Redis.
pub async fn digest_values(conn: &mut Conn, keys: &[Vec<u8>]) {
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let db = conn.db;
        let key = key.clone();
        let shard = conn.rt.shard_of_slot(key_slot(&key));
        let d = mesh::run_on(&conn.rt, shard, move |rt| {
            let core = rt.core.borrow();
            let db = &core.store.dbs[db];
            let mut d = [0u8; 20];
            if let Some(e) = db.peek(&key, 0) {
                digest::object_digest(&mut d, &e.value, db.expire_of(&key).is_some());
            }
            d
        })
        .await;
        out.push(digest::hex(&d));
    }
    conn.out.array(out.len());
    for d in out {
        conn.out.simple(&d);
    }
}

/// DEBUG POPULATE count [prefix] [size]: string keys `prefix:j` holding
/// `value:j` (padded with NULs or cut to `size`); existing keys are left
/// alone. Each shard creates the keys it owns; nothing is propagated.
pub async fn populate(conn: &mut Conn, args: &[Vec<u8>]) {
    // Redis's getPositiveLongFromObjectOrReply: one message for both.
    let positive = |a: &[u8]| {
        crate::command::util::arg_i64(a)
            .filter(|n| *n >= 0)
            .ok_or("ERR value is out of range, must be positive")
    };
    let count = match positive(&args[0]) {
        Ok(n) => n,
        Err(e) => return conn.out.error(e),
    };
    let size = match args.get(2).map(|a| positive(a)) {
        None => 0,
        Some(Ok(n)) => n as usize,
        Some(Err(e)) => return conn.out.error(e),
    };
    let prefix = args.get(1).cloned().unwrap_or_else(|| b"key".to_vec());
    let db = conn.db;
    mesh::run_on_all(&conn.rt, move |rt| {
        crate::persist::bgsave::before_keyspace_write(rt);
        let lru = rt.lru_seconds();
        let now = unix_ms();
        let mut core = rt.core.borrow_mut();
        let store = &mut core.store.dbs[db];
        let mut key = Vec::new();
        for j in 0..count {
            key.clear();
            key.extend_from_slice(&prefix);
            let _ = write!(Fmt(&mut key), ":{j}");
            if rt.shard_of_slot(key_slot(&key)) != rt.id || store.lookup(&key, now).is_some() {
                continue;
            }
            let mut val = format!("value:{j}").into_bytes();
            if size > 0 {
                val.resize(size, 0);
            }
            store.set_with_expire(&key, Value::from_bytes(&val), None, lru);
        }
    })
    .await;
    conn.out.ok();
}

/// `write!` into a byte vector.
struct Fmt<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Fmt<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}
