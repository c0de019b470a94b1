//! INFO's sections: one writer per section, over the figures `gather`
//! collected from every shard.

use super::{human, Figures, PEAK};
use crate::command::connection::REDIS_VERSION;
use crate::command::table;
use crate::config::keys as conf;
use crate::persist::snapshot;
use crate::server::blocking::{BLOCKED_CLIENTS, TIMEOUT_TABLE};
use crate::server::conn::Conn;
use crate::server::tracking;
use crate::sys::clock::{unix_ms, unix_us};
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Mutex;

fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| {
                    v.split_whitespace()
                        .next()
                        .and_then(|n| n.parse::<u64>().ok())
                })
        })
        .map_or(0, |kb| kb * 1024)
}

/// (user, system) CPU seconds of `who` (RUSAGE_SELF, _CHILDREN, _THREAD).
fn cpu(who: i32) -> (String, String) {
    // SAFETY: getrusage fills the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut ru) };
    let tv = |t: libc::timeval| format!("{}.{:06}", t.tv_sec, t.tv_usec);
    (tv(ru.ru_utime), tv(ru.ru_stime))
}

fn uname() -> String {
    // SAFETY: uname fills the struct; its fields are NUL-terminated.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return "Linux".into();
        }
        let f = |s: &[libc::c_char]| {
            std::ffi::CStr::from_ptr(s.as_ptr())
                .to_string_lossy()
                .into_owned()
        };
        format!("{} {} {}", f(&u.sysname), f(&u.release), f(&u.machine))
    }
}

/// Rates over the interval since the previous INFO: (ops/s, in kbps,
/// out kbps). Redis samples every 100 ms; this is a coarser estimate.
fn rates(f: &Figures) -> (u64, f64, f64) {
    static LAST: Mutex<Option<(u64, u64, u64, u64)>> = Mutex::new(None);
    let now = unix_ms();
    let mut last = LAST.lock().unwrap();
    let r = match *last {
        Some((t, c, i, o)) if now > t => {
            let secs = (now - t) as f64 / 1000.0;
            (
                (f.commands.saturating_sub(c) as f64 / secs) as u64,
                f.net_in.saturating_sub(i) as f64 / secs / 1024.0,
                f.net_out.saturating_sub(o) as f64 / secs / 1024.0,
            )
        }
        _ => (0, 0.0, 0.0),
    };
    *last = Some((now, f.commands, f.net_in, f.net_out));
    r
}

/// Appends `name:value\r\n` lines.
macro_rules! field {
    ($s:expr, $($name:literal => $v:expr),* $(,)?) => {
        $( let _ = write!($s, concat!($name, ":{}\r\n"), $v); )*
    };
}

/// Appends INFO section `name` (one of SECTIONS).
pub(super) fn section(s: &mut String, conn: &Conn, name: &str, f: &Figures) {
    let write: fn(&mut String, &Conn, &Figures) = match name {
        "server" => write_server,
        "clients" => write_clients,
        "memory" => write_memory,
        "persistence" => write_persistence,
        "stats" => write_stats,
        "replication" => write_replication,
        "cpu" => write_cpu,
        "module_list" => write_module_list,
        "commandstats" => write_commandstats,
        "errorstats" => write_errorstats,
        "latencystats" => write_latencystats,
        "cluster" => write_cluster,
        "keyspace" => write_keyspace,
        _ => return,
    };
    write(s, conn, f);
}

