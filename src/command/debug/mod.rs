//! DEBUG: the subcommands Redis 7.0's own test suite calls, with its
//! replies. Gated by `enable-debug-command` (command/protected.rs).
//!
//! Per-key introspection is in key.rs, DIGEST in digest.rs, RELOAD in
//! reload.rs, LOADAOF in loadaof.rs; the rest (switches the tests flip, canned replies) is here.

mod clusterlink;
mod digest;
mod key;
mod loadaof;
mod reload;

use super::spec::{Behavior, CommandSpec, Flags, Handler};
use crate::server::conn::Conn;
use crate::server::mesh;
use crate::sys::clock::unix_ms;
use futures::future::LocalBoxFuture;
use std::sync::atomic::{AtomicI64, Ordering};

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "debug",
    behavior: Behavior::DEBUG_PROTECTED,
    arity: -2,
    flags: Flags::ADMIN
        .with(Flags::NOSCRIPT)
        .with(Flags::LOADING)
        .with(Flags::STALE),
    handler: Handler::Conn(debug),
    group: "server",
    since: "1.0.0",
    summary: "A container for debugging commands",
    complexity: "Depends on subcommand.",
    ..CommandSpec::DEFAULT
}];

/// Values DEBUG sets that nothing in Shardis reads (they tune Redis
/// internals Shardis does not have); kept so a later read is possible.
static DROP_CLUSTER_PACKET_FILTER: AtomicI64 = AtomicI64::new(-1);
static QUICKLIST_PACKED_THRESHOLD: AtomicI64 = AtomicI64::new(1 << 30);

/// Redis's addReplySubcommandSyntaxError.
fn syntax_error(conn: &mut Conn, sub: &[u8]) {
    let sub = String::from_utf8_lossy(&sub[..sub.len().min(128)]).into_owned();
    conn.out.error(&format!(
        "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try DEBUG HELP."
    ));
}

/// C's atoi: leading digits (after an optional sign), else 0.
fn atoi(a: &[u8]) -> i64 {
    let s = String::from_utf8_lossy(a);
    let s = s.trim_start();
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let n: i64 = digits.parse().unwrap_or(0);
    if neg {
        -n
    } else {
        n
    }
}

