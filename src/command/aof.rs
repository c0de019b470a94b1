//! BGREWRITEAOF: a new AOF base from the current data, in the background
//! (persist/aof/rewrite.rs).

use super::spec::{Acl, CommandSpec, Flags, Handler};
use crate::persist::aof::rewrite::RewriteStart;
use crate::server::conn::Conn;
use futures::future::LocalBoxFuture;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "bgrewriteaof",
    arity: 1,
    flags: Flags::ADMIN
        .with(Flags::NOSCRIPT)
        .with(Flags::NO_ASYNC_LOADING),
    acl: Acl::ADMIN.with_bits(Acl::SLOW).with_bits(Acl::DANGEROUS),
    handler: Handler::Conn(bgrewriteaof),
    group: "server",
    since: "1.0.0",
    summary: "Asynchronously rewrite the append-only file",
    complexity: "O(1)",
    ..CommandSpec::DEFAULT
}];

/// Replies as Redis 7.0: started, already running, or could not start
/// (here: the AOF is off; Redis would write a base file anyway).
fn bgrewriteaof(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        if !conn.rt.shared.aof.enabled() {
            crate::warning!("BGREWRITEAOF refused: appendonly is off");
            return conn.out.error(
                "ERR Can't execute an AOF background rewriting. Please check the server logs for more information.",
            );
        }
        match crate::persist::aof::rewrite::start(&conn.rt) {
            Ok(RewriteStart::Started) => conn
                .out
                .simple("Background append only file rewriting started"),
            Ok(RewriteStart::Scheduled) => conn
                .out
                .simple("Background append only file rewriting scheduled"),
            Err(e) => conn.out.error(e),
        }
    })
}
