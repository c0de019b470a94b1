//! SAVE and BGSAVE: the whole keyspace to `dir/dbfilename` as an RDB file.
//!
//! As in Redis, SAVE blocks, every shard held (persist/blocking_save.rs);
//! BGSAVE takes a point-in-time snapshot without fork, shard by shard in
//! time slices (persist/bgsave/).

use super::spec::{Acl, CommandSpec, Flags, Handler};
use crate::persist::bgsave::{self, BgsaveStart};
use crate::persist::blocking_save::save_all;
use crate::server::conn::Conn;
use futures::future::LocalBoxFuture;

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
