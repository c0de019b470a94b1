//! INFO [section ...]: Redis 7.0's sections and field names, CRLF line
//! ends. Per-shard counters are summed over every shard; process figures
//! come from /proc and getrusage. Figures Shardis does not have yet
//! (persistence, replication, eviction, pub/sub, latency histograms) are
//! reported as a server doing none of that would.

use super::spec::{Acl, CommandSpec, Flags, Handler};
use crate::server::conn::Conn;
use crate::server::mesh;
use crate::server::shard::CmdStat;
use futures::future::LocalBoxFuture;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicU64;

mod sections;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "info",
    arity: -1,
    flags: Flags::LOADING.with(Flags::STALE),
    acl: Acl::SLOW.with_bits(Acl::DANGEROUS),
    handler: Handler::Conn(info),
    tips: &[
        "nondeterministic_output",
        "request_policy:all_shards",
        "response_policy:special",
    ],
    group: "server",
    since: "1.0.0",
    summary: "Get information and statistics about the server",
    complexity: "O(1)",
    ..CommandSpec::DEFAULT
}];

/// Every section, in the order Redis prints them.
const SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "module_list",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
];

const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "module_list",
    "errorstats",
    "cluster",
    "keyspace",
];

/// The sections INFO's arguments ask for (Redis's `genInfoSectionDict`).
fn wanted(args: &[Vec<u8>]) -> Vec<&'static str> {
    if args.is_empty() {
        return DEFAULT.to_vec();
    }
    let mut want: Vec<&'static str> = Vec::new();
    for a in args {
        let name = String::from_utf8_lossy(a).to_ascii_lowercase();
        match name.as_str() {
            "default" => want.extend(DEFAULT),
            "all" | "everything" => want.extend(SECTIONS),
            "modules" => want.push("module_list"),
            other => want.extend(SECTIONS.iter().find(|s| **s == other)),
        }
    }
    SECTIONS
        .iter()
        .filter(|s| want.contains(s))
        .copied()
        .collect()
}

/// What one shard contributes.
#[derive(Default)]
struct ShardFigures {
    commands: u64,
    hits: u64,
    misses: u64,
    net_in: u64,
    net_out: u64,
    reads: u64,
    writes: u64,
    reply_shrinks: u64,
    reply_expands: u64,
    hops: u64,
    error_replies: u64,
    errors: Vec<(String, u64)>,
    cmd: Vec<(&'static str, CmdStat)>,
    dirty: u64,
    expired: u64,
    evicted: u64,
    /// This shard's subscribed channels, patterns and shard channels.
    pubsub: [Vec<Vec<u8>>; 3],
    /// Per database: (keys, keys with a TTL).
    keyspace: Vec<(usize, usize)>,
    max_qbuf: usize,
    /// Every database's table bytes (memory.rs), when the memory section
    /// is asked for (a walk over every slot's table).
    table_bytes: u64,
    /// Its clients' memory but replicas' (CLIENT LIST `tot-mem`), with
    /// the memory section.
    clients_normal: u64,
}

/// The process's figures, summed over shards.
#[derive(Default)]
struct Figures {
    commands: u64,
    hits: u64,
    misses: u64,
    net_in: u64,
    net_out: u64,
    reads: u64,
    writes: u64,
    reply_shrinks: u64,
    reply_expands: u64,
    hops: u64,
    error_replies: u64,
    errors: BTreeMap<String, u64>,
    cmd: HashMap<&'static str, CmdStat>,
    dirty: u64,
    expired: u64,
    evicted: u64,
    /// Distinct channels, patterns and shard channels with subscribers.
    pubsub: [std::collections::BTreeSet<Vec<u8>>; 3],
    keyspace: Vec<(usize, usize)>,
    max_qbuf: usize,
    /// `used_memory` as the command starts: the copies of every shard's
    /// figures (commandstats histograms among them) gathered for the
    /// reply are not the dataset's (Redis reads its count before building
    /// most of the reply).
    used_memory: u64,
    /// The keyspace tables' bytes, all shards (0 unless `with_memory`).
    pub(super) table_bytes: u64,
    /// INFO `mem_clients_normal`: normal, Pub/Sub and master clients'
    /// memory, all shards (0 unless `with_memory`). Summed here, when
    /// asked, rather than kept per request.
    pub(super) clients_normal: u64,
}

async fn gather(conn: &Conn, with_memory: bool) -> Figures {
    let used_memory = crate::alloc::used_bytes();
    let parts = mesh::run_on_all(&conn.rt, move |rt| {
        let core = rt.core.borrow();
        let s = &core.stats;
        ShardFigures {
            commands: s.commands,
            hits: s.keyspace_hits,
            misses: s.keyspace_misses,
            net_in: s.net_input_bytes,
            net_out: s.net_output_bytes,
            reads: s.reads_processed,
            writes: s.writes_processed,
            reply_shrinks: s.reply_buffer_shrinks,
            reply_expands: s.reply_buffer_expands,
            hops: s.cross_shard_requests,
            error_replies: s.error_replies,
            errors: s.errors.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            cmd: s.cmd.iter().map(|(k, v)| (*k, v.clone())).collect(),
            dirty: core.dirty,
            expired: core.store.expired_keys(),
            evicted: s.evicted_keys,
            pubsub: [
                crate::server::pubsub::local_channels(false, None),
                crate::server::pubsub::local_patterns(),
                crate::server::pubsub::local_channels(true, None),
            ],
            keyspace: core
                .store
                .dbs
                .iter()
                .map(|d| (d.len(), d.expires_len()))
                .collect(),
            max_qbuf: rt
                .clients
                .borrow()
                .iter()
                .map(|c| c.qbuf.get())
                .max()
                .unwrap_or(0),
            clients_normal: if with_memory {
                super::memory::clients_normal_here(rt)
            } else {
                0
            },
            table_bytes: if with_memory {
                let tables = core.store.dbs.iter().map(super::memory::table_bytes);
                tables.map(|(main, expires)| (main + expires) as u64).sum()
            } else {
                0
            },
        }
    })
    .await;
    let mut f = Figures {
        used_memory,
        ..Figures::default()
    };
    for p in parts {
        f.commands += p.commands;
        f.hits += p.hits;
        f.misses += p.misses;
        f.net_in += p.net_in;
        f.net_out += p.net_out;
        f.reads += p.reads;
        f.writes += p.writes;
        f.reply_shrinks += p.reply_shrinks;
        f.reply_expands += p.reply_expands;
        f.hops += p.hops;
        f.error_replies += p.error_replies;
        for (k, v) in p.errors {
            *f.errors.entry(k).or_default() += v;
        }
        for (k, v) in p.cmd {
            let e = f.cmd.entry(k).or_default();
            e.calls += v.calls;
            e.usec += v.usec;
            e.rejected += v.rejected;
            e.failed += v.failed;
            e.hist.merge(&v.hist);
        }
        f.dirty += p.dirty;
        f.expired += p.expired;
        f.evicted += p.evicted;
        for (all, mine) in f.pubsub.iter_mut().zip(p.pubsub) {
            all.extend(mine);
        }
        if f.keyspace.len() < p.keyspace.len() {
            f.keyspace.resize(p.keyspace.len(), (0, 0));
        }
        for (acc, (k, e)) in f.keyspace.iter_mut().zip(p.keyspace) {
            acc.0 += k;
            acc.1 += e;
        }
        f.max_qbuf = f.max_qbuf.max(p.max_qbuf);
        f.table_bytes += p.table_bytes;
        f.clients_normal += p.clients_normal;
    }
    f
}

/// Redis's `bytesToHuman`.
fn human(n: u64) -> String {
    const UNITS: [(u64, &str); 5] = [
        (1 << 10, "K"),
        (1 << 20, "M"),
        (1 << 30, "G"),
        (1 << 40, "T"),
        (1 << 50, "P"),
    ];
    if n < 1024 {
        return format!("{n}B");
    }
    for (i, (size, unit)) in UNITS.iter().enumerate() {
        let next = UNITS.get(i + 1).map_or(u64::MAX, |u| u.0);
        if n < next {
            return format!("{:.2}{unit}", n as f64 / *size as f64);
        }
    }
    format!("{n}B")
}

/// Resident set size in bytes, from /proc/self/statm.
pub fn rss_bytes() -> u64 {
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * page)
}

