//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (Redis 7.0's flags, ACL
//! categories and key specs). Running a script is the engine's
//! (`server::script`): the script cache, the Lua states and the atomic
//! step.

use super::spec::{
    Acl, BeginSearch, Behavior, CommandSpec, FindKeys, Flags, Handler, KeyFlags, KeySpec,
};
use crate::server::conn::Conn;
use crate::server::script::{cache, run};
use futures::future::LocalBoxFuture;

pub(super) const EVAL_FLAGS: Flags = Flags::NOSCRIPT
    .with(Flags::STALE)
    .with(Flags::SKIP_MONITOR)
    .with(Flags::NO_MANDATORY_KEYS)
    .with(Flags::MOVABLEKEYS);
/// EVAL and EVALSHA may write: a write pause (CLIENT PAUSE WRITE, a
/// failover) holds them, as Redis's hidden `may_replicate` flag does.
pub(super) const EVAL_WRITES: Flags = EVAL_FLAGS.with(Flags::MAY_REPLICATE);
const SCRIPTING: Acl = Acl::SLOW.with_bits(Acl::SCRIPTING);
pub(super) const KEYS_RW: &[KeySpec] = &[KeySpec {
    flags: KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::UPDATE),
    begin: BeginSearch::Index(2),
    find: FindKeys::Keynum {
        keynumidx: 0,
        firstkey: 1,
        step: 1,
    },
}];
pub(super) const KEYS_RO: &[KeySpec] = &[KeySpec {
    flags: KeyFlags::RO.with(KeyFlags::ACCESS),
    begin: BeginSearch::Index(2),
    find: FindKeys::Keynum {
        keynumidx: 0,
        firstkey: 1,
        step: 1,
    },
}];

pub(super) const fn eval_spec(
    name: &'static str,
    flags: Flags,
    keys: &'static [KeySpec],
    h: super::spec::ConnFn,
    in_exec: super::spec::InExecFn,
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity: -3,
        flags,
        acl: SCRIPTING,
        keys,
        behavior: Behavior::RUNS_SCRIPT,
        handler: Handler::Conn(h),
        in_exec: Some(in_exec),
        group: "scripting",
        since,
        summary,
        complexity: "Depends on the script that is executed.",
        ..CommandSpec::DEFAULT
    }
}

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
        acl: SCRIPTING,
        handler: Handler::Conn(h),
        tips,
        group: "scripting",
        since: "2.6.0",
        summary,
        complexity,
        ..CommandSpec::DEFAULT
    }
}

pub static COMMANDS: &[CommandSpec] = &[
    eval_spec("eval", EVAL_WRITES, KEYS_RW, eval, eval_exec, "2.6.0",
        "Execute a Lua script server side"),
    eval_spec("evalsha", EVAL_WRITES, KEYS_RW, evalsha, evalsha_exec, "2.6.0",
        "Execute a Lua script server side"),
    eval_spec("eval_ro", EVAL_FLAGS.with(Flags::READONLY), KEYS_RO, eval_ro, eval_ro_exec,
        "7.0.0", "Execute a read-only Lua script server side"),
    eval_spec("evalsha_ro", EVAL_FLAGS.with(Flags::READONLY), KEYS_RO, evalsha_ro,
        evalsha_ro_exec, "7.0.0", "Execute a read-only Lua script server side"),
    CommandSpec {
        name: "script",
        arity: -2,
        acl: Acl::SLOW,
        group: "scripting",
        since: "2.6.0",
        summary: "A container for Lua scripts management commands",
        complexity: "Depends on subcommand.",
        subcommands: &[
            sub("script|debug", 3, Flags::NOSCRIPT, debug, &[],
                "Set the debug mode for executed scripts.", "O(1)"),
            sub("script|exists", -3, Flags::NOSCRIPT, exists,
                &["request_policy:all_shards", "response_policy:agg_logical_and"],
                "Check existence of scripts in the script cache.",
                "O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation)."),
            sub("script|flush", -2, Flags::NOSCRIPT, flush,
                &["request_policy:all_nodes", "response_policy:all_succeeded"],
                "Remove all the scripts from the script cache.",
                "O(N) with N being the number of scripts in cache"),
            sub("script|help", 2, Flags::LOADING.with(Flags::STALE), help, &[],
                "Show helpful text about the different subcommands", "O(1)"),
            sub("script|kill", 2, Flags::NOSCRIPT.with(Flags::ALLOW_BUSY), kill,
                &["request_policy:all_shards", "response_policy:one_succeeded"],
                "Kill the script currently in execution.", "O(1)"),
            sub("script|load", 3, Flags::NOSCRIPT.with(Flags::STALE), load,
                &["request_policy:all_nodes", "response_policy:all_succeeded"],
                "Load the specified Lua script into the script cache.",
                "O(N) with N being the length in bytes of the script body."),
        ],
        ..CommandSpec::DEFAULT
    },
];

