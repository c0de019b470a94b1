//! Server commands: COMMAND (command_cmd.rs), CONFIG (config_cmd.rs),
//! TIME, LASTSAVE, SHUTDOWN.

use super::spec::{Acl, Behavior, CommandSpec, Flags, Handler};
use super::util::{is, SYNTAX};
use crate::server::conn::Conn;
use crate::sys::clock::unix_us;
use futures::future::LocalBoxFuture;
use std::sync::atomic::Ordering;

pub static COMMANDS: &[CommandSpec] = &[
    super::command_cmd::COMMAND,
    super::config_cmd::CONFIG,
    CommandSpec {
        name: "time", behavior: Behavior::NO_SHARD,
        arity: 1,
        flags: Flags::LOADING.with(Flags::STALE).with(Flags::FAST),
        acl: Acl::FAST,
        handler: Handler::Conn(time),
        tips: &["nondeterministic_output"],
        group: "server",
        since: "2.6.0",
        summary: "Return the current server time",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "lastsave", behavior: Behavior::NO_SHARD,
        arity: 1,
        flags: Flags::LOADING.with(Flags::STALE).with(Flags::FAST),
        acl: Acl::ADMIN.with_bits(Acl::FAST).with_bits(Acl::DANGEROUS),
        handler: Handler::Conn(lastsave),
        tips: &["nondeterministic_output"],
        group: "server",
        since: "1.0.0",
        summary: "Get the UNIX time stamp of the last successful save to disk",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "shutdown",
        arity: -1,
        flags: Flags::ADMIN
            .with(Flags::NOSCRIPT)
            .with(Flags::LOADING)
            .with(Flags::STALE)
            .with(Flags::NO_MULTI)
            .with(Flags::ALLOW_BUSY),
        acl: Acl::ADMIN.with_bits(Acl::SLOW).with_bits(Acl::DANGEROUS),
        handler: Handler::Conn(shutdown),
        group: "server",
        since: "1.0.0",
        summary: "Synchronously save the dataset to disk and then shut down the server",
        complexity: "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
        ..CommandSpec::DEFAULT
    },
];

/// TIME: [seconds, microseconds] as bulk strings.
fn time(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let us = unix_us();
        conn.out.array(2);
        conn.out.bulk_i64((us / 1_000_000) as i64);
        conn.out.bulk_i64((us % 1_000_000) as i64);
    })
}

/// LASTSAVE: the time of the last successful SAVE, else the start time
/// (as Redis reports before its first save).
fn lastsave(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        conn.out
            .int(conn.rt.shared.lastsave_unix.load(Ordering::Relaxed) as i64)
    })
}

/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]. SAVE, or `save` rules
/// without NOSAVE, writes the RDB file first (command/save.rs); no
/// shutdown is ever in progress, so ABORT always says so.
fn shutdown(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let (mut nosave, mut save, mut other, mut abort) = (false, false, false, false);
        for a in &args[1..] {
            if is(a, "nosave") {
                nosave = true;
            } else if is(a, "save") {
                save = true;
            } else if is(a, "now") || is(a, "force") {
                other = true;
            } else if is(a, "abort") {
                abort = true;
            } else {
                return conn.out.error(SYNTAX);
            }
        }
        if (abort && (nosave || save || other)) || (nosave && save) {
            return conn.out.error(SYNTAX);
        }
        if abort {
            return conn.out.error("ERR No shutdown in progress.");
        }
        // SAVE, or `save` rules without NOSAVE, saves first (after a
        // running snapshot ends); a failed save keeps the server up, as
        // in Redis.
        use crate::persist::bgsave::rules;
        if save || (!nosave && rules::rules_set(&conn.rt.shared)) {
            rules::wait_no_snapshot().await;
            crate::notice!("Saving the final RDB snapshot before exiting.");
            if !crate::persist::blocking_save::save_all(&conn.rt).await {
                crate::warning!("Error trying to save the DB, can't exit.");
                return conn.out.error("ERR Errors trying to SHUTDOWN. Check logs.");
            }
        }
        crate::server::probe::shutdown(&conn.rt.shared)
    })
}
