//! FUNCTION: the function libraries (Redis 7.0's functions.c). The
//! registry and the loading of a library's code are the engine's
//! (`server::script::library`); FCALL is in fcall.rs.
//!
//! LOAD, DELETE, FLUSH and RESTORE change the libraries: they count as a
//! change (`dirty`) and reach the AOF and replicas as they came, as Redis
//! propagates them.

use super::spec::{Acl, CommandSpec, Flags, Handler};
use crate::persist::rdb::{crc64::crc64, RDB_VERSION};
use crate::server::conn::Conn;
use crate::server::script::library::{self, Policy};
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
            "function|load",
            -3,
            WRITE.with(Flags::DENYOOM),
            load,
            ALL_SUCCEEDED,
            "Create a function with the given arguments (name, code, description)",
            "O(1) (considering compilation time is redundant)",
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

/// A change to the libraries: counted, and logged as it came.
fn changed(conn: &mut Conn, args: &[Vec<u8>]) {
    conn.rt.core.borrow_mut().dirty += 1;
    crate::server::effects::log_keyspace_command(&conn.rt, conn.db, args);
}

/// FUNCTION LOAD and RESTORE are `denyoom`: refused over `maxmemory`
/// (not from the master, which the replica must follow).
async fn refused_oom(conn: &mut Conn, spec: &'static str) -> bool {
    if conn.from_master || crate::server::evict::admit_on_conn(&conn.rt, true).await {
        return false;
    }
    let start = conn.out.buf.len();
    conn.out.error(crate::server::evict::OOM);
    let reply = conn.out.buf[start..].to_vec();
    conn.rt.count_rejected(spec, &reply);
    true
}

fn syntax_error(conn: &mut Conn, args: &[Vec<u8>]) {
    let mut e = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
    e.extend_from_slice(&args[1]);
    e.extend_from_slice(b"'. Try FUNCTION HELP.");
    conn.out.error_bytes(&e)
}

/// FUNCTION LOAD [REPLACE] code.
fn load(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        if refused_oom(conn, "function|load").await {
            return;
        }
        let mut replace = false;
        let mut i = 2;
        while i < args.len() - 1 {
            if !args[i].eq_ignore_ascii_case(b"replace") {
                let mut e = b"ERR Unknown option given: ".to_vec();
                e.extend_from_slice(&args[i]);
                return conn.out.error_bytes(&e);
            }
            replace = true;
            i += 1;
        }
        match library::load(&args[i], replace) {
            Ok(name) => {
                changed(conn, &args);
                conn.out.bulk(name.as_bytes());
            }
            Err(e) => conn.out.error(&format!("ERR {e}")),
        }
    })
}

fn delete(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        if !library::delete(&args[2]) {
            return conn.out.error("ERR Library not found");
        }
        changed(conn, &args);
        conn.out.ok();
    })
}

/// FUNCTION DUMP: each library as the RDB has it, then the RDB version
/// and the CRC64, as DUMP's payloads.
fn dump(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let mut p = Vec::new();
        for lib in library::libraries() {
            p.push(library::OPCODE_FUNCTION2);
            crate::persist::rdb::string::write_string(&mut p, &lib.code, true);
        }
        p.extend_from_slice(&RDB_VERSION.to_le_bytes());
        let crc = crc64(0, &p);
        p.extend_from_slice(&crc.to_le_bytes());
        conn.out.bulk(&p);
    })
}

/// FUNCTION FLUSH [ASYNC | SYNC].
fn flush(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        if args.len() > 3 {
            return syntax_error(conn, &args);
        }
        if let Some(mode) = args.get(2) {
            if !mode.eq_ignore_ascii_case(b"sync") && !mode.eq_ignore_ascii_case(b"async") {
                return conn
                    .out
                    .error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
            }
        }
        library::flush();
        changed(conn, &args);
        conn.out.ok();
    })
}

fn kill(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        match conn.rt.shared.busy.kill(false) {
            Ok(()) => conn.out.ok(),
            Err(e) => conn.out.error(e),
        }
    })
}