fn write_server(s: &mut String, conn: &Conn, _f: &Figures) {
    let shared = &conn.rt.shared;
    let hz = conn.rt.shared.read_config(|c| c.int(conf::HZ));
    let config_file = conn.rt.shared.read_config(|c| {
        c.file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    });
    let uptime = shared.started.elapsed().as_secs();
    s.push_str("# Server\r\n");
    field!(s,
        "redis_version" => REDIS_VERSION,
        "redis_git_sha1" => "00000000",
        "redis_git_dirty" => 0,
        "redis_build_id" => "0000000000000000",
        "redis_mode" => "standalone",
        "os" => uname(),
        "arch_bits" => usize::BITS,
        "monotonic_clock" => "POSIX clock_gettime",
        "multiplexing_api" => "io_uring",
        "atomicvar_api" => "c11-builtin",
        "gcc_version" => "0.0.0",
        "process_id" => std::process::id(),
        "process_supervised" => "no",
        "run_id" => shared.run_id,
        "tcp_port" => shared.port.load(Ordering::Relaxed),
        "server_time_usec" => unix_us(),
        "uptime_in_seconds" => uptime,
        "uptime_in_days" => uptime / 86400,
        "hz" => hz,
        "configured_hz" => hz,
        "lru_clock" => (unix_ms() / 1000) & ((1 << 24) - 1),
        "executable" => shared.executable,
        "config_file" => config_file,
        "io_threads_active" => 0,
        "shardis_version" => env!("CARGO_PKG_VERSION"),
        "shards" => shared.nshards,
    );
    // While a shutdown waits for its replicas, as Redis.
    if let Some(ms) = shared.shutdown.in_milliseconds() {
        field!(s, "shutdown_in_milliseconds" => ms);
    }
}

fn write_clients(s: &mut String, conn: &Conn, f: &Figures) {
    let shared = &conn.rt.shared;
    let maxclients = conn.rt.shared.read_config(|c| c.int(conf::MAXCLIENTS));
    s.push_str("# Clients\r\n");
    field!(s,
        "connected_clients" => shared.connected_clients.load(Ordering::Relaxed),
        "cluster_connections" => shared.cluster.as_ref().map_or(0, |c| c.links.count()),
        "maxclients" => maxclients,
        "client_recent_max_input_buffer" => f.max_qbuf,
        "client_recent_max_output_buffer" => 0,
        "blocked_clients" => BLOCKED_CLIENTS.load(Ordering::Relaxed),
        "tracking_clients" => tracking::CLIENTS.load(Ordering::Relaxed),
        "clients_in_timeout_table" => TIMEOUT_TABLE.load(Ordering::Relaxed),
    );
}

fn write_memory(s: &mut String, conn: &Conn, f: &Figures) {
    let shared = &conn.rt.shared;
    let (maxmemory, policy) = conn
        .rt
        .shared
        .read_config(|c| (c.int(conf::MAXMEMORY), c.text(conf::MAXMEMORY_POLICY)));
    // Allocated bytes (alloc/), as Redis's zmalloc count; the
    // resident set beside it.
    let used = f.used_memory;
    let alloc = super::AllocatorFigures::read(used);
    let held = crate::command::memory::Overhead::read(shared, f.table_bytes, f.clients_normal);
    let (dataset, dataset_perc) = held.dataset(used);
    let rss = alloc.rss;
    let (frag, frag_bytes) = alloc.allocator_frag();
    let (alloc_rss, alloc_rss_bytes) = alloc.allocator_rss();
    let (overhead, overhead_bytes) = alloc.rss_overhead();
    let (total_frag, total_frag_bytes) = alloc.total_frag();
    let peak = PEAK.fetch_max(used, Ordering::Relaxed).max(used);
    let total = total_system_memory();
    let (scripts, script_bytes) = crate::server::script::cache::stats();
    let (libraries, functions) = crate::server::script::library::counts();
    s.push_str("# Memory\r\n");
    field!(s,
        "used_memory" => used,
        "used_memory_human" => human(used),
        "used_memory_rss" => rss,
        "used_memory_rss_human" => human(rss),
        "used_memory_peak" => peak,
        "used_memory_peak_human" => human(peak),
        "used_memory_peak_perc" => format!("{:.2}%", used as f64 * 100.0 / peak.max(1) as f64),
        "used_memory_overhead" => held.total(),
        "used_memory_startup" => held.startup,
        "used_memory_dataset" => dataset,
        "used_memory_dataset_perc" => format!("{dataset_perc:.2}%"),
        "allocator_allocated" => alloc.allocated,
        "allocator_active" => alloc.active,
        "allocator_resident" => alloc.resident,
        "total_system_memory" => total,
        "total_system_memory_human" => human(total),
        "used_memory_lua" => 0,
        "used_memory_vm_eval" => 0,
        "used_memory_lua_human" => "0B",
        "used_memory_scripts_eval" => script_bytes,
        "number_of_cached_scripts" => scripts,
        "number_of_functions" => functions,
        "number_of_libraries" => libraries,
        "used_memory_vm_functions" => 0,
        "used_memory_vm_total" => 0,
        "used_memory_vm_total_human" => "0B",
        "used_memory_functions" => 0,
        "used_memory_scripts" => script_bytes,
        "used_memory_scripts_human" => human(script_bytes as u64),
        "maxmemory" => maxmemory,
        "maxmemory_human" => human(maxmemory.max(0) as u64),
        "maxmemory_policy" => policy,
        "allocator_frag_ratio" => format!("{frag:.2}"),
        // Redis prints this one unsigned (%zu).
        "allocator_frag_bytes" => frag_bytes.max(0),
        "allocator_rss_ratio" => format!("{alloc_rss:.2}"),
        "allocator_rss_bytes" => alloc_rss_bytes,
        "rss_overhead_ratio" => format!("{overhead:.2}"),
        "rss_overhead_bytes" => overhead_bytes,
        "mem_fragmentation_ratio" => format!("{total_frag:.2}"),
        "mem_fragmentation_bytes" => total_frag_bytes,
        "mem_not_counted_for_evict" => held.not_counted_for_evict,
        "mem_replication_backlog" => held.backlog,
        "mem_total_replication_buffers" => crate::repl::primary::buffer_bytes(&**shared),
        "mem_clients_slaves" => held.replicas,
        "mem_clients_normal" => held.clients_normal,
        "mem_cluster_links" => held.cluster_links,
        "mem_aof_buffer" => 0,
        "mem_allocator" => "libc",
        "active_defrag_running" => 0,
        "lazyfree_pending_objects" => crate::store::lazyfree::pending(),
        "lazyfreed_objects" => crate::store::lazyfree::freed(),
    );
}

