//! Server commands: COMMAND (command_cmd.rs), CONFIG (config_cmd.rs),
//! TIME, LASTSAVE, SHUTDOWN.

use super::spec::{Acl, Behavior, CommandSpec, Flags, Handler};
use super::util::{is, SYNTAX};
use crate::server::conn::Conn;
use crate::server::shutdown::{self, Flags as ShutdownFlags, Prepared};
use crate::sys::clock::unix_us;
use futures::future::LocalBoxFuture;
use std::sync::atomic::Ordering;
use std::time::Duration;

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

/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]. Without NOW, waits
/// for lagging replicas first (server/shutdown.rs), blocked until the
/// process exits or the shutdown is aborted. SAVE, or `save` rules
/// without NOSAVE, writes the RDB file before exiting (command/save.rs).
fn shutdown(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let mut flags = ShutdownFlags::default();
        let mut abort = false;
        for a in &args[1..] {
            if is(a, "nosave") {
                flags.nosave = true;
            } else if is(a, "save") {
                flags.save = true;
            } else if is(a, "now") {
                flags.now = true;
            } else if is(a, "force") {
                flags.force = true;
            } else if is(a, "abort") {
                abort = true;
            } else {
                return conn.out.error(SYNTAX);
            }
        }
        let any = flags.nosave || flags.save || flags.now || flags.force;
        if (abort && any) || (flags.nosave && flags.save) {
            return conn.out.error(SYNTAX);
        }
        let shared = conn.rt.shared.clone();
        if shared.busy.is_active() {
            // A busy script ends only with the process, and only unsaved.
            if !flags.nosave {
                return conn.out.error(shared.busy.busy_text());
            }
            flags.now = true;
        }
        if abort {
            return match shutdown::abort(&shared) {
                true => conn.out.ok(),
                false => conn.out.error("ERR No shutdown in progress."),
            };
        }
        match shutdown::prepare(&shared, flags) {
            Prepared::Wait(epoch) => {
                // Blocked as Redis's BLOCKED_SHUTDOWN until the process
                // exits or the shutdown is cancelled.
                let _blocked = crate::server::blocking::CountBlocked::new();
                while shared.shutdown.cancelled() == epoch {
                    glommio::timer::sleep(Duration::from_millis(10)).await;
                }
                conn.out.error(SHUTDOWN_FAILED)
            }
            Prepared::Finish => {
                // A save waits for a running snapshot; a failed one keeps
                // the server up unless FORCE, as in Redis.
                use crate::persist::bgsave::rules;
                let Some(save) = shutdown::finish_begins(&shared, flags) else {
                    return conn.out.error(SHUTDOWN_FAILED);
                };
                if save {
                    rules::wait_no_snapshot().await;
                    crate::notice!("Saving the final RDB snapshot before exiting.");
                    if !crate::persist::blocking_save::save_all(&conn.rt).await
                        && !shutdown::save_failed(&shared, flags)
                    {
                        return conn.out.error(SHUTDOWN_FAILED);
                    }
                }
                crate::server::probe::shutdown(&shared)
            }
        }
    })
}

/// What a SHUTDOWN that did not shut down answers.
const SHUTDOWN_FAILED: &str = "ERR Errors trying to SHUTDOWN. Check logs.";
