//! Replication commands a primary answers: REPLCONF, PSYNC, SYNC, WAIT,
//! ROLE. The work is in `repl/primary`.

use super::spec::{Acl, Behavior, CommandSpec, Flags, Handler};
use super::util::{arg_i64, is};
use crate::repl::primary::{self, Start};
use crate::server::conn::Conn;
use futures::future::LocalBoxFuture;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "replconf",
        arity: -1,
        flags: Flags::ADMIN
            .with(Flags::NOSCRIPT)
            .with(Flags::LOADING)
            .with(Flags::STALE)
            .with(Flags::ALLOW_BUSY),
        acl: Acl::ADMIN.with_bits(Acl::SLOW).with_bits(Acl::DANGEROUS),
        handler: Handler::Conn(replconf),
        group: "server",
        since: "3.0.0",
        summary: "An internal command for configuring the replication stream",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "psync",
        arity: -3,
        flags: Flags::ADMIN
            .with(Flags::NOSCRIPT)
            .with(Flags::NO_ASYNC_LOADING)
            .with(Flags::NO_MULTI),
        acl: Acl::ADMIN.with_bits(Acl::SLOW).with_bits(Acl::DANGEROUS),
        handler: Handler::Conn(psync),
        group: "server",
        since: "2.8.0",
        summary: "Internal command used for replication",
        complexity: "",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sync",
        arity: 1,
        flags: Flags::ADMIN
            .with(Flags::NOSCRIPT)
            .with(Flags::NO_ASYNC_LOADING)
            .with(Flags::NO_MULTI),
        acl: Acl::ADMIN.with_bits(Acl::SLOW).with_bits(Acl::DANGEROUS),
        handler: Handler::Conn(sync),
        group: "server",
        since: "1.0.0",
        summary: "Internal command used for replication",
        complexity: "",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "wait", behavior: Behavior::WAITS,
        arity: 3,
        flags: Flags::NOSCRIPT,
        acl: Acl::SLOW.with_bits(Acl::CONNECTION),
        handler: Handler::Conn(wait),
        tips: &["request_policy:all_shards", "response_policy:agg_min"],
        group: "generic",
        since: "3.0.0",
        summary: "Wait for the synchronous replication of all the write commands sent in the context of the current connection",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "role",
        arity: 1,
        flags: Flags::NOSCRIPT
            .with(Flags::LOADING)
            .with(Flags::STALE)
            .with(Flags::FAST),
        acl: Acl::ADMIN.with_bits(Acl::FAST).with_bits(Acl::DANGEROUS),
        handler: Handler::Conn(role),
        group: "server",
        since: "2.8.12",
        summary: "Return the role of the instance in the context of replication",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
];

/// REPLCONF <option> <value> [<option> <value> ...]
fn replconf(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        if args.len().is_multiple_of(2) {
            return conn.out.error("ERR syntax error");
        }
        let mut i = 1;
        while i < args.len() {
            let (opt, val) = (&args[i], &args[i + 1]);
            if is(opt, "listening-port") {
                match arg_i64(val) {
                    Some(p) if (0..=65535).contains(&p) => conn.repl.listening_port = p as u16,
                    _ => {
                        return conn
                            .out
                            .error("ERR value is not an integer or out of range")
                    }
                }
            } else if is(opt, "ip-address") {
                if val.len() >= 256 {
                    let v = String::from_utf8_lossy(val);
                    return conn.out.error(&format!(
                        "ERR REPLCONF ip-address provided by replica instance is too long: {} bytes",
                        v.len()
                    ));
                }
                conn.repl.ip_address = Some(String::from_utf8_lossy(val).into_owned());
            } else if is(opt, "capa") {
                if is(val, "eof") {
                    conn.repl.capa_eof = true;
                } else if is(val, "psync2") {
                    conn.repl.capa_psync2 = true;
                }
            } else if is(opt, "ack") || is(opt, "getack") {
                // ACKs reach a replica's own task (repl/primary); on an
                // ordinary connection they are ignored, without a reply,
                // as Redis does. GETACK means something only to a replica.
                return;
            } else if is(opt, "rdb-only") {
                match arg_i64(val) {
                    Some(0) => conn.repl.rdb_only = false,
                    Some(1) => conn.repl.rdb_only = true,
                    Some(_) => {
                        return conn
                            .out
                            .error("ERR value is out of range, value must between 0 and 1")
                    }
                    None => {
                        return conn
                            .out
                            .error("ERR value is not an integer or out of range")
                    }
                }
            } else if is(opt, "rdb-filter-only") {
                // Include filters: nothing but what they name (Redis
                // knows one, "functions"); the keys are always left out.
                let mut filter = crate::repl::primary::RdbFilter::default();
                for f in val
                    .split(|c| c.is_ascii_whitespace())
                    .filter(|f| !f.is_empty())
                {
                    if is(f, "functions") {
                        filter.functions = true;
                    } else {
                        let f = String::from_utf8_lossy(f);
                        return conn
                            .out
                            .error(&format!("ERR Unsupported rdb-filter-only option: {f}"));
                    }
                }
                conn.repl.rdb_filter_only = Some(filter);
            } else {
                let o = String::from_utf8_lossy(opt);
                return conn
                    .out
                    .error(&format!("ERR Unrecognized REPLCONF option: {o}"));
            }
            i += 2;
        }
        conn.out.ok();
    })
}

