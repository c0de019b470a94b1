//! Whole-database commands: DBSIZE FLUSHDB FLUSHALL SWAPDB.
//!
//! FLUSHDB, FLUSHALL and SWAPDB hold every shard (in ascending order, as
//! the multi-shard path does) while they change them, so no command sees
//! some shards flushed or swapped and others not.

use super::spec::{Acl, CommandSpec, Flags, Handler};
use super::util::{arg_i64, is, SYNTAX};
use crate::config::keys as conf;
use crate::server::conn::Conn;
use crate::server::effects::{self, KeyspaceChange};
use crate::server::mesh;
use futures::future::LocalBoxFuture;

const FLUSH_TIPS: &[&str] = &["request_policy:all_shards", "response_policy:all_succeeded"];
const KEYSPACE_WRITE_SLOW_DANGEROUS: Acl = Acl::KEYSPACE
    .with_bits(Acl::WRITE)
    .with_bits(Acl::SLOW)
    .with_bits(Acl::DANGEROUS);

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "dbsize",
        arity: 1,
        flags: Flags::READONLY.with(Flags::FAST),
        acl: Acl::KEYSPACE.with_bits(Acl::READ).with_bits(Acl::FAST),
        handler: Handler::Conn(dbsize),
        tips: &["request_policy:all_shards", "response_policy:agg_sum"],
        group: "server",
        summary: "Return the number of keys in the selected database",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "flushdb",
        arity: -1,
        flags: Flags::WRITE,
        acl: KEYSPACE_WRITE_SLOW_DANGEROUS,
        handler: Handler::Conn(flushdb),
        tips: FLUSH_TIPS,
        group: "server",
        summary: "Remove all keys from the current database",
        complexity: "O(N) where N is the number of keys in the selected database",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "flushall",
        arity: -1,
        flags: Flags::WRITE,
        acl: KEYSPACE_WRITE_SLOW_DANGEROUS,
        handler: Handler::Conn(flushall),
        tips: FLUSH_TIPS,
        group: "server",
        summary: "Remove all keys from all databases",
        complexity: "O(N) where N is the total number of keys in all databases",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "swapdb",
        arity: 3,
        flags: Flags::WRITE.with(Flags::FAST),
        acl: Acl::KEYSPACE
            .with_bits(Acl::WRITE)
            .with_bits(Acl::FAST)
            .with_bits(Acl::DANGEROUS),
        handler: Handler::Conn(swapdb),
        group: "server",
        since: "4.0.0",
        summary: "Swaps two Redis databases",
        complexity:
            "O(N) where N is the count of clients watching or blocking on keys from both databases.",
        ..CommandSpec::DEFAULT
    },
];

/// DBSIZE: the sum over every shard.
fn dbsize(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let db = conn.db;
        let counts =
            mesh::run_on_all(&conn.rt, move |rt| rt.core.borrow().store.dbs[db].len()).await;
        conn.out.int(counts.iter().sum::<usize>() as i64);
    })
}

/// Below this many keys a flush frees memory inline even when ASYNC
/// (Redis's `LAZYFREE_THRESHOLD` idea: a thread isn't worth it).
/// `[ASYNC | SYNC]` as Redis's `getFlushCommandFlags`: Some(async), or
/// None after a syntax error.
pub fn flush_mode(conn: &Conn, args: &[Vec<u8>]) -> Option<bool> {
    match args.len() {
        1 => Some(
            conn.rt
                .shared
                .read_config(|c| c.flag(conf::LAZYFREE_LAZY_USER_FLUSH)),
        ),
        2 if is(&args[1], "sync") => Some(false),
        2 if is(&args[1], "async") => Some(true),
        _ => None,
    }
}

/// Empties database `db` (every database if None) on every shard, holding
/// all shards meanwhile. Each shard counts the removed keys as changes.
async fn flush(conn: &Conn, db: Option<usize>, lazy: bool, args: &[Vec<u8>]) {
    let rt = &conn.rt;
    let shards: Vec<usize> = (0..rt.nshards).collect();
    let held = mesh::hold(rt, &shards).await;
    for &s in &shards {
        held.run(s, move |rt| {
            effects::apply_to_keyspace(rt, KeyspaceChange::Flush { db, lazy })
        })
        .await;
    }
    effects::log_keyspace_command(rt, conn.db, args);
    // XREADGROUP clients blocked on a flushed stream are told it is gone
    // (Redis's scanDatabaseForDeletedStreams).
    for &s in &shards {
        held.run(s, crate::server::blocking::ready_all).await;
    }
    drop(held);
    // FLUSHALL with save rules set saves the empty dataset at once, which
    // resets the change counter (Redis's flushAllDataAndResetRDB).
    let rules = rt
        .shared
        .read_config(|c| !c.text(conf::SAVE).trim().is_empty());
    if db.is_none() && rules && !crate::persist::bgsave::status::bgsave_running() {
        crate::persist::blocking_save::save_all(rt).await;
    }
}

/// FLUSHDB [ASYNC | SYNC]
fn flushdb(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(lazy) = flush_mode(conn, &args) else {
            return conn.out.error(SYNTAX);
        };
        flush(conn, Some(conn.db), lazy, &args).await;
        conn.out.ok();
    })
}

/// FLUSHALL [ASYNC | SYNC]
fn flushall(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(lazy) = flush_mode(conn, &args) else {
            return conn.out.error(SYNTAX);
        };
        flush(conn, None, lazy, &args).await;
        conn.out.ok();
    })
}

/// SWAPDB index1 index2: swapped on every shard while all are held.
fn swapdb(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        if conn
            .rt
            .shared
            .read_config(|c| c.flag(conf::CLUSTER_ENABLED))
        {
            return conn.out.error("ERR SWAPDB is not allowed in cluster mode");
        }
        let index = |a: &[u8]| arg_i64(a).filter(|n| i32::try_from(*n).is_ok());
        let Some(a) = index(&args[1]) else {
            return conn.out.error("ERR invalid first DB index");
        };
        let Some(b) = index(&args[2]) else {
            return conn.out.error("ERR invalid second DB index");
        };
        let dbs = conn.rt.core.borrow().store.dbs.len() as i64;
        if a < 0 || a >= dbs || b < 0 || b >= dbs {
            return conn.out.error("ERR DB index is out of range");
        }
        let (a, b) = (a as usize, b as usize);
        if a != b {
            let rt = &conn.rt;
            let shards: Vec<usize> = (0..rt.nshards).collect();
            let held = mesh::hold(rt, &shards).await;
            for &s in &shards {
                held.run(s, move |rt| {
                    effects::apply_to_keyspace(rt, KeyspaceChange::Swap(a, b))
                })
                .await;
            }
            effects::log_keyspace_command(rt, conn.db, &args);
            // Clients blocked on a key the swap filled, once SWAPDB is
            // logged (Redis serves them after the command, so a DEL of an
            // expired key they find follows it).
            for &s in &shards {
                held.run(s, crate::server::blocking::ready_all).await;
            }
        } else {
            effects::log_keyspace_command(&conn.rt, conn.db, &args);
        }
        conn.rt.core.borrow_mut().dirty += 1;
        conn.out.ok();
    })
}
