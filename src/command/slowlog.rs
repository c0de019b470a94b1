//! SLOWLOG GET [count] | LEN | RESET | HELP over the process's slow log
//! (server/slowlog.rs; entries are added in server/observe.rs).

use super::help::reply_help;
use super::spec::{Acl, CommandSpec, Flags, Handler};
use super::util::arg_i64;
use crate::server::conn::Conn;
use futures::future::LocalBoxFuture;

const FLAGS: Flags = Flags::ADMIN.with(Flags::LOADING).with(Flags::STALE);
const ACL: Acl = Acl::ADMIN.with_bits(Acl::SLOW).with_bits(Acl::DANGEROUS);

pub static SLOWLOG: CommandSpec = CommandSpec {
    name: "slowlog",
    arity: -2,
    acl: Acl::SLOW,
    group: "server",
    since: "2.2.12",
    summary: "A container for slow log commands",
    complexity: "Depends on subcommand.",
    subcommands: SUBCOMMANDS,
    ..CommandSpec::DEFAULT
};

static SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "slowlog|get",
        arity: -2,
        flags: FLAGS,
        acl: ACL,
        handler: Handler::Conn(get),
        tips: &["request_policy:all_nodes", "nondeterministic_output"],
        group: "server",
        since: "2.2.12",
        summary: "Get the slow log's entries",
        complexity: "O(N) where N is the number of entries returned",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "slowlog|help",
        arity: 2,
        flags: Flags::LOADING.with(Flags::STALE),
        acl: Acl::SLOW,
        handler: Handler::Conn(help),
        group: "server",
        since: "6.2.0",
        summary: "Show helpful text about the different subcommands",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "slowlog|len",
        arity: 2,
        flags: FLAGS,
        acl: ACL,
        handler: Handler::Conn(len),
        tips: &[
            "request_policy:all_nodes",
            "response_policy:agg_sum",
            "nondeterministic_output",
        ],
        group: "server",
        since: "2.2.12",
        summary: "Get the slow log's length",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "slowlog|reset",
        arity: 2,
        flags: FLAGS,
        acl: ACL,
        handler: Handler::Conn(reset),
        tips: &["request_policy:all_nodes", "response_policy:all_succeeded"],
        group: "server",
        since: "2.2.12",
        summary: "Clear all entries from the slow log",
        complexity: "O(N) where N is the number of entries in the slowlog",
        ..CommandSpec::DEFAULT
    },
];

const HELP: &[&str] = &[
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
];

fn help(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move { reply_help(&mut conn.out, "SLOWLOG", HELP) })
}

/// SLOWLOG GET [count]: newest first; -1 is all.
fn get(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        if args.len() > 3 {
            return super::client::subcommand_syntax_error(conn, &args);
        }
        let count = match args.get(2).map(|a| arg_i64(a)) {
            None => 10,
            Some(Some(n)) if n >= -1 => n,
            Some(_) => {
                return conn
                    .out
                    .error("ERR count should be greater than or equal to -1")
            }
        };
        let count = if count == -1 {
            usize::MAX
        } else {
            count as usize
        };
        let log = &conn.rt.shared.introspect.slowlog;
        let out = &mut conn.out;
        log.with_newest(max_len_of(&conn.rt), count, |entries| {
            out.array(entries.len());
            for e in entries {
                out.array(6);
                out.int(e.id as i64);
                out.int(e.time as i64);
                out.int(e.usec as i64);
                out.array(e.argv.len());
                for a in &e.argv {
                    out.bulk(a);
                }
                out.bulk(e.addr.as_bytes());
                out.bulk(&e.name);
            }
        });
    })
}

/// `slowlog-max-len` now: the log is trimmed to it when looked at.
fn max_len_of(rt: &crate::server::shard::ShardRt) -> usize {
    rt.settings().observe.slowlog_max_len
}

fn len(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let n = conn.rt.shared.introspect.slowlog.len(max_len_of(&conn.rt));
        conn.out.int(n as i64);
    })
}

fn reset(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        conn.rt.shared.introspect.slowlog.reset();
        conn.out.ok();
    })
}
