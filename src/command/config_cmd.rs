//! CONFIG GET SET RESETSTAT REWRITE HELP. The configuration is shared by
//! every shard; a change bumps its epoch so shards and connections pick
//! it up (see `Shared::update_config`).

use super::help::reply_help;
use super::spec::{Acl, Behavior, CommandSpec, Flags, Handler};
use super::util::SYNTAX;
use crate::config::keys as conf;
use crate::server::conn::Conn;
use crate::server::mesh;
use futures::future::LocalBoxFuture;
use std::sync::atomic::Ordering;

const ADMIN_FLAGS: Flags = Flags::ADMIN
    .with(Flags::NOSCRIPT)
    .with(Flags::LOADING)
    .with(Flags::STALE);
const ADMIN_ACL: Acl = Acl::ADMIN.with_bits(Acl::SLOW).with_bits(Acl::DANGEROUS);

pub static CONFIG: CommandSpec = CommandSpec {
    name: "config",
    arity: -2,
    acl: Acl::SLOW,
    group: "server",
    since: "2.0.0",
    summary: "A container for server configuration commands",
    complexity: "Depends on subcommand.",
    subcommands: SUBCOMMANDS,
    ..CommandSpec::DEFAULT
};

static SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "config|get",
        behavior: Behavior::NO_SHARD,
        arity: -3,
        flags: ADMIN_FLAGS,
        acl: ADMIN_ACL,
        handler: Handler::Conn(get),
        group: "server",
        since: "2.0.0",
        summary: "Get the values of configuration parameters",
        complexity: "O(N) when N is the number of configuration parameters provided",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "config|help",
        behavior: Behavior::NO_SHARD,
        arity: 2,
        flags: Flags::LOADING.with(Flags::STALE),
        acl: Acl::SLOW,
        handler: Handler::Conn(help),
        group: "server",
        since: "5.0.0",
        summary: "Show helpful text about the different subcommands",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "config|resetstat",
        arity: 2,
        flags: ADMIN_FLAGS,
        acl: ADMIN_ACL,
        handler: Handler::Conn(resetstat),
        group: "server",
        since: "2.0.0",
        summary: "Reset the stats returned by INFO",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "config|rewrite",
        arity: 2,
        flags: ADMIN_FLAGS,
        acl: ADMIN_ACL,
        handler: Handler::Conn(rewrite),
        group: "server",
        since: "2.8.0",
        summary: "Rewrite the configuration file with the in memory configuration",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "config|set",
        arity: -4,
        flags: ADMIN_FLAGS,
        acl: ADMIN_ACL,
        handler: Handler::Conn(set),
        tips: &["request_policy:all_nodes", "response_policy:all_succeeded"],
        group: "server",
        since: "2.0.0",
        summary: "Set configuration parameters to the given values",
        complexity: "O(N) when N is the number of configuration parameters provided",
        redact: Some(super::redact::config_set),
        ..CommandSpec::DEFAULT
    },
];

const HELP: &[&str] = &[
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
];

fn help(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move { reply_help(&mut conn.out, "CONFIG", HELP) })
}

/// CONFIG GET parameter [parameter ...]: a map, in RESP3 too.
fn get(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let found = conn.rt.shared.read_config(|c| c.config_get(&args[2..]));
        conn.out.map(found.len());
        for (k, v) in found {
            conn.out.bulk_str(&k);
            conn.out.bulk_str(&v);
        }
    })
}

/// Whether CONFIG SET `name` waits for the end of a load (a protected
/// directive the client may not set is refused as such, as in Redis).
fn deny_loading(name: &[u8], allow_protected: bool) -> bool {
    crate::config::lookup(&String::from_utf8_lossy(name)).is_some_and(|(d, _)| {
        crate::config::DENY_LOADING.contains(&d.name)
            && (allow_protected || !crate::config::PROTECTED.contains(&d.name))
    })
}

