//! LATENCY LATEST | HISTORY | RESET | GRAPH | DOCTOR | HISTOGRAM | HELP:
//! the latency monitor's events (server/latency.rs) and the per-command
//! latency histograms kept with the command statistics of each shard.

use super::help::reply_help;
use super::spec::{Acl, CommandSpec, Flags, Handler};
use crate::config::keys as conf;
use crate::server::conn::Conn;
use crate::server::histogram::Histogram;
use crate::server::mesh;
use crate::sys::clock::unix_ms;
use crate::sys::latency::Series;
use futures::future::LocalBoxFuture;
use std::collections::HashMap;
use std::fmt::Write;

const FLAGS: Flags = Flags::ADMIN
    .with(Flags::NOSCRIPT)
    .with(Flags::LOADING)
    .with(Flags::STALE);
const ACL: Acl = Acl::ADMIN.with_bits(Acl::SLOW).with_bits(Acl::DANGEROUS);
const SPECIAL: &[&str] = &[
    "nondeterministic_output",
    "request_policy:all_nodes",
    "response_policy:special",
];

macro_rules! sub {
    ($name:expr, $arity:expr, $h:expr, $tips:expr, $summary:expr, $complexity:expr, $since:expr) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: FLAGS,
            acl: ACL,
            handler: Handler::Conn($h),
            tips: $tips,
            group: "server",
            since: $since,
            summary: $summary,
            complexity: $complexity,
            ..CommandSpec::DEFAULT
        }
    };
}

pub static LATENCY: CommandSpec = CommandSpec {
    name: "latency",
    arity: -2,
    acl: Acl::SLOW,
    group: "server",
    since: "2.8.13",
    summary: "A container for latency diagnostics commands",
    complexity: "Depends on subcommand.",
    subcommands: SUBCOMMANDS,
    ..CommandSpec::DEFAULT
};

static SUBCOMMANDS: &[CommandSpec] = &[
    sub!(
        "latency|doctor",
        2,
        doctor,
        SPECIAL,
        "Return a human readable latency analysis report.",
        "O(1)",
        "2.8.13"
    ),
    sub!(
        "latency|graph",
        3,
        graph,
        SPECIAL,
        "Return a latency graph for the event.",
        "O(1)",
        "2.8.13"
    ),
    CommandSpec {
        name: "latency|help",
        arity: 2,
        flags: Flags::LOADING.with(Flags::STALE),
        acl: Acl::SLOW,
        handler: Handler::Conn(help),
        group: "server",
        since: "2.8.13",
        summary: "Show helpful text about the different subcommands.",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    sub!(
        "latency|histogram",
        -2,
        histogram,
        SPECIAL,
        "Return the cumulative distribution of latencies of a subset of commands or all.",
        "O(N) where N is the number of commands with latency information being retrieved.",
        "7.0.0"
    ),
    sub!(
        "latency|history",
        3,
        history,
        SPECIAL,
        "Return timestamp-latency samples for the event.",
        "O(1)",
        "2.8.13"
    ),
    sub!(
        "latency|latest",
        2,
        latest,
        SPECIAL,
        "Return the latest latency samples for all events.",
        "O(1)",
        "2.8.13"
    ),
    sub!(
        "latency|reset",
        -2,
        reset,
        &["request_policy:all_nodes", "response_policy:all_succeeded"],
        "Reset latency data for one or more events.",
        "O(1)",
        "2.8.13"
    ),
];

const HELP: &[&str] = &[
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
];

fn help(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move { reply_help(&mut conn.out, "LATENCY", HELP) })
}

fn event<'a>(
    all: &'a std::collections::BTreeMap<String, Series>,
    name: &[u8],
) -> Option<(&'a String, &'a Series)> {
    all.iter().find(|(k, _)| k.as_bytes() == name)
}

/// LATENCY HISTORY event: [[time, ms], ...] oldest first.
fn history(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let all = crate::sys::latency::monitor().snapshot();
        let Some((_, ts)) = event(&all, &args[2]) else {
            return conn.out.array(0);
        };
        let samples: Vec<_> = ts.in_order().collect();
        conn.out.array(samples.len());
        for s in samples {
            conn.out.array(2);
            conn.out.int(s.time as i64);
            conn.out.int(s.ms as i64);
        }
    })
}

/// LATENCY LATEST: [event, time, latest ms, max ms] per event.
fn latest(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let all = crate::sys::latency::monitor().snapshot();
        conn.out.array(all.len());
        for (name, ts) in &all {
            let last = ts.latest();
            conn.out.array(4);
            conn.out.bulk_str(name);
            conn.out.int(last.time as i64);
            conn.out.int(last.ms as i64);
            conn.out.int(ts.max as i64);
        }
    })
}

