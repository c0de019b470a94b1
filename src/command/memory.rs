//! MEMORY USAGE | STATS | DOCTOR | MALLOC-STATS | PURGE | HELP, with
//! Redis 7.0's reply shapes and Shardis's own figures: the counting
//! allocator (alloc/) for totals, the keyspace's tables and values'
//! `heap_size` for overheads and per-key usage.

use super::spec::{Acl, CommandSpec, Flags, Handler, KeyFlags, KeySpec};
use crate::server::conn::Conn;
use crate::server::mesh;
use crate::slot::key_slot;
use crate::store::slot_map::SlotMap;
use crate::store::{Entry, SmallBytes};
use futures::future::LocalBoxFuture;
use std::sync::atomic::Ordering;

const fn sub(
    name: &'static str,
    arity: i32,
    h: super::spec::ConnFn,
    tips: &'static [&'static str],
    summary: &'static str,
    complexity: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        handler: Handler::Conn(h),
        tips,
        group: "server",
        since: "4.0.0",
        summary,
        complexity,
        ..CommandSpec::DEFAULT
    }
}

const ALL_SPECIAL: &[&str] = &[
    "nondeterministic_output",
    "request_policy:all_shards",
    "response_policy:special",
];

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "memory",
    arity: -2,
    group: "server",
    since: "4.0.0",
    summary: "A container for memory diagnostics commands",
    complexity: "Depends on subcommand.",
    subcommands: &[
        CommandSpec {
            flags: Flags::LOADING.with(Flags::STALE),
            ..sub(
                "memory|help",
                2,
                help,
                &[],
                "Show helpful text about the different subcommands",
                "O(1)",
            )
        },
        sub(
            "memory|stats",
            2,
            stats,
            ALL_SPECIAL,
            "Show memory usage details",
            "O(1)",
        ),
        sub(
            "memory|purge",
            2,
            purge,
            &["request_policy:all_shards", "response_policy:all_succeeded"],
            "Ask the allocator to release memory",
            "Depends on how much memory is allocated, could be slow",
        ),
        sub(
            "memory|doctor",
            2,
            doctor,
            ALL_SPECIAL,
            "Outputs memory problems report",
            "O(1)",
        ),
        CommandSpec {
            flags: Flags::READONLY,
            acl: Acl::NONE,
            keys: &[KeySpec::single(2, KeyFlags::RO)],
            ..sub(
                "memory|usage",
                -3,
                usage,
                &[],
                "Estimate the memory usage of a key",
                "O(N) where N is the number of samples.",
            )
        },
        sub(
            "memory|malloc-stats",
            2,
            malloc_stats,
            ALL_SPECIAL,
            "Show allocator internal stats",
            "Depends on how much memory is allocated, could be slow",
        ),
    ],
    ..CommandSpec::DEFAULT
}];

/// Bytes a keyspace bucket costs beside the key's and value's own heap.
const KEY_SLOT_BYTES: usize = SlotMap::<Entry>::bucket_bytes();
/// Bytes an expires bucket costs.
const EXPIRE_SLOT_BYTES: usize = SlotMap::<u64>::bucket_bytes();

/// One database's table overhead on this shard (Redis's
/// `overhead.hashtable.main` / `.expires`): the buckets its tables hold.
pub(super) fn table_bytes(db: &crate::store::Db) -> (usize, usize) {
    db.tables().iter().fold((0, 0), |(main, expires), t| {
        (
            main + t.keys.capacity() * KEY_SLOT_BYTES,
            expires + t.expires.capacity() * EXPIRE_SLOT_BYTES,
        )
    })
}

/// This shard's clients' memory but replicas' (CLIENT LIST `tot-mem`):
/// its part of `mem_clients_normal` (normal, Pub/Sub and master clients,
/// as Redis's).
pub(super) fn clients_normal_here(rt: &crate::server::shard::ShardRt) -> u64 {
    let clients = rt.clients.borrow();
    let normal = clients
        .iter()
        .filter(|c| c.repl_role.get() != Some("replica"));
    normal
        .map(|c| crate::server::client_mem::usage(c) as u64)
        .sum()
}

