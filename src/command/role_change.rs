//! Commands that change this node's role: REPLICAOF (SLAVEOF) and
//! FAILOVER. The work is in `repl/replica` and `repl/failover`.

use super::spec::{Acl, Behavior, CommandSpec, Flags, Handler};
use super::util::{arg_i64, is};
use crate::repl::{failover, primary, replica};
use crate::server::conn::Conn;
use futures::future::LocalBoxFuture;

/// REPLICAOF; SLAVEOF is the same command under its old name. It ends
/// the batch of requests read with it: those after it are checked (a
/// replica's READONLY) against the role it sets, as Redis runs them one
/// after the other.
const REPLICAOF: CommandSpec = CommandSpec {
    name: "replicaof",
    arity: 3,
    flags: Flags::ADMIN
        .with(Flags::NOSCRIPT)
        .with(Flags::STALE)
        .with(Flags::NO_ASYNC_LOADING),
    acl: Acl::ADMIN.with_bits(Acl::SLOW).with_bits(Acl::DANGEROUS),
    handler: Handler::Conn(replicaof),
    group: "server",
    since: "5.0.0",
    summary: "Make the server a replica of another instance, or promote it as master.",
    complexity: "O(1)",
    behavior: Behavior::ENDS_BATCH,
    ..CommandSpec::DEFAULT
};

/// REPLICAOF host port | NO ONE (also SLAVEOF).
fn replicaof(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let shared = conn.rt.shared.clone();
        if shared.cluster.is_some() {
            return conn.out.error("ERR REPLICAOF not allowed in cluster mode.");
        }
        if shared.repl.failover.active() {
            return conn
                .out
                .error("ERR REPLICAOF not allowed while failing over.");
        }
        if args[1].eq_ignore_ascii_case(b"no") && args[2].eq_ignore_ascii_case(b"one") {
            if replica::unset_master(&shared, "user request from replicaof no one") {
                // Sub-replicas learn the new history id by reconnecting
                // (they continue with PSYNC), as Redis's disconnectSlaves.
                primary::disconnect_replicas(&conn.rt).await;
            }
            return conn.out.ok();
        }
        let port = std::str::from_utf8(&args[2])
            .ok()
            .and_then(|s| s.parse::<i64>().ok());
        let Some(port) = port.filter(|p| (0..=65535).contains(p)) else {
            return conn.out.error("ERR Invalid master port");
        };
        let host = String::from_utf8_lossy(&args[1]).into_owned();
        let port = port as u16;
        {
            let inner = shared.repl.replica.inner.lock().unwrap();
            if inner.master.as_ref() == Some(&(host.clone(), port)) {
                drop(inner);
                crate::notice!("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.");
                return conn.out.simple("OK Already connected to specified master");
            }
        }
        crate::notice!("Connecting to MASTER {host}:{port}");
        replica::set_master(&conn.rt, host, port);
        conn.out.ok();
    })
}

const FAILOVER: CommandSpec = CommandSpec {
    name: "failover",
    arity: -1,
    flags: Flags::ADMIN.with(Flags::NOSCRIPT).with(Flags::STALE),
    acl: Acl::ADMIN.with_bits(Acl::SLOW).with_bits(Acl::DANGEROUS),
    handler: Handler::Conn(failover),
    group: "server",
    since: "6.2.0",
    summary: "Start a coordinated failover between this server and one of its replicas.",
    complexity: "O(1)",
    ..CommandSpec::DEFAULT
};

const NOT_INTEGER: &str = "ERR value is not an integer or out of range";

/// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms], with Redis's
/// checks in Redis's order.
fn failover(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let shared = conn.rt.shared.clone();
        if shared.cluster.is_some() {
            return conn.out.error(
                "ERR FAILOVER not allowed in cluster mode. Use CLUSTER FAILOVER command instead.",
            );
        }
        if args.len() == 2 && is(&args[1], "abort") {
            if !shared.repl.failover.active() {
                return conn.out.error("ERR No failover in progress.");
            }
            failover::abort(&conn.rt, "Failover manually aborted").await;
            return conn.out.ok();
        }
        let mut timeout_ms = 0i64;
        let mut force = false;
        let mut target: Option<(Vec<u8>, i64)> = None;
        let mut j = 1;
        while j < args.len() {
            if is(&args[j], "timeout") && j + 1 < args.len() && timeout_ms == 0 {
                let Some(t) = arg_i64(&args[j + 1]) else {
                    return conn.out.error(NOT_INTEGER);
                };
                if t <= 0 {
                    return conn
                        .out
                        .error("ERR FAILOVER timeout must be greater than 0");
                }
                timeout_ms = t;
                j += 1;
            } else if is(&args[j], "to") && j + 2 < args.len() && target.is_none() {
                let Some(port) = arg_i64(&args[j + 2]) else {
                    return conn.out.error(NOT_INTEGER);
                };
                target = Some((args[j + 1].clone(), port));
                j += 2;
            } else if is(&args[j], "force") && !force {
                force = true;
            } else {
                return conn.out.error("ERR syntax error");
            }
            j += 1;
        }
        if shared.repl.failover.active() {
            return conn.out.error("ERR FAILOVER already in progress.");
        }
        if shared.repl.replica.is_replica() {
            return conn
                .out
                .error("ERR FAILOVER is not valid when server is a replica.");
        }
        let replicas = shared.repl.primary.replicas();
        if replicas.is_empty() {
            return conn.out.error("ERR FAILOVER requires connected replicas.");
        }
        if force && (timeout_ms == 0 || target.is_none()) {
            return conn.out.error(
                "ERR FAILOVER with force option requires both a timeout and target HOST and IP.",
            );
        }
        let target = match target {
            Some((host, port)) => {
                let host = String::from_utf8_lossy(&host).into_owned();
                let Some(r) = replicas
                    .iter()
                    .find(|r| r.ip.eq_ignore_ascii_case(&host) && r.port as i64 == port)
                else {
                    return conn
                        .out
                        .error("ERR FAILOVER target HOST and PORT is not a replica.");
                };
                if r.state != primary::ONLINE {
                    return conn.out.error("ERR FAILOVER target replica is not online.");
                }
                crate::notice!("FAILOVER requested to {host}:{port}.");
                Some((host, r.port))
            }
            None => {
                crate::notice!("FAILOVER requested to any replica.");
                None
            }
        };
        failover::begin(&conn.rt, target, timeout_ms as u64, force);
        conn.out.ok();
    })
}

pub static COMMANDS: &[CommandSpec] = &[
    REPLICAOF,
    CommandSpec {
        name: "slaveof",
        since: "1.0.0",
        ..REPLICAOF
    },
    FAILOVER,
];
