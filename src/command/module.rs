//! MODULE: Shardis loads no modules, so LIST is empty and LOAD, LOADEX
//! and UNLOAD answer as a Redis 7.0 whose load (unload) fails. LOAD,
//! LOADEX and UNLOAD are gated by `enable-module-command`
//! (command/protected.rs).

use super::spec::{Behavior, CommandSpec, Flags, Handler};
use crate::server::conn::Conn;
use futures::future::LocalBoxFuture;

const ADMIN: Flags = Flags::NO_ASYNC_LOADING
    .with(Flags::ADMIN)
    .with(Flags::NOSCRIPT);

const fn sub(
    name: &'static str,
    arity: i32,
    h: super::spec::ConnFn,
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags: ADMIN,
        handler: Handler::Conn(h),
        group: "server",
        since,
        summary,
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    }
}

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "module",
    arity: -2,
    group: "server",
    since: "4.0.0",
    summary: "A container for module commands",
    complexity: "Depends on subcommand.",
    subcommands: &[
        CommandSpec {
            flags: Flags::LOADING.with(Flags::STALE),
            ..sub(
                "module|help",
                2,
                help,
                "5.0.0",
                "Show helpful text about the different subcommands",
            )
        },
        CommandSpec {
            flags: Flags::ADMIN.with(Flags::NOSCRIPT),
            tips: &["nondeterministic_output_order"],
            complexity: "O(N) where N is the number of loaded modules.",
            ..sub(
                "module|list",
                2,
                list,
                "4.0.0",
                "List all modules loaded by the server",
            )
        },
        CommandSpec {
            behavior: Behavior::MODULE_PROTECTED,
            ..sub("module|load", -3, load, "4.0.0", "Load a module")
        },
        CommandSpec {
            behavior: Behavior::MODULE_PROTECTED,
            ..sub(
                "module|loadex",
                -3,
                load,
                "7.0.0",
                "Load a module with extended parameters",
            )
        },
        CommandSpec {
            behavior: Behavior::MODULE_PROTECTED,
            ..sub("module|unload", 3, unload, "4.0.0", "Unload a module")
        },
    ],
    ..CommandSpec::DEFAULT
}];

fn list(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move { conn.out.array(0) })
}

fn load(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        crate::warning!(
            "Module {} failed to load: Shardis does not load modules",
            String::from_utf8_lossy(&args[2])
        );
        conn.out
            .error("ERR Error loading the extension. Please check the server logs.")
    })
}

fn unload(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        conn.out
            .error("ERR Error unloading module: no such module with that name")
    })
}

const HELP: &[&str] = &[
    "LIST",
    "    Return a list of loaded modules.",
    "LOAD <path> [<arg> ...]",
    "    Load a module library from <path>, passing to it any optional arguments.",
    "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
    "    Load a module library from <path>, while passing it module configurations and optional arguments.",
    "UNLOAD <name>",
    "    Unload a module.",
];

fn help(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move { super::help::reply_help(&mut conn.out, "MODULE", HELP) })
}