/// What `used_memory` holds besides the dataset, as Redis's
/// getMemoryOverheadData sums it (the parts Shardis has): INFO
/// `used_memory_overhead` and MEMORY STATS `overhead.total`.
pub(super) struct Overhead {
    /// INFO `mem_not_counted_for_evict` (evict.rs), read with the two
    /// below.
    pub not_counted_for_evict: u64,
    pub startup: u64,
    pub backlog: u64,
    pub replicas: u64,
    pub clients_normal: u64,
    pub cluster_links: u64,
    /// Every database's tables, all shards.
    pub tables: u64,
}

impl Overhead {
    /// `clients_normal`: the clients' memory but replicas' (info.rs
    /// gathers it).
    pub fn read(
        shared: &crate::server::shared::Shared,
        tables: u64,
        clients_normal: u64,
    ) -> Overhead {
        let outside = crate::server::evict::not_counted(shared);
        Overhead {
            not_counted_for_evict: outside.total,
            startup: crate::alloc::startup_bytes(),
            backlog: outside.backlog,
            replicas: outside.replicas,
            clients_normal,
            cluster_links: shared
                .cluster
                .as_ref()
                .map_or(0, |c| c.links.queued_bytes()) as u64,
            tables,
        }
    }

    pub fn total(&self) -> u64 {
        self.startup
            + self.backlog
            + self.replicas
            + self.clients_normal
            + self.cluster_links
            + self.tables
    }

    /// (dataset bytes, its share in % of what was allocated since
    /// start-up), Redis's `used_memory_dataset` and `_perc`.
    pub fn dataset(&self, used: u64) -> (u64, f64) {
        let dataset = used.saturating_sub(self.total());
        let net = used.saturating_sub(self.startup).max(1);
        (dataset, dataset as f64 * 100.0 / net as f64)
    }
}

/// MEMORY USAGE key [SAMPLES count]: the key's, the value's and its
/// table slot's bytes. Shardis knows each value's size exactly, so the
/// sample count is checked but not needed.
fn usage(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let mut j = 3;
        while j < args.len() {
            if !args[j].eq_ignore_ascii_case(b"samples") || j + 1 >= args.len() {
                return conn.out.error(super::util::SYNTAX);
            }
            match super::util::arg_i64(&args[j + 1]) {
                None => {
                    return conn
                        .out
                        .error("ERR value is not an integer or out of range")
                }
                Some(n) if n < 0 => return conn.out.error(super::util::SYNTAX),
                Some(_) => {}
            }
            j += 2;
        }
        let db = conn.db;
        let key = args[2].clone();
        let shard = conn.rt.shard_of_slot(key_slot(&key));
        let size = mesh::run_on(&conn.rt, shard, move |rt| {
            let core = rt.core.borrow();
            // Found even if logically expired, as Redis's dictFind.
            core.store.dbs[db]
                .peek(&key, 0)
                .map(|e| SmallBytes::new(&key).heap_size() + KEY_SLOT_BYTES + e.value.heap_size())
        })
        .await;
        match size {
            Some(n) => conn.out.int(n as i64),
            None => conn.out.null(),
        }
    })
}

/// One database's figures on one shard.
#[derive(Default, Clone, Copy)]
struct DbFigures {
    keys: usize,
    main: usize,
    expires: usize,
}