fn eval(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(run::eval(conn, args, false, false))
}

fn evalsha(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(run::eval(conn, args, true, false))
}

fn eval_ro(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(run::eval(conn, args, false, true))
}

fn evalsha_ro(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(run::eval(conn, args, true, true))
}

type Held<'a> = crate::server::mesh::Held<'a>;

fn eval_exec<'a>(
    conn: &'a mut Conn,
    _: &'a Held<'a>,
    args: &'a [Vec<u8>],
) -> LocalBoxFuture<'a, ()> {
    Box::pin(run::eval_in_exec(conn, args, false, false))
}

fn evalsha_exec<'a>(
    conn: &'a mut Conn,
    _: &'a Held<'a>,
    args: &'a [Vec<u8>],
) -> LocalBoxFuture<'a, ()> {
    Box::pin(run::eval_in_exec(conn, args, true, false))
}

fn eval_ro_exec<'a>(
    conn: &'a mut Conn,
    _: &'a Held<'a>,
    args: &'a [Vec<u8>],
) -> LocalBoxFuture<'a, ()> {
    Box::pin(run::eval_in_exec(conn, args, false, true))
}

fn evalsha_ro_exec<'a>(
    conn: &'a mut Conn,
    _: &'a Held<'a>,
    args: &'a [Vec<u8>],
) -> LocalBoxFuture<'a, ()> {
    Box::pin(run::eval_in_exec(conn, args, true, true))
}

fn load(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        match run::load(&args[2]) {
            Ok((sha, _)) => conn.out.bulk(&sha),
            Err(e) => conn.out.error(&e),
        }
    })
}

fn exists(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        conn.out.array(args.len() - 2);
        for sha in &args[2..] {
            conn.out.int(cache::exists(sha) as i64);
        }
    })
}

fn flush(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let mode = args.get(2).map(|m| m.to_ascii_lowercase());
        let ok = matches!(
            (args.len(), mode.as_deref()),
            (2, _) | (3, Some(b"sync")) | (3, Some(b"async"))
        );
        if !ok {
            return conn
                .out
                .error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        }
        cache::flush();
        conn.out.ok();
    })
}

fn kill(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        match conn.rt.shared.busy.kill(true) {
            Ok(()) => conn.out.ok(),
            Err(e) => conn.out.error(e),
        }
    })
}

fn debug(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let mode = args[2].to_ascii_lowercase();
        if !matches!(mode.as_slice(), b"yes" | b"sync" | b"no") {
            return conn.out.error("ERR Use SCRIPT DEBUG YES/SYNC/NO");
        }
        if mode == b"no" {
            return conn.out.ok();
        }
        conn.out
            .error("ERR Shardis has no Lua debugger: SCRIPT DEBUG YES/SYNC is not supported")
    })
}

const HELP: &[&str] = &[
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
];

fn help(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move { super::help::reply_help(&mut conn.out, "SCRIPT", HELP) })
}
