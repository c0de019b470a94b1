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

/// Replies as Redis 7.0: started, scheduled or already running. With
/// `appendonly no` it writes a base file and a manifest all the same.
fn bgrewriteaof(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
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