fn debug(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
        let argc = args.len();
        match (sub.as_str(), argc) {
            ("help", 2) => super::help::reply_help(&mut conn.out, "DEBUG", HELP),
            ("segfault", _) => crate::sys::crash::segfault(),
            ("oom", _) => {
                crate::warning!("DEBUG OOM called: crashing on purpose");
                std::process::abort();
            }
            // Redis's serverPanic / serverAssert: a panic, so
            // `use-exit-on-panic` applies.
            ("panic" | "assert", _) => panic!("DEBUG {} called", sub.to_uppercase()),
            ("restart" | "crash-and-recover", _) => conn
                .out
                .error("ERR failed to restart the server. Check server logs."),
            ("log", 3) => {
                crate::warning!("DEBUG LOG: {}", String::from_utf8_lossy(&args[2]));
                conn.out.ok();
            }
            ("leak", 3) => conn.out.ok(),
            // During the start-up load the shards' keyspaces are not
            // whole yet: a save, load or digest of them waits for it.
            ("reload" | "loadaof" | "populate" | "digest" | "digest-value", _)
                if conn.rt.shared.repl.replica.loading.flags().0 =>
            {
                conn.out.error(crate::repl::replica::LOADING_ERR)
            }
            ("reload", _) => reload::reload(conn, &args[2..]).await,
            ("loadaof", _) => loadaof::loadaof(conn).await,
            ("drop-cluster-packet-filter", 3) => match super::util::arg_i64(&args[2]) {
                Some(n) => {
                    DROP_CLUSTER_PACKET_FILTER.store(n, Ordering::Relaxed);
                    conn.out.ok();
                }
                None => conn
                    .out
                    .error("ERR value is not an integer or out of range"),
            },
            ("object" | "sdslen" | "listpack" | "htstats-key", 3) | ("quicklist", 3 | 4) => {
                key::introspect(conn, &sub, &args[2]).await
            }
            ("clusterlink", 5) if args[2].eq_ignore_ascii_case(b"kill") => {
                clusterlink::kill(conn, &args[3], &args[4]).await
            }
            ("populate", 3..=5) => key::populate(conn, &args[2..]).await,
            ("digest", 2) => {
                let now = unix_ms();
                let parts = mesh::run_on_all(&conn.rt, move |rt| {
                    let core = rt.core.borrow();
                    core.store
                        .dbs
                        .iter()
                        .map(|db| digest::db_part(db, now))
                        .collect::<Vec<_>>()
                })
                .await;
                conn.out.simple(&digest::hex(&digest::dataset(&parts)));
            }
            ("digest-value", _) => key::digest_values(conn, &args[2..]).await,
            ("protocol", 3) => protocol(conn, &args[2]),
            ("sleep", 3) => {
                let secs: f64 = String::from_utf8_lossy(&args[2]).trim().parse().unwrap_or(0.0);
                // The whole server stops, as Redis's single thread does:
                // every shard is held while this one sleeps.
                let shards: Vec<usize> = (0..conn.rt.nshards).collect();
                let held = mesh::hold(&conn.rt, &shards).await;
                if secs > 0.0 && secs.is_finite() {
                    std::thread::sleep(std::time::Duration::from_secs_f64(secs));
                }
                drop(held);
                conn.out.ok();
            }
            ("set-active-expire", 3) => {
                crate::server::shard::ACTIVE_EXPIRE.store(atoi(&args[2]) != 0, Ordering::Relaxed);
                conn.out.ok();
            }
            ("quicklist-packed-threshold", 3) => {
                let v = crate::config::parse_memory(&String::from_utf8_lossy(&args[2]));
                match v {
                    Some(n) if n <= (1i64 << 32) - (1 << 20) => {
                        let n = if n == 0 { 1 << 30 } else { n };
                        QUICKLIST_PACKED_THRESHOLD.store(n, Ordering::Relaxed);
                        conn.out.ok();
                    }
                    _ => conn.out.error(
                        "ERR argument must be a memory value bigger than 1 and smaller than 4gb",
                    ),
                }
            }
            ("set-skip-checksum-validation", 3) => {
                let on = atoi(&args[2]) != 0;
                crate::persist::rdb::payload::SKIP_CHECKSUM.store(on, Ordering::Relaxed);
                conn.out.ok()
            }
            ("aof-flush-sleep", 3) => {
                let us = u64::try_from(atoi(&args[2])).unwrap_or(0);
                crate::persist::aof::FLUSH_SLEEP_US.store(us, Ordering::Relaxed);
                conn.out.ok()
            }
            ("set-disable-deny-scripts", 3) => {
                let on = atoi(&args[2]) != 0;
                crate::server::script::ALLOW_NOSCRIPT.store(on, Ordering::Relaxed);
                conn.out.ok()
            }
            ("pause-cron", 3) => {
                // atoi, as Redis: anything but a non-zero number is 0.
                let n = String::from_utf8_lossy(&args[2]).trim().parse::<i64>();
                let on = n.is_ok_and(|n| n != 0);
                crate::server::shutdown::CRON_PAUSED.store(on, Ordering::Relaxed);
                conn.out.ok();
            }
            // The command goes to the replicas as if it ran here (it does
            // not run, nor reach the AOF): the suite makes a replica's
            // data diverge with it.
            ("replicate", 3..) => {
                let log = &conn.rt.shared.aof.log;
                if log.repl_on() {
                    let mut bytes = Vec::new();
                    crate::persist::aof::record::encode_command(&mut bytes, &args[2..]);
                    log.feed_repl_only(&bytes);
                }
                conn.out.ok();
            }
            ("error", 3) => {
                // Sent as given: no ERR prefix (newlines become spaces).
                conn.out.error_bytes(&args[2]);
            }
            ("structsize", 2) => conn.out.bulk_str(
                "bits:64 robj:16 dictentry:24 sdshdr5:1 sdshdr8:3 sdshdr16:5 sdshdr32:9 sdshdr64:17 ",
            ),
            ("htstats", 3) => key::htstats(conn, &args[2]).await,
            ("change-repl-id", 2) => {
                crate::warning!("Changing replication IDs after receiving DEBUG change-repl-id");
                let mut id = conn.rt.shared.repl.identity.lock().unwrap();
                id.replid = crate::sys::random::random_hex(40);
                id.replid2 = crate::repl::NO_REPLID.to_string();
                id.second_offset = -1;
                drop(id);
                conn.out.ok();
            }
            ("stringmatch-test", 2) => {
                stringmatch_fuzz();
                conn.out.simple("Apparently Redis did not crash: test passed");
            }
            // Shardis-only (not in DEBUG HELP, which matches Redis's):
            // the allocations the connection's shard thread has made, and
            // that shard's number (docs/architecture.md, section 18).
            ("alloc-count", 2) => {
                let n = crate::alloc::thread_allocations();
                conn.out.int(i64::try_from(n).unwrap_or(i64::MAX));
            }
            ("config-rewrite-force-all", 2) => {
                let users = crate::server::acl::file::config_lines(&conn.rt.shared);
                match conn.rt.shared.read_config(|c| c.rewrite(true, &users)) {
                    Ok(()) => conn.out.ok(),
                    Err(e) => conn
                        .out
                        .error(&format!("ERR CONFIG-REWRITE-FORCE-ALL failed: {e}")),
                }
            }
            ("shard", 2) => conn.out.int(conn.rt.id as i64),
            ("client-eviction", 2) => conn.out.error("ERR maxmemory-clients is disabled."),
            ("replybuffer", 4) => {
                use crate::server::client_mem;
                let what = String::from_utf8_lossy(&args[2]).to_ascii_lowercase();
                let v = &args[3];
                match what.as_str() {
                    "peak-reset-time" => {
                        if v.eq_ignore_ascii_case(b"never") {
                            client_mem::set_peak_reset_time(None);
                        } else if v.eq_ignore_ascii_case(b"reset") {
                            client_mem::set_peak_reset_time(Some(client_mem::DEFAULT_PEAK_RESET_MS));
                        } else {
                            let Some(ms) = super::util::arg_i64(v) else {
                                return conn
                                    .out
                                    .error("ERR value is not an integer or out of range");
                            };
                            // Redis: a negative time never resets.
                            client_mem::set_peak_reset_time(u64::try_from(ms).ok());
                        }
                    }
                    // atoi, as Redis: what is not a non-zero number is 0.
                    "resizing" => client_mem::set_resizing(atoi(v) != 0),
                    _ => return syntax_error(conn, &args[1]),
                }
                conn.out.ok();
            }
            _ => syntax_error(conn, &args[1]),
        }
    })
}