/// CONFIG SET parameter value [parameter value ...]: all or nothing.
fn set(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        if !args.len().is_multiple_of(2) {
            return conn.out.error(SYNTAX);
        }
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = args[2..]
            .chunks(2)
            .map(|p| (p[0].clone(), p[1].clone()))
            .collect();
        let allow_protected =
            crate::server::protected::allowed(conn, conf::ENABLE_PROTECTED_CONFIGS);
        if conn.rt.shared.repl.replica.loading.flags().0
            && pairs.iter().any(|(n, _)| deny_loading(n, allow_protected))
        {
            return conn.out.error(crate::repl::replica::LOADING_ERR);
        }
        // `dir` is the working directory, changed first as Redis's
        // setConfigDirOption does; changed back if the whole set fails.
        let old_cwd = std::env::current_dir().ok();
        let dir = pairs.iter().find(|(n, _)| n.eq_ignore_ascii_case(b"dir"));
        if let (Some((_, d)), true) = (dir, allow_protected) {
            if let Err(e) = std::env::set_current_dir(String::from_utf8_lossy(d).as_ref()) {
                return conn.out.error(&format!(
                    "ERR CONFIG SET failed (possibly related to argument 'dir') - {}",
                    super::util::strerror(&e)
                ));
            }
        }
        let result = conn.rt.shared.update_config(|c| {
            let backup = c.values().clone();
            let changed = c.config_set(&pairs, allow_protected)?;
            Ok::<_, String>((changed, c.text(conf::LOGLEVEL), backup, c.int(conf::PORT)))
        });
        // Applying a new OOM score or port can fail (the kernel refuses,
        // the port is in use): then every value goes back, as Redis's
        // restoreBackupConfig, and the score follows them back.
        let result = match result {
            Ok((changed, loglevel, backup, port)) => {
                match apply(conn, &changed, port, &backup).await {
                    Ok(()) => Ok((changed, loglevel)),
                    Err(e) => {
                        conn.rt.shared.update_config(|c| c.restore_values(backup));
                        let _ = apply_oom_score_adj(&conn.rt.shared, &changed);
                        Err(e)
                    }
                }
            }
            Err(e) => Err(e),
        };
        match result {
            Ok((changed, loglevel)) => {
                if changed.contains(&"loglevel") {
                    crate::sys::log::set_level(&loglevel);
                }
                if changed.contains(&"bind-source-addr") {
                    let addr = conn
                        .rt
                        .shared
                        .read_config(|c| c.text(conf::BIND_SOURCE_ADDR));
                    crate::sys::connect::set_source(&addr);
                }
                if ["proc-title-template", "port", "bind"]
                    .iter()
                    .any(|d| changed.contains(d))
                {
                    conn.rt.shared.read_config(crate::config::proc_title::apply);
                }
                if let Some(cluster) = &conn.rt.shared.cluster {
                    if changed.iter().any(|d| d.starts_with("cluster-")) {
                        // A copy: the cluster's lock is never taken under
                        // the config's (a promotion writes the config
                        // under the cluster's lock).
                        let config = conn.rt.shared.config.read().unwrap().clone();
                        cluster.reload_settings(&config);
                    }
                }
                if let Err(e) = crate::persist::aof::apply_config(&conn.rt, &changed) {
                    crate::warning!("{e}");
                    return conn.out.error(&format!("ERR {e}"));
                }
                if changed.contains(&"requirepass") {
                    let pass = conn.rt.shared.read_config(|c| c.text(conf::REQUIREPASS));
                    let pass = Some(pass.as_bytes()).filter(|p| !p.is_empty());
                    conn.rt.shared.acl.set_requirepass(pass);
                }
                // This connection sees the change at once.
                conn.settings = conn.rt.settings();
                if changed
                    .iter()
                    .any(|d| *d == "maxmemory-clients" || *d == "maxmemory")
                {
                    crate::server::client_mem::reapply(&conn.rt).await;
                }
                conn.out.ok();
            }
            Err(e) => {
                if let (Some(_), Some(old)) = (dir, old_cwd) {
                    let _ = std::env::set_current_dir(old);
                }
                conn.out.error(&e)
            }
        }
    })
}