/// MEMORY STATS: Redis 7.0's fields, in its order.
fn stats(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let per_shard = mesh::run_on_all(&conn.rt, |rt| {
            let core = rt.core.borrow();
            let dbs = core.store.dbs.iter().map(|db| {
                let (main, expires) = table_bytes(db);
                DbFigures {
                    keys: db.len(),
                    main,
                    expires,
                }
            });
            (dbs.collect::<Vec<_>>(), clients_normal_here(rt))
        })
        .await;
        let clients_normal = per_shard.iter().map(|(_, c)| c).sum();
        let ndbs = per_shard.iter().map(|(s, _)| s.len()).max().unwrap_or(0);
        let mut dbs = vec![DbFigures::default(); ndbs];
        for (shard, _) in &per_shard {
            for (sum, f) in dbs.iter_mut().zip(shard) {
                sum.keys += f.keys;
                sum.main += f.main;
                sum.expires += f.expires;
            }
        }
        let used = crate::alloc::used_bytes();
        let peak = super::info::PEAK
            .fetch_max(used, Ordering::Relaxed)
            .max(used);
        let alloc = super::info::AllocatorFigures::read(used);
        let tables = dbs.iter().map(|d| (d.main + d.expires) as u64).sum();
        let overhead = Overhead::read(&conn.rt.shared, tables, clients_normal);
        let keys: u64 = dbs.iter().map(|d| d.keys as u64).sum();
        let (dataset, dataset_perc) = overhead.dataset(used);
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let with_keys: Vec<(usize, &DbFigures)> =
            dbs.iter().enumerate().filter(|(_, d)| d.keys > 0).collect();
        let out = &mut conn.out;
        out.map(27 + with_keys.len());
        let int = |out: &mut crate::resp::Out, name: &str, v: u64| {
            out.bulk_str(name);
            out.int(v as i64);
        };
        int(out, "peak.allocated", peak);
        int(out, "total.allocated", used);
        int(out, "startup.allocated", overhead.startup);
        int(out, "replication.backlog", overhead.backlog);
        int(out, "clients.slaves", overhead.replicas);
        int(out, "clients.normal", overhead.clients_normal);
        int(out, "cluster.links", overhead.cluster_links);
        int(out, "aof.buffer", 0);
        int(out, "lua.caches", 0);
        int(out, "functions.caches", 0);
        for (i, d) in with_keys {
            out.bulk_str(&format!("db.{i}"));
            out.map(3);
            int(out, "overhead.hashtable.main", d.main as u64);
            int(out, "overhead.hashtable.expires", d.expires as u64);
            int(out, "overhead.hashtable.slot-to-keys", 0);
        }
        int(out, "overhead.total", overhead.total());
        int(out, "keys.count", keys);
        // Redis divides what was allocated since start-up.
        let net = used.saturating_sub(overhead.startup);
        int(
            out,
            "keys.bytes-per-key",
            net.checked_div(keys).unwrap_or(0),
        );
        int(out, "dataset.bytes", dataset);
        let dbl = |out: &mut crate::resp::Out, name: &str, v: f64| {
            out.bulk_str(name);
            out.double(v);
        };
        dbl(out, "dataset.percentage", dataset_perc);
        dbl(out, "peak.percentage", ratio(used, peak) * 100.0);
        int(out, "allocator.allocated", alloc.allocated);
        int(out, "allocator.active", alloc.active);
        int(out, "allocator.resident", alloc.resident);
        let figures = [
            (
                "allocator-fragmentation.ratio",
                "allocator-fragmentation.bytes",
                alloc.allocator_frag(),
            ),
            (
                "allocator-rss.ratio",
                "allocator-rss.bytes",
                alloc.allocator_rss(),
            ),
            (
                "rss-overhead.ratio",
                "rss-overhead.bytes",
                alloc.rss_overhead(),
            ),
            ("fragmentation", "fragmentation.bytes", alloc.total_frag()),
        ];
        for (ratio_name, bytes_name, (r, bytes)) in figures {
            dbl(out, ratio_name, r);
            out.bulk_str(bytes_name);
            out.int(bytes);
        }
    })
}

/// MEMORY DOCTOR: Redis's two verdicts that need no allocator internals.
fn doctor(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let report = if crate::alloc::used_bytes() < 5 * 1024 * 1024 {
            "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n"
        } else {
            "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n"
        };
        conn.out.verbatim(report.as_bytes());
    })
}

/// MEMORY MALLOC-STATS: what Redis built with libc malloc answers.
fn malloc_stats(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        conn.out
            .bulk_str("Stats not supported for the current allocator")
    })
}

/// MEMORY PURGE: glibc's malloc_trim returns free pages to the system.
fn purge(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        // SAFETY: malloc_trim only releases free memory of the allocator.
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        unsafe {
            libc::malloc_trim(0);
        }
        conn.out.ok();
    })
}

const HELP: &[&str] = &[
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
];

fn help(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move { super::help::reply_help(&mut conn.out, "MEMORY", HELP) })
}
