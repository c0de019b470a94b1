//! FCALL and FCALL_RO: run a function of a loaded library (FUNCTION LOAD)
//! as one atomic step, the way EVAL runs a script (`server::script`).

use super::scripting::{eval_spec, EVAL_FLAGS, EVAL_WRITES, KEYS_RO, KEYS_RW};
use super::spec::{CommandSpec, Flags};
use crate::server::conn::Conn;
use crate::server::script::run;
use futures::future::LocalBoxFuture;

const COMPLEXITY: &str = "Depends on the function that is executed.";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        complexity: COMPLEXITY,
        ..eval_spec(
            "fcall",
            EVAL_WRITES,
            KEYS_RW,
            fcall,
            fcall_exec,
            "7.0.0",
            "Invoke a function",
        )
    },
    CommandSpec {
        complexity: COMPLEXITY,
        ..eval_spec(
            "fcall_ro",
            EVAL_FLAGS.with(Flags::READONLY),
            KEYS_RO,
            fcall_ro,
            fcall_ro_exec,
            "7.0.0",
            "Invoke a read-only function",
        )
    },
];

fn fcall(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(run::fcall(conn, args, false))
}

fn fcall_ro(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(run::fcall(conn, args, true))
}

type Held<'a> = crate::server::mesh::Held<'a>;

fn fcall_exec<'a>(
    conn: &'a mut Conn,
    _: &'a Held<'a>,
    args: &'a [Vec<u8>],
) -> LocalBoxFuture<'a, ()> {
    Box::pin(run::fcall_in_exec(conn, args, false))
}

fn fcall_ro_exec<'a>(
    conn: &'a mut Conn,
    _: &'a Held<'a>,
    args: &'a [Vec<u8>],
) -> LocalBoxFuture<'a, ()> {
    Box::pin(run::fcall_in_exec(conn, args, true))
}