/// DEBUG PROTOCOL <type>: a sample reply of each RESP type.
fn protocol(conn: &mut Conn, name: &[u8]) {
    let name = String::from_utf8_lossy(name).to_ascii_lowercase();
    let out = &mut conn.out;
    match name.as_str() {
        "string" => out.bulk_str("Hello World"),
        "integer" => out.int(12345),
        // Redis's sample value, not an approximation of pi.
        #[allow(clippy::approx_constant)]
        "double" => out.double(3.141),
        "bignum" => {
            if out.resp3 {
                out.raw(b"(1234567999999999999999999999999999999\r\n");
            } else {
                out.bulk_str("1234567999999999999999999999999999999");
            }
        }
        "null" => out.null(),
        "array" | "set" => {
            if name == "set" {
                out.set(3);
            } else {
                out.array(3);
            }
            for j in 0..3 {
                out.int(j);
            }
        }
        "map" => {
            out.map(3);
            for j in 0..3 {
                out.int(j);
                out.boolean(j == 1);
            }
        }
        "attrib" => {
            if out.resp3 {
                out.raw(b"|1\r\n");
                out.bulk_str("key-popularity");
                out.array(2);
                out.bulk_str("key:123");
                out.int(90);
            }
            out.bulk_str("Some real reply following the attribute");
        }
        "push" => {
            if !out.resp3 {
                return out.error("ERR RESP2 is not supported by this command");
            }
            out.push(2);
            out.bulk_str("server-cpu-usage");
            out.int(42);
            out.bulk_str("Some real reply following the push reply");
        }
        "true" => out.boolean(true),
        "false" => out.boolean(false),
        "verbatim" => out.verbatim(b"This is a verbatim\nstring"),
        _ => out.error("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false"),
    }
}

