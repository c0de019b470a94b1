//! MONITOR: the connection receives every command the server runs from
//! then on (server/monitor.rs feeds it, server/observe.rs decides what is
//! fed); it is flagged `O` in CLIENT LIST until it closes or RESETs.

use super::spec::{Acl, CommandSpec, Flags, Handler};
use crate::server::conn::Conn;
use futures::future::LocalBoxFuture;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "monitor",
    arity: 1,
    flags: Flags::ADMIN
        .with(Flags::NOSCRIPT)
        .with(Flags::LOADING)
        .with(Flags::STALE),
    acl: Acl::ADMIN.with_bits(Acl::SLOW).with_bits(Acl::DANGEROUS),
    handler: Handler::Conn(monitor),
    group: "server",
    since: "1.0.0",
    summary: "Listen for all requests received by the server in real time",
    ..CommandSpec::DEFAULT
}];

fn monitor(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        // Inside EXEC a client must get one reply per command (Redis's
        // CLIENT_DENY_BLOCKING).
        if crate::server::mesh::in_exec() {
            return conn
                .out
                .error("ERR MONITOR isn't allowed for DENY BLOCKING client");
        }
        // Already a monitor or a replica: ignored, without a reply.
        if conn.info.monitor.get() || conn.info.repl_role.get().is_some() {
            return;
        }
        conn.info.monitor.set(true);
        let (id, home) = (conn.info.id, conn.rt.id);
        conn.rt.shared.introspect.monitors.add(id, home);
        conn.out.ok();
    })
}

/// Ends monitoring (RESET).
pub fn stop(conn: &mut Conn) {
    if conn.info.monitor.replace(false) {
        conn.rt.shared.introspect.monitors.remove(conn.info.id);
    }
}
