//! SAVE and BGSAVE: the whole keyspace to `dir/dbfilename` as an RDB file.
//!
//! As in Redis, SAVE blocks: every shard is held (ascending order, as
//! FLUSHALL) while each serializes its own keys and while the file is
//! written, so the file is one point in time and the change counters
//! reset exactly at it. BGSAVE takes a point-in-time snapshot without
//! fork, shard by shard in time slices (persist/bgsave/).

use super::spec::{Acl, CommandSpec, Flags, Handler};
use crate::persist::bgsave::{self, BgsaveStart};
use crate::persist::rdb::encode::EncodeOpts;
use crate::persist::snapshot;
use crate::server::conn::Conn;
use crate::server::mesh;
use crate::server::shard::ShardRt;
use crate::sys::clock::unix_ms;
use futures::future::LocalBoxFuture;
use std::rc::Rc;
use std::sync::atomic::Ordering;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "bgsave",
        arity: -1,
        flags: Flags::ADMIN
            .with(Flags::NOSCRIPT)
            .with(Flags::NO_ASYNC_LOADING),
        acl: Acl::ADMIN.with_bits(Acl::SLOW).with_bits(Acl::DANGEROUS),
        handler: Handler::Conn(bgsave_cmd),
        group: "server",
        since: "1.0.0",
        summary: "Asynchronously save the dataset to disk",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "save",
        arity: 1,
        flags: Flags::ADMIN
            .with(Flags::NOSCRIPT)
            .with(Flags::NO_ASYNC_LOADING)
            .with(Flags::NO_MULTI),
        acl: Acl::ADMIN.with_bits(Acl::SLOW).with_bits(Acl::DANGEROUS),
        handler: Handler::Conn(save),
        group: "server",
        since: "1.0.0",
        summary: "Synchronously save the dataset to disk",
        complexity: "O(N) where N is the total number of keys in all databases",
        ..CommandSpec::DEFAULT
    },
];

/// BGSAVE [SCHEDULE], with Redis 7.0's replies.
fn bgsave_cmd(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let schedule = match &args[1..] {
            [] => false,
            [a] if a.eq_ignore_ascii_case(b"schedule") => true,
            _ => return conn.out.error("ERR syntax error"),
        };
        // Inside EXEC Redis only schedules it (server.in_exec).
        if crate::server::mesh::in_exec() && !bgsave::status::bgsave_running() {
            bgsave::status::schedule_bgsave();
            return conn.out.simple("Background saving scheduled");
        }
        match bgsave::start_bgsave(&conn.rt) {
            BgsaveStart::Started => conn.out.simple("Background saving started"),
            BgsaveStart::AlreadyRunning => conn.out.error(bgsave::BUSY),
            BgsaveStart::OtherSnapshotRunning if schedule => {
                bgsave::status::schedule_bgsave();
                conn.out.simple("Background saving scheduled");
            }
            BgsaveStart::OtherSnapshotRunning => conn.out.error(
                "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
            ),
        }
    })
}

/// SAVE: +OK, or Redis's bare "-ERR" when the file could not be written
/// (the log says why).
fn save(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        if bgsave::status::bgsave_running() {
            return conn.out.error(bgsave::BUSY);
        }
        if save_all(&conn.rt).await {
            conn.out.ok();
        } else {
            conn.out.error("ERR");
        }
    })
}

/// Saves every shard's keys to `dbfilename`, holding all shards; on
/// success resets the change counters and LASTSAVE. Also SHUTDOWN SAVE.
pub async fn save_all(rt: &Rc<ShardRt>) -> bool {
    let (dbfilename, checksum, lru_policy) = rt.shared.read_config(|c| {
        (
            c.get_str("dbfilename"),
            c.get_bool("rdbchecksum"),
            c.get_str("maxmemory-policy").ends_with("-lru"),
        )
    });
    let settings = rt.settings();
    let opts = EncodeOpts {
        compress: rt.shared.read_config(|c| c.get_bool("rdbcompression")),
        list_fill: settings.exec.encodings.list_max_listpack_size,
    };
    snapshot::RDB_SAVES.fetch_add(1, Ordering::Relaxed);
    let shards: Vec<usize> = (0..rt.nshards).collect();
    let held = mesh::hold(rt, &shards).await;
    let now_ms = unix_ms();
    let mut parts = Vec::with_capacity(shards.len());
    for &s in &shards {
        parts.push(
            held.run(s, move |rt| {
                let lru_now = lru_policy.then(|| rt.lru_seconds());
                snapshot::serialize_store(&rt.core.borrow().store, now_ms, &opts, lru_now)
            })
            .await,
        );
    }
    let image = snapshot::assemble(&parts, now_ms / 1000, checksum);
    // `rdb-key-save-delay` (tests): the save takes that long per key,
    // every shard still held as in a blocking SAVE.
    let keys: usize = parts.iter().flat_map(|p| &p.dbs).map(|d| d.keys).sum();
    let delay = rt.shared.read_config(|c| c.get_i64("rdb-key-save-delay"));
    let wait = bgsave::shard::key_delay(delay, keys as u64);
    if !wait.is_zero() {
        glommio::timer::sleep(wait).await;
    }
    drop(parts);
    let ok = match snapshot::write_atomically(&image, &dbfilename) {
        Ok(()) => true,
        Err(e) => {
            crate::warning!("{e}");
            false
        }
    };
    if ok {
        for &s in &shards {
            held.run(s, |rt| rt.core.borrow_mut().dirty = 0).await;
        }
        rt.shared
            .lastsave_unix
            .store(now_ms / 1000, Ordering::Relaxed);
        bgsave::status::save_succeeded();
    }
    drop(held);
    ok
}