/// The allocator's figures as Redis reports them when its allocator
/// gives none (built with libc malloc, cronUpdateMemoryStats): allocated
/// is `used_memory`, active and resident are the process's RSS. So the
/// allocator's fragmentation carries all of it, and the other two
/// ratios are 1.
pub struct AllocatorFigures {
    pub allocated: u64,
    pub active: u64,
    pub resident: u64,
    pub rss: u64,
}

impl AllocatorFigures {
    pub fn read(used: u64) -> AllocatorFigures {
        let rss = rss_bytes();
        AllocatorFigures {
            allocated: used,
            active: rss,
            resident: rss,
            rss,
        }
    }

    /// (ratio, bytes) of active to allocated: INFO `allocator_frag_*`.
    pub fn allocator_frag(&self) -> (f64, i64) {
        Self::pair(self.active, self.allocated)
    }

    /// Resident to active: `allocator_rss_*`.
    pub fn allocator_rss(&self) -> (f64, i64) {
        Self::pair(self.resident, self.active)
    }

    /// The process's RSS to the allocator's resident: `rss_overhead_*`.
    pub fn rss_overhead(&self) -> (f64, i64) {
        Self::pair(self.rss, self.resident)
    }

    /// RSS to allocated: `mem_fragmentation_*`.
    pub fn total_frag(&self) -> (f64, i64) {
        Self::pair(self.rss, self.allocated)
    }

    fn pair(a: u64, b: u64) -> (f64, i64) {
        let ratio = if b == 0 { 0.0 } else { a as f64 / b as f64 };
        (ratio, a as i64 - b as i64)
    }
}

/// Highest used_memory reported so far.
pub static PEAK: AtomicU64 = AtomicU64::new(0);

/// INFO [section ...]
fn info(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let sections = wanted(&args[1..]);
        let figures = gather(conn, sections.contains(&"memory")).await;
        let mut text = String::new();
        for (i, name) in sections.iter().enumerate() {
            if i > 0 {
                text.push_str("\r\n");
            }
            sections::section(&mut text, conn, name, &figures);
        }
        conn.out.verbatim(text.as_bytes());
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human(0), "0B");
        assert_eq!(human(1023), "1023B");
        assert_eq!(human(1585200), "1.51M");
        assert_eq!(human(25276063744), "23.54G");
    }

    #[test]
    fn section_choice() {
        assert_eq!(wanted(&[]), DEFAULT);
        assert_eq!(
            wanted(&[b"KEYSPACE".to_vec(), b"server".to_vec()]),
            vec!["server", "keyspace"]
        );
        assert_eq!(wanted(&[b"everything".to_vec()]), SECTIONS);
        assert!(wanted(&[b"nosuch".to_vec()]).is_empty());
    }
}