/// LATENCY RESET [event ...]: how many events were dropped.
fn reset(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let lat = &crate::sys::latency::monitor();
        let n = if args.len() == 2 {
            lat.reset(None)
        } else {
            args[2..].iter().map(|e| lat.reset(Some(e))).sum()
        };
        conn.out.int(n as i64);
    })
}

/// LATENCY GRAPH event: Redis's sparkline of the event's samples.
fn graph(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let all = crate::sys::latency::monitor().snapshot();
        let Some((name, ts)) = event(&all, &args[2]) else {
            let e = String::from_utf8_lossy(&args[2]);
            return conn
                .out
                .error(&format!("ERR No samples available for event '{e}'"));
        };
        let text = super::sparkline::latency_graph(name, ts, unix_ms() / 1000);
        conn.out.verbatim(text.as_bytes());
    })
}

/// LATENCY DOCTOR: Redis's report, for the events Shardis records.
fn doctor(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let all = crate::sys::latency::monitor().snapshot();
        let settings = conn.rt.settings();
        let hz = conn.rt.shared.read_config(|c| c.int(conf::HZ));
        let text = doctor_report(&all, &settings.observe, hz, unix_ms() / 1000);
        conn.out.verbatim(text.as_bytes());
    })
}

fn doctor_report(
    all: &std::collections::BTreeMap<String, Series>,
    th: &crate::server::observe::Thresholds,
    hz: i64,
    now: u64,
) -> String {
    let mut r = String::new();
    if all.is_empty() && th.latency_ms == 0 {
        r.push_str("I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n");
        return r;
    }
    let (mut slowlog_enabled, mut slowlog_tuning, mut slowlog_inspect) = (false, false, false);
    let (mut scheduler, mut hz_advice, mut large_objects, mut relax_fsync) =
        (false, false, false, false);
    let (mut local_disk, mut ssd, mut data_writeback, mut no_appendfsync) =
        (false, false, false, false);
    let mut snapshot_slices = false;
    let mut advices = 0;
    for (n, (name, ts)) in all.iter().enumerate() {
        if n == 0 {
            r.push_str("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
        }
        let samples: Vec<u64> = ts.in_order().map(|s| s.ms).collect();
        let count = samples.len() as u64;
        let avg = samples.iter().sum::<u64>() / count.max(1);
        let mad = samples
            .iter()
            .map(|&v| (avg as i64 - v as i64).unsigned_abs())
            .sum::<u64>()
            / count.max(1);
        let oldest = ts.in_order().map(|s| s.time).min().unwrap_or(now);
        let period = now.saturating_sub(oldest).max(1);
        let _ = write!(
            r,
            "{}. {name}: {count} latency spikes (average {avg}ms, mean deviation {mad}ms, period {:.2} sec). Worst all time event {}ms.",
            n + 1,
            period as f64 / count.max(1) as f64,
            ts.max
        );
        match name.as_str() {
            "command" => {
                if th.slowlog_slower_than < 0 {
                    slowlog_enabled = true;
                    advices += 1;
                } else if th.slowlog_slower_than / 1000 > th.latency_ms as i64 {
                    slowlog_tuning = true;
                    advices += 1;
                }
                slowlog_inspect = true;
                large_objects = true;
                advices += 2;
            }
            "fast-command" => {
                scheduler = true;
                advices += 1;
            }
            "aof-fsync-always" => {
                relax_fsync = true;
                advices += 1;
            }
            "aof-write-active-child" => {
                no_appendfsync = true;
                data_writeback = true;
                ssd = true;
                advices += 3;
            }
            "aof-write-alone" => {
                local_disk = true;
                data_writeback = true;
                ssd = true;
                advices += 3;
            }
            "snapshot-slice" => {
                snapshot_slices = true;
                scheduler = true;
                advices += 2;
            }
            "expire-cycle" => {
                hz_advice = true;
                large_objects = true;
                advices += 2;
            }
            _ => {}
        }
        r.push('\n');
    }
    if all.is_empty() && advices == 0 {
        r.push_str("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n");
        return r;
    }
    if advices == 0 {
        r.push_str("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n");
        return r;
    }
    r.push_str("\nI have a few advices for you:\n\n");
    let threshold_us = th.latency_ms * 1000;
    if slowlog_enabled {
        let _ = writeln!(r, "- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than {threshold_us}'. If the Slow log is disabled Redis is not able to log slow commands execution for you.");
    }
    if slowlog_tuning {
        let _ = writeln!(r, "- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {threshold_us}'.");
    }
    if slowlog_inspect {
        r.push_str("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
    }
    if scheduler {
        r.push_str("- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for Redis if you are running other software in the same system.\n  3) Check if you have a \"noisy neighbour\" problem.\n  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n");
    }
    if local_disk {
        r.push_str("- It is strongly advised to use local disks for persistence, especially if you are using AOF. Remote disks provided by platform-as-a-service providers are known to be slow.\n");
    }
    if ssd {
        r.push_str("- SSD disks are able to reduce fsync latency, and total time needed for snapshotting and AOF log rewriting (resulting in smaller memory usage). With extremely high write load SSD disks can be a good option. However Redis should perform reasonably with high load using normal disks. Use this advice as a last resort.\n");
    }
    if data_writeback {
        r.push_str("- Mounting ext3/4 filesystems with data=writeback can provide a performance boost compared to data=ordered, however this mode of operation provides less guarantees, and sometimes it can happen that after a hard crash the AOF file will have a half-written command at the end and will require to be repaired before Redis restarts.\n");
    }
    if no_appendfsync {
        r.push_str("- Assuming from the point of view of data safety this is viable in your environment, you could try to enable the 'no-appendfsync-on-rewrite' option, so that fsync will not be performed while there is a child rewriting the AOF file or producing an RDB file (the moment where there is high disk contention).\n");
    }
    if snapshot_slices {
        // Shardis snapshots without fork, a slice of keys at a time on the
        // shard's own thread; a slice is meant to take 250 us at most.
        r.push_str("- A snapshot (BGSAVE, AOF rewrite or a replica's full sync) held a shard longer than the latency threshold in one slice. Slices yield after 250 microseconds of work, so a long one means the shard's core was taken away meanwhile (see the scheduler advice above) or a single value so big that writing it takes that long.\n");
    }
    if relax_fsync {
        r.push_str("- Your fsync policy is set to 'always'. It is very hard to get good performances with such a setup, if possible try to relax the fsync policy to 'onesec'.\n");
    }
    if hz_advice && hz < 100 {
        r.push_str("- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n");
    }
    if large_objects {
        r.push_str("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n");
    }
    r
}

/// Every shard's histograms, merged by command name.
pub async fn histograms(conn: &Conn) -> HashMap<&'static str, Histogram> {
    let parts = mesh::run_on_all(&conn.rt, |rt| {
        let core = rt.core.borrow();
        core.stats
            .cmd
            .iter()
            .filter(|(_, st)| st.hist.total() > 0)
            .map(|(k, st)| (*k, st.hist.clone()))
            .collect::<Vec<_>>()
    })
    .await;
    let mut all: HashMap<&'static str, Histogram> = HashMap::new();
    for (name, h) in parts.into_iter().flatten() {
        all.entry(name).or_default().merge(&h);
    }
    all
}

/// LATENCY HISTOGRAM [command ...]: per command, its calls and the
/// cumulative counts at power-of-two microsecond levels.
fn histogram(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let all = histograms(conn).await;
        let table = super::table();
        // Redis walks its command table (a dict; order unspecified), or
        // the named commands with their subcommands.
        let mut names: Vec<&'static str> = Vec::new();
        let add = |spec: &'static CommandSpec, names: &mut Vec<&'static str>| {
            for c in std::iter::once(spec).chain(spec.subcommands.iter()) {
                if all.contains_key(c.name) && !names.contains(&c.name) {
                    names.push(c.name);
                }
            }
        };
        if args.len() == 2 {
            for spec in &table.all {
                add(spec, &mut names);
            }
        } else {
            for a in &args[2..] {
                let spec = match memchr::memchr(b'|', a) {
                    Some(i) => table
                        .get(&a[..i])
                        .and_then(|p| super::Table::sub(p, &a[i + 1..])),
                    None => table.get(a),
                };
                if let Some(spec) = spec {
                    add(spec, &mut names);
                }
            }
        }
        let out = &mut conn.out;
        out.map(names.len());
        for name in names {
            let h = &all[name];
            out.bulk_str(name);
            out.map(2);
            out.bulk_str("calls");
            out.int(h.total() as i64);
            out.bulk_str("histogram_usec");
            let cdf = h.cdf();
            out.map(cdf.len());
            for (us, n) in cdf {
                out.int(us as i64);
                out.int(n as i64);
            }
        }
    })
}