fn write_persistence(s: &mut String, conn: &Conn, f: &Figures) {
    let shared = &conn.rt.shared;
    let aof = &shared.aof;
    let rewriting = aof.rewrite_in_progress.load(Ordering::Relaxed);
    let current_rewrite_secs = if rewriting {
        ((unix_ms() - aof.rewrite_started_ms.load(Ordering::Relaxed)) / 1000) as i64
    } else {
        -1
    };
    use crate::persist::bgsave::{copies, status as bgsave_status};
    let save_keys = bgsave_status::keys_progress();
    let loading = &shared.repl.replica.loading;
    let (is_loading, is_async) = loading.flags();
    s.push_str("# Persistence\r\n");
    field!(s,
        "loading" => is_loading as u8,
        "async_loading" => is_async as u8,
        "current_cow_peak" => copies::current(),
        "current_cow_size" => copies::current(),
        "current_cow_size_age" => 0,
        "current_fork_perc" => format!("{:.2}", bgsave_status::fork_perc()),
        "current_save_keys_processed" => save_keys.0,
        "current_save_keys_total" => save_keys.1,
        "rdb_changes_since_last_save" => f.dirty,
        "rdb_bgsave_in_progress" => bgsave_status::bgsave_running() as u8,
        "rdb_last_save_time" => shared.lastsave_unix.load(Ordering::Relaxed),
        "rdb_last_bgsave_status" => if bgsave_status::last_bgsave_ok() { "ok" } else { "err" },
        "rdb_last_bgsave_time_sec" => bgsave_status::last_bgsave_secs(),
        "rdb_current_bgsave_time_sec" => bgsave_status::current_bgsave_secs(unix_ms()),
        "rdb_saves" => snapshot::RDB_SAVES.load(Ordering::Relaxed),
        "rdb_last_cow_size" => copies::last_rdb(),
        "rdb_last_load_keys_expired" => snapshot::LOAD_KEYS_EXPIRED.load(Ordering::Relaxed),
        "rdb_last_load_keys_loaded" => snapshot::LOAD_KEYS_LOADED.load(Ordering::Relaxed),
        "aof_enabled" => aof.enabled() as u8,
        "aof_rewrite_in_progress" => rewriting as u8,
        "aof_rewrite_scheduled" => aof.rewrite_scheduled.load(Ordering::Relaxed) as u8,
        "aof_last_rewrite_time_sec" => aof.last_rewrite_secs.load(Ordering::Relaxed),
        "aof_current_rewrite_time_sec" => current_rewrite_secs,
        "aof_last_bgrewrite_status" => if aof.last_rewrite_ok.load(Ordering::Relaxed) { "ok" } else { "err" },
        "aof_rewrites" => aof.rewrites.load(Ordering::Relaxed),
        "aof_rewrites_consecutive_failures" => aof.rewrite_failures.load(Ordering::Relaxed),
        "aof_last_write_status" => if aof.log.write_ok() { "ok" } else { "err" },
        "aof_last_cow_size" => copies::last_aof(),
        "module_fork_in_progress" => 0,
        "module_fork_last_cow_size" => 0,
    );
    if aof.enabled() {
        let (current, base) = aof.sizes();
        field!(s,
            "aof_current_size" => current,
            "aof_base_size" => base,
            "aof_pending_rewrite" => 0,
            "aof_buffer_length" => aof.log.end() - aof.log.written(),
            "aof_pending_bio_fsync" => 0,
            "aof_delayed_fsync" => 0,
        );
    }
    loading.info_lines(s);
}