/// PSYNC <replid> <offset> [FAILOVER]: the connection becomes a replica
/// once the replies before this one are written. Arguments after the
/// offset other than FAILOVER are ignored, as Redis does.
fn psync(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        if !sync_allowed(conn, &args).await {
            return;
        }
        let replid = String::from_utf8_lossy(&args[1]).into_owned();
        let offset = match std::str::from_utf8(&args[2])
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
        {
            Some(o) => o,
            None => {
                crate::warning!(
                    "Replica {} asks for synchronization but with a wrong offset",
                    conn.repl.replica_name(&conn.info.addr)
                );
                return conn
                    .out
                    .error("ERR value is not an integer or out of range");
            }
        };
        conn.repl.start = Some(Start::Psync { replid, offset });
    })
}

/// SYNC: old-style full sync.
fn sync(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        if sync_allowed(conn, &args).await {
            conn.repl.start = Some(Start::Sync);
        }
    })
}

/// Redis's syncCommand up to the synchronization: a replica's link
/// sending SYNC/PSYNC again is ignored (no reply), the refusals of
/// `check_sync` answered; then the request is logged.
async fn sync_allowed(conn: &mut Conn, args: &[Vec<u8>]) -> bool {
    if conn.info.repl_role.get() == Some("replica") {
        return false;
    }
    if let Err(e) = crate::repl::failover::check_sync(conn, args).await {
        conn.out.error(&e);
        return false;
    }
    // A filtered RDB goes over the socket only (Redis makes it so).
    if conn.repl.rdb_filter_only.is_some() && !conn.repl.capa_eof {
        conn.out
            .error("ERR Filtered replica requires EOF capability");
        return false;
    }
    crate::notice!(
        "Replica {} asks for synchronization",
        conn.repl.replica_name(&conn.info.addr)
    );
    true
}

/// WAIT numreplicas timeout
fn wait(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(want) = arg_i64(&args[1]) else {
            return conn
                .out
                .error("ERR value is not an integer or out of range");
        };
        let timeout = match arg_i64(&args[2]) {
            Some(t) if t >= 0 => t as u64,
            Some(_) => return conn.out.error("ERR timeout is negative"),
            None => {
                return conn
                    .out
                    .error("ERR timeout is not an integer or out of range")
            }
        };
        let shared = conn.rt.shared.clone();
        let want = want.max(0) as usize;
        let target = conn.repl.wait_target(&shared);
        if conn.tx.in_multi() {
            return conn.out.int(shared.repl.primary.acked(target) as i64);
        }
        let n = shared.repl.primary.acked(target);
        if n >= want {
            return conn.out.int(n as i64);
        }
        // Blocked as Redis's BLOCKED_WAIT: counted in blocked_clients,
        // freed when the client hangs up, CLIENT UNBLOCK ends it.
        use crate::server::blocking::{BlockGuard, BlockOp, Waiter, Wake, ROLE_CHANGED};
        let op = BlockOp::ZPop {
            max: false,
            count: None,
        };
        let (waiter, rx) = Waiter::new(conn.db, conn.out.resp3, op);
        let mut guard = BlockGuard::new(
            conn.rt.clone(),
            conn.info.clone(),
            waiter,
            Vec::new(),
            rx,
            timeout > 0,
        );
        let wait = std::pin::pin!(primary::wait_acks(&shared, target, want, timeout));
        let outcome = futures::future::select(wait, &mut guard.rx).await;
        let reply = match outcome {
            futures::future::Either::Left((n, _)) => Ok(n),
            futures::future::Either::Right((Ok(Wake::Error), _)) => {
                Err("UNBLOCKED client unblocked via CLIENT UNBLOCK")
            }
            futures::future::Either::Right((Ok(Wake::RoleChanged), _)) => {
                conn.close = true;
                Err(ROLE_CHANGED)
            }
            futures::future::Either::Right(_) => Ok(shared.repl.primary.acked(target)),
        };
        drop(guard);
        match reply {
            Ok(n) => conn.out.int(n as i64),
            Err(e) => conn.out.error(e),
        }
    })
}

/// ROLE
fn role(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let shared = conn.rt.shared.clone();
        if !crate::repl::replica::role_reply(&shared, &mut conn.out) {
            primary::role_master(&mut conn.out, &shared);
        }
    })
}