/// FUNCTION LIST [WITHCODE] [LIBRARYNAME pattern].
fn list(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let (mut with_code, mut pattern) = (false, None);
        let mut i = 2;
        while i < args.len() {
            let a = &args[i];
            if !with_code && a.eq_ignore_ascii_case(b"withcode") {
                with_code = true;
            } else if pattern.is_none() && a.eq_ignore_ascii_case(b"libraryname") {
                if i + 1 >= args.len() {
                    return conn.out.error("ERR library name argument was not given");
                }
                pattern = Some(args[i + 1].clone());
                i += 1;
            } else {
                let mut e = b"ERR Unknown argument ".to_vec();
                e.extend_from_slice(a);
                return conn.out.error_bytes(&e);
            }
            i += 1;
        }
        let libs: Vec<_> = library::libraries()
            .into_iter()
            .filter(|l| {
                pattern
                    .as_ref()
                    .is_none_or(|p| crate::glob::matches(p, l.name.as_bytes(), true))
            })
            .collect();
        let out = &mut conn.out;
        out.array(libs.len());
        for lib in &libs {
            out.map(if with_code { 4 } else { 3 });
            out.bulk_str("library_name");
            out.bulk(lib.name.as_bytes());
            out.bulk_str("engine");
            out.bulk_str("LUA");
            out.bulk_str("functions");
            out.array(lib.functions.len());
            for f in &lib.functions {
                out.map(3);
                out.bulk_str("name");
                out.bulk(f.name.as_bytes());
                out.bulk_str("description");
                match &f.desc {
                    Some(d) => out.bulk(d),
                    None => out.null(),
                }
                out.bulk_str("flags");
                let names = library::flag_names(&f.flags);
                out.set(names.len());
                for n in names {
                    out.simple(n);
                }
            }
            if with_code {
                out.bulk_str("library_code");
                out.bulk(&lib.code);
            }
        }
    })
}

/// FUNCTION RESTORE payload [FLUSH | APPEND | REPLACE].
fn restore(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        if refused_oom(conn, "function|restore").await {
            return;
        }
        if args.len() > 4 {
            return syntax_error(conn, &args);
        }
        let mut policy = Policy::Append;
        if let Some(p) = args.get(3) {
            policy = if p.eq_ignore_ascii_case(b"append") {
                Policy::Append
            } else if p.eq_ignore_ascii_case(b"replace") {
                Policy::Replace
            } else if p.eq_ignore_ascii_case(b"flush") {
                Policy::Flush
            } else {
                return conn.out.error(
                    "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
                );
            };
        }
        let data = &args[2];
        if !crate::persist::rdb::payload::verify(data) {
            return conn
                .out
                .error("ERR DUMP payload version or checksum are wrong");
        }
        let codes = match library::payload_codes(&data[..data.len() - 10]) {
            Ok(c) => c,
            Err(e) => return conn.out.error(&format!("ERR {e}")),
        };
        match library::restore(&codes, policy) {
            Ok(()) => {
                changed(conn, &args);
                conn.out.ok();
            }
            Err(e) => conn.out.error(&format!("ERR {e}")),
        }
    })
}

/// FUNCTION STATS: no script is ever seen running (a script holds its
/// shards until it ends); the LUA engine's counts.
fn stats(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let busy = &conn.rt.shared.busy;
        let running = busy.running();
        if running.is_some() && busy.runs_eval() {
            // A busy EVAL: Redis answers as to any other command.
            return conn.out.error(busy.busy_text());
        }
        let (libs, funcs) = library::counts();
        let out = &mut conn.out;
        out.map(2);
        out.bulk_str("running_script");
        match running {
            None => out.null(),
            Some(r) => {
                out.map(3);
                out.bulk_str("name");
                out.bulk(r.name.as_bytes());
                out.bulk_str("command");
                out.array(r.argv.len());
                for a in &r.argv {
                    out.bulk(a);
                }
                out.bulk_str("duration_ms");
                out.int(r.started.elapsed().as_millis() as i64);
            }
        }
        out.bulk_str("engines");
        out.map(1);
        out.bulk_str("LUA");
        out.map(2);
        out.bulk_str("libraries_count");
        out.int(libs as i64);
        out.bulk_str("functions_count");
        out.int(funcs as i64);
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