/// What CONFIG SET's new values change outside the configuration that
/// can fail: the OOM score, then the listeners (`old`: the values before
/// this CONFIG SET). Err is the reply.
async fn apply(
    conn: &Conn,
    changed: &[&'static str],
    port: i64,
    old: &std::collections::BTreeMap<&'static str, String>,
) -> Result<(), String> {
    if let Err(name) = apply_oom_score_adj(&conn.rt.shared, changed) {
        crate::warning!("Failed applying new configuration. Possibly related to new {name} setting. Restoring previous settings.");
        return Err(format!(
            "ERR CONFIG SET failed (possibly related to argument '{name}') - {}",
            crate::sys::oom::FAILED
        ));
    }
    if changed.contains(&"port") {
        // The new port's listeners are on the new bind addresses already.
        if let Err(reason) = crate::server::relisten::change_port(&conn.rt, port as u16).await {
            crate::warning!("Failed applying new configuration. Possibly related to new port setting. Restoring previous settings.");
            return Err(format!(
                "ERR CONFIG SET failed (possibly related to argument 'port') - {reason}"
            ));
        }
    } else if changed.contains(&"bind") {
        let old_bind = old.get("bind").map(String::as_str).unwrap_or_default();
        if let Err(reason) = crate::server::relisten::change_bind(&conn.rt, old_bind).await {
            crate::warning!("Failed applying new configuration. Possibly related to new bind setting. Restoring previous settings.");
            return Err(format!(
                "ERR CONFIG SET failed (possibly related to argument 'bind') - {reason}"
            ));
        }
    }
    Ok(())
}

/// Writes the process's OOM score again when CONFIG SET changed one of
/// its directives; Err names the first of them (Redis names the config
/// whose apply function failed).
fn apply_oom_score_adj(
    shared: &crate::server::shared::Shared,
    changed: &[&'static str],
) -> Result<(), &'static str> {
    let Some(name) = changed
        .iter()
        .find(|d| **d == "oom-score-adj" || **d == "oom-score-adj-values")
    else {
        return Ok(());
    };
    crate::repl::oom::apply(shared).map_err(|_| *name)
}

/// CONFIG RESETSTAT: zeroes every shard's counters and the process-wide
/// ones, as Redis's `resetServerStats` + command and error tables.
fn resetstat(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        mesh::run_on_all(&conn.rt, |rt| {
            let mut core = rt.core.borrow_mut();
            core.stats = Default::default();
            for db in core.store.dbs.iter_mut() {
                db.expired_keys = 0;
            }
        })
        .await;
        let shared = &conn.rt.shared;
        shared.total_connections.store(0, Ordering::Relaxed);
        shared.rejected_connections.store(0, Ordering::Relaxed);
        shared.client_memory.evicted.store(0, Ordering::Relaxed);
        crate::persist::bgsave::status::SNAPSHOTS_STARTED.store(0, Ordering::Relaxed);
        crate::persist::snapshot::RDB_SAVES.store(0, Ordering::Relaxed);
        shared.aof.rewrites.store(0, Ordering::Relaxed);
        shared.repl.primary.reset_stats();
        crate::store::lazyfree::reset_stats();
        crate::server::master_errors::UNEXPECTED_ERROR_REPLIES.store(0, Ordering::Relaxed);
        conn.out.ok();
    })
}

/// CONFIG REWRITE
fn rewrite(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let users = crate::server::acl::file::config_lines(&conn.rt.shared);
        match conn.rt.shared.read_config(|c| c.rewrite(false, &users)) {
            Ok(()) => {
                crate::notice!("CONFIG REWRITE executed with success.");
                conn.out.ok();
            }
            Err(e) => {
                crate::warning!("CONFIG REWRITE failed: {e}");
                conn.out.error(&format!("ERR {e}"));
            }
        }
    })
}