fn write_stats(s: &mut String, conn: &Conn, f: &Figures) {
    let shared = &conn.rt.shared;
    let (ops, kin, kout) = rates(f);
    s.push_str("# Stats\r\n");
    field!(s,
        "total_connections_received" => shared.total_connections.load(Ordering::Relaxed),
        "total_commands_processed" => f.commands,
        "instantaneous_ops_per_sec" => ops,
        "total_net_input_bytes" => f.net_in,
        "total_net_output_bytes" => f.net_out,
        "total_net_repl_input_bytes" => 0,
        "total_net_repl_output_bytes" => shared.repl.primary.repl_output_bytes.load(Ordering::Relaxed),
        "instantaneous_input_kbps" => format!("{kin:.2}"),
        "instantaneous_output_kbps" => format!("{kout:.2}"),
        "instantaneous_input_repl_kbps" => "0.00",
        "instantaneous_output_repl_kbps" => "0.00",
        "rejected_connections" => shared.rejected_connections.load(Ordering::Relaxed),
        "sync_full" => shared.repl.primary.sync_full.load(Ordering::Relaxed),
        "sync_partial_ok" => shared.repl.primary.sync_partial_ok.load(Ordering::Relaxed),
        "sync_partial_err" => shared.repl.primary.sync_partial_err.load(Ordering::Relaxed),
        "expired_keys" => f.expired,
        "expired_stale_perc" => "0.00",
        "expired_time_cap_reached_count" => 0,
        "expire_cycle_cpu_milliseconds" => 0,
        "evicted_keys" => f.evicted,
        "evicted_clients" => shared.client_memory.evicted.load(Ordering::Relaxed),
        "total_eviction_exceeded_time" => 0,
        "current_eviction_exceeded_time" => 0,
        "keyspace_hits" => f.hits,
        "keyspace_misses" => f.misses,
        "pubsub_channels" => f.pubsub[0].len(),
        "pubsub_patterns" => f.pubsub[1].len(),
        "pubsubshard_channels" => f.pubsub[2].len(),
        "latest_fork_usec" => 0,
        "total_forks" => crate::persist::bgsave::status::SNAPSHOTS_STARTED.load(Ordering::Relaxed),
        "migrate_cached_sockets" => crate::command::migrate_conn::cached(),
        "slave_expires_tracked_keys" => 0,
        "active_defrag_hits" => 0,
        "active_defrag_misses" => 0,
        "active_defrag_key_hits" => 0,
        "active_defrag_key_misses" => 0,
        "total_active_defrag_time" => 0,
        "current_active_defrag_time" => 0,
        "tracking_total_keys" => tracking::TOTAL_KEYS.load(Ordering::Relaxed),
        "tracking_total_items" => tracking::TOTAL_ITEMS.load(Ordering::Relaxed),
        "tracking_total_prefixes" => tracking::TOTAL_PREFIXES.load(Ordering::Relaxed),
        "unexpected_error_replies" => crate::server::master_errors::UNEXPECTED_ERROR_REPLIES.load(Ordering::Relaxed),
        "total_error_replies" => f.error_replies,
        "dump_payload_sanitizations" => 0,
        "total_reads_processed" => f.reads,
        "total_writes_processed" => f.writes,
        "io_threaded_reads_processed" => 0,
        "io_threaded_writes_processed" => 0,
        "reply_buffer_shrinks" => f.reply_shrinks,
        "reply_buffer_expands" => f.reply_expands,
        // Shardis-only (docs/architecture.md, section 18).
        "cross_shard_requests" => f.hops,
    );
}

