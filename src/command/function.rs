//! FUNCTION over the function library, which is always empty: scripting
//! is not built, so FUNCTION LOAD and FCALL stay unknown, and everything
//! else answers as Redis 7.0 does with no library loaded (Redis's test
//! harness calls FUNCTION FLUSH before every test).

use super::spec::{Acl, CommandSpec, Flags, Handler};
use crate::persist::rdb::{crc64::crc64, RDB_VERSION};
use crate::server::conn::Conn;
use futures::future::LocalBoxFuture;

const fn sub(
    name: &'static str,
    arity: i32,
    flags: Flags,
    h: super::spec::ConnFn,
    tips: &'static [&'static str],
    summary: &'static str,
    complexity: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        acl: Acl::SCRIPTING,
        handler: Handler::Conn(h),
        tips,
        group: "scripting",
        since: "7.0.0",
        summary,
        complexity,
        ..CommandSpec::DEFAULT
    }
}

const ALL_SUCCEEDED: &[&str] = &["request_policy:all_shards", "response_policy:all_succeeded"];
const WRITE: Flags = Flags::NOSCRIPT.with(Flags::WRITE);

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "function",
    arity: -2,
    group: "scripting",
    since: "7.0.0",
    summary: "A container for function commands",
    complexity: "Depends on subcommand.",
    subcommands: &[
        sub(
            "function|help",
            2,
            Flags::LOADING.with(Flags::STALE),
            help,
            &[],
            "Show helpful text about the different subcommands",
            "O(1)",
        ),
        sub(
            "function|list",
            -2,
            Flags::NOSCRIPT,
            list,
            &["nondeterministic_output_order"],
            "List information about all the functions",
            "O(N) where N is the number of functions",
        ),
        sub(
            "function|restore",
            -3,
            WRITE.with(Flags::DENYOOM),
            restore,
            ALL_SUCCEEDED,
            "Restore all the functions on the given payload",
            "O(N) where N is the number of functions on the payload",
        ),
        sub(
            "function|dump",
            2,
            Flags::NOSCRIPT,
            dump,
            &[],
            "Dump all functions into a serialized binary payload",
            "O(N) where N is the number of functions",
        ),
        sub(
            "function|kill",
            2,
            Flags::NOSCRIPT.with(Flags::ALLOW_BUSY),
            kill,
            &["request_policy:all_shards", "response_policy:one_succeeded"],
            "Kill the function currently in execution.",
            "O(1)",
        ),
        sub(
            "function|delete",
            3,
            WRITE,
            delete,
            ALL_SUCCEEDED,
            "Delete a function by name",
            "O(1)",
        ),
        sub(
            "function|flush",
            -2,
            WRITE,
            flush,
            ALL_SUCCEEDED,
            "Deleting all functions",
            "O(N) where N is the number of functions deleted",
        ),
        sub(
            "function|stats",
            2,
            Flags::NOSCRIPT.with(Flags::ALLOW_BUSY),
            stats,
            &[
                "nondeterministic_output",
                "request_policy:all_shards",
                "response_policy:special",
            ],
            "Return information about the function currently running (name, description, duration)",
            "O(1)",
        ),
    ],
    ..CommandSpec::DEFAULT
}];

/// Redis's RDB opcodes of a function library in a payload.
const OPCODE_FUNCTION: u8 = 245;
const OPCODE_FUNCTION2: u8 = 246;

fn delete(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move { conn.out.error("ERR Library not found") })
}

/// FUNCTION DUMP: the payload of no libraries (just the footer).
fn dump(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let mut p = RDB_VERSION.to_le_bytes().to_vec();
        let crc = crc64(0, &p);
        p.extend_from_slice(&crc.to_le_bytes());
        conn.out.bulk(&p);
    })
}

/// FUNCTION FLUSH [ASYNC | SYNC]: nothing to delete, but it counts as a
/// change, as in Redis.
fn flush(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        if args.len() > 3 {
            let mut e = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
            e.extend_from_slice(&args[1]);
            e.extend_from_slice(b"'. Try FUNCTION HELP.");
            return conn.out.error_bytes(&e);
        }
        if let Some(mode) = args.get(2) {
            if !mode.eq_ignore_ascii_case(b"sync") && !mode.eq_ignore_ascii_case(b"async") {
                return conn
                    .out
                    .error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
            }
        }
        conn.rt.core.borrow_mut().dirty += 1;
        conn.out.ok();
    })
}

fn kill(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move { conn.out.error("NOTBUSY No scripts in execution right now.") })
}

/// FUNCTION LIST [WITHCODE] [LIBRARYNAME pattern]: checked, then empty.
fn list(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let (mut with_code, mut library) = (false, false);
        let mut i = 2;
        while i < args.len() {
            let a = &args[i];
            if !with_code && a.eq_ignore_ascii_case(b"withcode") {
                with_code = true;
            } else if !library && a.eq_ignore_ascii_case(b"libraryname") {
                if i + 1 >= args.len() {
                    return conn.out.error("ERR library name argument was not given");
                }
                library = true;
                i += 1;
            } else {
                let mut e = b"ERR Unknown argument ".to_vec();
                e.extend_from_slice(a);
                return conn.out.error_bytes(&e);
            }
            i += 1;
        }
        conn.out.array(0);
    })
}

/// FUNCTION RESTORE payload [FLUSH | APPEND | REPLACE]: a payload of no
/// libraries restores; one holding libraries cannot (no engine).
fn restore(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        if args.len() == 4 {
            let p = &args[3];
            if !(p.eq_ignore_ascii_case(b"append")
                || p.eq_ignore_ascii_case(b"replace")
                || p.eq_ignore_ascii_case(b"flush"))
            {
                return conn.out.error(
                    "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
                );
            }
        }
        let data = &args[2];
        if !crate::persist::rdb::payload::verify(data) {
            return conn
                .out
                .error("ERR DUMP payload version or checksum are wrong");
        }
        match data[..data.len() - 10].first() {
            None => {
                conn.rt.core.borrow_mut().dirty += 1;
                conn.out.ok();
            }
            Some(&t) if t != OPCODE_FUNCTION && t != OPCODE_FUNCTION2 => {
                conn.out.error("ERR given type is not a function")
            }
            Some(_) => conn.out.error("ERR Engine 'LUA' not found"),
        }
    })
}

/// FUNCTION STATS: no script running; the LUA engine with nothing in it.
fn stats(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let out = &mut conn.out;
        out.map(2);
        out.bulk_str("running_script");
        out.null();
        out.bulk_str("engines");
        out.map(1);
        out.bulk_str("LUA");
        out.map(2);
        out.bulk_str("libraries_count");
        out.int(0);
        out.bulk_str("functions_count");
        out.int(0);
    })
}

const HELP: &[&str] = &[
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
];

fn help(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move { super::help::reply_help(&mut conn.out, "FUNCTION", HELP) })
}