/// DEBUG STRINGMATCH-TEST: random patterns and strings through the glob
/// matcher; passing means it neither panicked nor looped.
fn stringmatch_fuzz() {
    for _ in 0..100_000 {
        let gen = |max: u64| -> Vec<u8> {
            let n = super::shard_random() % max;
            (0..n)
                .map(|_| (super::shard_random() % 256) as u8)
                .collect()
        };
        let pat = gen(32);
        let s = gen(32);
        let _ = crate::glob::matches(&pat, &s, false);
    }
}

const HELP: &[&str] = &[
    "AOF-FLUSH-SLEEP <microsec>",
    "    Server will sleep before flushing the AOF, this is used for testing.",
    "ASSERT",
    "    Crash by assertion failed.",
    "CHANGE-REPL-ID",
    "    Change the replication IDs of the instance.",
    "    Dangerous: should be used only for testing the replication subsystem.",
    "CONFIG-REWRITE-FORCE-ALL",
    "    Like CONFIG REWRITE but writes all configuration options, including",
    "    keywords not listed in original configuration file or default values.",
    "CRASH-AND-RECOVER [<milliseconds>]",
    "    Hard crash and restart after a <milliseconds> delay (default 0).",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "LEAK <string>",
    "    Create a memory leak of the input string.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "HTSTATS <dbid>",
    "    Return hash table statistics of the specified Redis database.",
    "HTSTATS-KEY <key>",
    "    Like HTSTATS but for the hash table stored at <key>'s value.",
    "LOADAOF",
    "    Flush the AOF buffers on disk and reload the AOF in memory.",
    "REPLICATE <string>",
    "    Replicates the provided string to replicas, allowing data divergence.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "DROP-CLUSTER-PACKET-FILTER <packet-type>",
    "    Drop all packets that match the filtered type. Set to -1 allow all packets.",
    "OOM",
    "    Crash the server simulating an out-of-memory error.",
    "PANIC",
    "    Crash the server simulating a panic.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: conflicting keys will be loaded from RDB.",
    "    * NOFLUSH: the existing database will not be removed before load, but",
    "      conflicting keys will generate an exception and kill the server.",
    "    * NOSAVE: the database will be loaded from an existing RDB file.",
    "    Examples:",
    "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
    "      the database.",
    "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
    "      existing RDB file.",
    "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
    "      file to the database.",
    "RESTART [<milliseconds>]",
    "    Graceful restart: save config, db, restart after a <milliseconds> delay (default 0).",
    "SDSLEN <key>",
    "    Show low level SDS string info representing `key` and value.",
    "SEGFAULT",
    "    Crash the server with sigsegv.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Sets the threshold for elements to be inserted as plain vs packed nodes",
    "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
    "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
    "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "STRINGMATCH-TEST",
    "    Run a fuzz tester against the stringmatchlen() function.",
    "STRUCTSIZE",
    "    Return the size of different Redis core C structures.",
    "LISTPACK <key>",
    "    Show low level info about the listpack encoding of <key>.",
    "QUICKLIST <key> [<0|1>]",
    "    Show low level info about the quicklist encoding of <key>.",
    "    The optional argument (0 by default) sets the level of detail",
    "CLIENT-EVICTION",
    "    Show low level client eviction pools info (maxmemory-clients).",
    "PAUSE-CRON <0|1>",
    "    Stop periodic cron job processing.",
    "REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
    "    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
    "    In case NEVER is provided the last observed peak will never be reset",
    "    In case RESET is provided the peak reset time will be restored to the default value",
    "REPLYBUFFER RESIZING <0|1>",
    "    Enable or disable the reply buffer resize cron job",
    "CLUSTERLINK KILL <to|from|all> <node-id>",
    "    Kills the link based on the direction to/from (both) with the provided node.",
];