fn write_replication(s: &mut String, conn: &Conn, _f: &Figures) {
    let shared = &conn.rt.shared;
    s.push_str("# Replication\r\n");
    // role:slave and a replica's master_* lines (repl/replica),
    // else role:master; then the fields both roles show.
    let mut slave_lines = String::new();
    if crate::repl::replica::info_lines(shared, &mut slave_lines) {
        s.push_str("role:slave\r\n");
        s.push_str(&slave_lines);
    } else {
        s.push_str("role:master\r\n");
    }
    crate::repl::primary::write_master_info(s, shared);
}

fn write_cpu(s: &mut String, _conn: &Conn, _f: &Figures) {
    let (user, sys) = cpu(libc::RUSAGE_SELF);
    let (cuser, csys) = cpu(libc::RUSAGE_CHILDREN);
    let (tuser, tsys) = cpu(libc::RUSAGE_THREAD);
    s.push_str("# CPU\r\n");
    field!(s,
        "used_cpu_sys" => sys,
        "used_cpu_user" => user,
        "used_cpu_sys_children" => csys,
        "used_cpu_user_children" => cuser,
        "used_cpu_sys_main_thread" => tsys,
        "used_cpu_user_main_thread" => tuser,
    );
}

fn write_module_list(s: &mut String, _conn: &Conn, _f: &Figures) {
    s.push_str("# Modules\r\n")
}

fn write_commandstats(s: &mut String, _conn: &Conn, f: &Figures) {
    s.push_str("# Commandstats\r\n");
    for spec in &table().all {
        for c in std::iter::once(*spec).chain(spec.subcommands.iter()) {
            let Some(st) = f.cmd.get(c.name) else {
                continue;
            };
            if st.calls == 0 && st.failed == 0 && st.rejected == 0 {
                continue;
            }
            let per_call = if st.calls == 0 {
                0.0
            } else {
                st.usec as f64 / st.calls as f64
            };
            let _ = write!(
                s,
                "cmdstat_{}:calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}\r\n",
                c.name, st.calls, st.usec, st.rejected, st.failed
            );
        }
    }
}

fn write_errorstats(s: &mut String, _conn: &Conn, f: &Figures) {
    s.push_str("# Errorstats\r\n");
    for (e, n) in &f.errors {
        let _ = write!(s, "errorstat_{e}:count={n}\r\n");
    }
}

fn write_latencystats(s: &mut String, conn: &Conn, f: &Figures) {
    let shared = &conn.rt.shared;
    s.push_str("# Latencystats\r\n");
    let (on, percentiles) = shared.read_config(|c| {
        (
            c.flag(conf::LATENCY_TRACKING),
            c.text(conf::LATENCY_TRACKING_INFO_PERCENTILES),
        )
    });
    if on {
        let ps: Vec<f64> = percentiles
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        for spec in &table().all {
            for c in std::iter::once(*spec).chain(spec.subcommands.iter()) {
                let Some(st) = f.cmd.get(c.name).filter(|st| st.hist.total() > 0) else {
                    continue;
                };
                let _ = write!(s, "latency_percentiles_usec_{}:", c.name);
                for (i, p) in ps.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    let v = st.hist.percentile(*p) as f64 / 1000.0;
                    let _ = write!(s, "p{}={v:.3}", trim_double(*p));
                }
                s.push_str("\r\n");
            }
        }
    }
}

fn write_cluster(s: &mut String, conn: &Conn, _f: &Figures) {
    let shared = &conn.rt.shared;
    s.push_str("# Cluster\r\n");
    field!(s, "cluster_enabled" => shared.cluster.is_some() as u8);
}

fn write_keyspace(s: &mut String, _conn: &Conn, f: &Figures) {
    s.push_str("# Keyspace\r\n");
    for (db, (keys, expires)) in f.keyspace.iter().enumerate() {
        if *keys > 0 {
            let _ = write!(s, "db{db}:keys={keys},expires={expires},avg_ttl=0\r\n");
        }
    }
}

/// Redis's trimDoubleString of "%f": no trailing zeros, no bare point.
fn trim_double(p: f64) -> String {
    let s = format!("{p:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
