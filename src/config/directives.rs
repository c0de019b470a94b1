//! The directives Shardis understands, with Redis 7.0's defaults, limits
//! and canonical forms.
//!
//! `DIRECTIVES` are the ones Shardis applies. `UNSUPPORTED` lists every
//! other Redis 7.0 directive (taken from redis-server 7.0.15's own
//! `CONFIG GET *`, kinds and limits from its CONFIG SET errors): each is
//! validated as Redis does and accepted only at its default — the value
//! that matches what Shardis does anyway — so a redis.conf asking for
//! something Shardis cannot do yet is an error, never silently ignored.

use super::special;

/// What kind of value a directive takes.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Bool,
    /// A plain integer (Redis's `string2ll`: no sign but `-`, no spaces).
    Int {
        min: i64,
        max: i64,
    },
    /// Bytes, with Redis's units (b, k, kb, m, mb, g, gb).
    Memory {
        min: i64,
        max: i64,
    },
    Str,
    Enum(&'static [&'static str]),
    /// One or more addresses (`bind`).
    Addresses,
    /// Its own syntax (`save`, `client-output-buffer-limit`, …): checks
    /// the arguments against the current value, returns the canonical
    /// text or Redis's reason for refusing them.
    Special(special::Check),
}

pub struct Directive {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    pub default: &'static str,
    /// CONFIG SET may change it at runtime.
    pub mutable: bool,
}

const INT_MIN: i64 = i32::MIN as i64;
const INT_MAX: i64 = i32::MAX as i64;
const UINT_MAX: i64 = u32::MAX as i64;
const LONG_MAX: i64 = i64::MAX;

/// Redis's `protected_action_enum`.
const PROTECTED_ACTION: &[&str] = &["no", "yes", "local"];

macro_rules! d {
    ($name:expr, $kind:expr, $default:expr, $mutable:expr) => {
        Directive {
            name: $name,
            aliases: &[],
            kind: $kind,
            default: $default,
            mutable: $mutable,
        }
    };
}

pub static DIRECTIVES: &[Directive] = &[
    // Entries ACL LOG keeps (server/acl/log.rs); a lowered limit applies
    // at the next new entry, as in Redis.
    d!(
        "acllog-max-len",
        Kind::Int {
            min: 0,
            max: LONG_MAX
        },
        "128",
        true
    ),
    // Client eviction (server/client_mem.rs): bytes, or a percentage of
    // maxmemory.
    d!(
        "maxmemory-clients",
        Kind::Special(special::memory_or_percent),
        "0",
        true
    ),
    // Start-up banner with Port: and PID: (sys/log.rs banner).
    d!("always-show-logo", Kind::Bool, "no", false),
    // Who may run DEBUG, MODULE LOAD/UNLOAD and CONFIG SET dir/dbfilename
    // (command/protected.rs): nobody, everybody, or local connections.
    d!(
        "enable-protected-configs",
        Kind::Enum(PROTECTED_ACTION),
        "no",
        false
    ),
    d!(
        "enable-debug-command",
        Kind::Enum(PROTECTED_ACTION),
        "no",
        false
    ),
    d!(
        "enable-module-command",
        Kind::Enum(PROTECTED_ACTION),
        "no",
        false
    ),
    // What a replica does with an error in its master's stream, and the
    // AOF's loading with one in the AOF: log it and count it, or crash
    // (server/master_errors.rs).
    d!(
        "propagation-error-behavior",
        Kind::Enum(&["ignore", "panic", "panic-on-replicas"]),
        "ignore",
        true
    ),
    // Debian's 7.0.15 backport (CVE-2025-49844 hardening): scripts see
    // setfenv, getfenv and newproxy only when set (server/script).
    d!("lua-enable-deprecated-api", Kind::Bool, "no", false),
    Directive {
        name: "busy-reply-threshold",
        aliases: &["lua-time-limit"],
        kind: Kind::Int {
            min: 0,
            max: LONG_MAX,
        },
        default: "5000",
        mutable: true,
    },
    // Test-only (hidden, as in Redis): microseconds slept per key saved
    // by SAVE/BGSAVE/DEBUG RELOAD, per key loaded from an RDB file.
    d!(
        "rdb-key-save-delay",
        Kind::Int {
            min: INT_MIN,
            max: INT_MAX
        },
        "0",
        true
    ),
    // Shardis runs no memory test after a crash, whatever the value.
    d!("crash-memcheck-enabled", Kind::Bool, "yes", true),
    // Every payload (RESTORE, RDB, a master's RDB) is checked in depth,
    // as with `yes`, whatever the value: none can crash the server.
    d!(
        "sanitize-dump-payload",
        Kind::Enum(&["no", "yes", "clients"]),
        "no",
        true
    ),
    // A panic exits with status 1 instead of aborting (Redis's, for
    // valgrind; its suite sets it).
    d!("use-exit-on-panic", Kind::Bool, "no", false),
    // SHUTDOWN's options for a signal, several at once (Redis's
    // MULTI_ARG enum).
    d!(
        "shutdown-on-sigint",
        Kind::Special(special::shutdown_on_signal),
        "default",
        true
    ),
    d!(
        "shutdown-on-sigterm",
        Kind::Special(special::shutdown_on_signal),
        "default",
        true
    ),
    d!(
        "key-load-delay",
        Kind::Int {
            min: INT_MIN,
            max: INT_MAX
        },
        "0",
        true
    ),
    // How often Redis serves events while loading: requests that arrive
    // before a load has read this much wait instead of -LOADING
    // (repl/replica/loading.rs `holds_requests`).
    d!(
        "loading-process-events-interval-bytes",
        Kind::Int {
            min: 1024,
            max: INT_MAX
        },
        "2097152",
        true
    ),
    // Slow log, latency monitor and histograms (server/observe.rs).
    d!(
        "latency-monitor-threshold",
        Kind::Int {
            min: 0,
            max: LONG_MAX
        },
        "0",
        true
    ),
    d!("latency-tracking", Kind::Bool, "yes", true),
    d!(
        "latency-tracking-info-percentiles",
        Kind::Special(special::percentiles),
        "50 99 99.9",
        true
    ),
    d!(
        "slowlog-log-slower-than",
        Kind::Int {
            min: -1,
            max: LONG_MAX
        },
        "10000",
        true
    ),
    d!(
        "slowlog-max-len",
        Kind::Int {
            min: 0,
            max: LONG_MAX
        },
        "128",
        true
    ),
    // Freeing big values in the background (store/lazyfree).
    d!("lazyfree-lazy-user-del", Kind::Bool, "no", true),
    d!("lazyfree-lazy-user-flush", Kind::Bool, "no", true),
    // Stored for replication (not built yet): the seed template sets it.
    d!("masterauth", Kind::Str, "", true),
    d!("masteruser", Kind::Str, "", true),
    // Replication, primary side (repl/primary).
    d!(
        "client-output-buffer-limit",
        Kind::Special(special::client_output_buffer_limit),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        true
    ),
    Directive {
        name: "min-replicas-max-lag",
        aliases: &["min-slaves-max-lag"],
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
        },
        default: "10",
        mutable: true,
    },
    Directive {
        name: "min-replicas-to-write",
        aliases: &["min-slaves-to-write"],
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
        },
        default: "0",
        mutable: true,
    },
    d!(
        "repl-backlog-ttl",
        Kind::Int {
            min: 0,
            max: LONG_MAX
        },
        "3600",
        true
    ),
    d!(
        "repl-backlog-size",
        Kind::Memory {
            min: 1,
            max: LONG_MAX
        },
        "1048576",
        true
    ),
    d!("repl-diskless-sync", Kind::Bool, "yes", true),
    // Loading a full sync's RDB (repl/replica/load.rs): through the
    // dump file, or without touching it (swapdb keeps the old data until
    // the new one is in).
    d!(
        "repl-diskless-load",
        Kind::Enum(&["disabled", "on-empty-db", "swapdb"]),
        "disabled",
        true
    ),
    // Source address of outgoing connections (sys/connect.rs): the
    // master link, cluster bus links, MIGRATE.
    d!("bind-source-addr", Kind::Str, "", true),
    // /proc/self/oom_score_adj per role (sys/oom.rs).
    d!(
        "oom-score-adj",
        Kind::Enum(&["no", "yes", "relative", "absolute"]),
        "no",
        true
    ),
    d!(
        "oom-score-adj-values",
        Kind::Special(special::oom_score_adj_values),
        "0 200 800",
        true
    ),
    d!(
        "repl-diskless-sync-delay",
        Kind::Int {
            min: 0,
            max: INT_MAX
        },
        "5",
        true
    ),
    d!(
        "repl-diskless-sync-max-replicas",
        Kind::Int {
            min: 0,
            max: INT_MAX
        },
        "0",
        true
    ),
    Directive {
        name: "repl-ping-replica-period",
        aliases: &["repl-ping-slave-period"],
        kind: Kind::Int {
            min: 1,
            max: INT_MAX,
        },
        default: "10",
        mutable: true,
    },
    d!(
        "cluster-allow-pubsubshard-when-down",
        Kind::Bool,
        "yes",
        true
    ),
    d!("cluster-allow-reads-when-down", Kind::Bool, "no", true),
    d!("cluster-allow-replica-migration", Kind::Bool, "yes", true),
    // Replica migration (cluster/migration.rs).
    d!(
        "cluster-migration-barrier",
        Kind::Int {
            min: 0,
            max: INT_MAX
        },
        "1",
        true
    ),
    d!(
        "cluster-link-sendbuf-limit",
        Kind::Memory {
            min: 0,
            max: LONG_MAX
        },
        "0",
        true
    ),
    d!(
        "cluster-announce-bus-port",
        Kind::Int { min: 0, max: 65535 },
        "0",
        true
    ),
    d!("cluster-announce-hostname", Kind::Str, "", true),
    d!("cluster-announce-ip", Kind::Str, "", true),
    d!(
        "cluster-announce-port",
        Kind::Int { min: 0, max: 65535 },
        "0",
        true
    ),
    d!("cluster-config-file", Kind::Str, "nodes.conf", false),
    d!("cluster-enabled", Kind::Bool, "no", false),
    d!(
        "cluster-node-timeout",
        Kind::Int {
            min: 0,
            max: LONG_MAX
        },
        "15000",
        true
    ),
    d!("cluster-port", Kind::Int { min: 0, max: 65535 }, "0", false),
    d!(
        "cluster-preferred-endpoint-type",
        Kind::Enum(&["ip", "hostname", "unknown-endpoint"]),
        "ip",
        true
    ),
    d!("cluster-require-full-coverage", Kind::Bool, "yes", true),
    // Failover (cluster/failover.rs).
    Directive {
        name: "cluster-replica-no-failover",
        aliases: &["cluster-slave-no-failover"],
        kind: Kind::Bool,
        default: "no",
        mutable: true,
    },
    Directive {
        name: "cluster-replica-validity-factor",
        aliases: &["cluster-slave-validity-factor"],
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
        },
        default: "10",
        mutable: true,
    },
    d!("port", Kind::Int { min: 0, max: 65535 }, "6379", true),
    d!("bind", Kind::Addresses, "* -::*", true),
    // A unix-domain socket clients may also connect to (shard 0 serves it).
    d!("unixsocket", Kind::Str, "", false),
    d!(
        "unixsocketperm",
        Kind::Special(special::octal_perm),
        "0",
        false
    ),
    d!("protected-mode", Kind::Bool, "yes", true),
    d!("requirepass", Kind::Str, "", true),
    // ACL (server/acl): new users' channel rule, the users' file.
    d!(
        "acl-pubsub-default",
        Kind::Enum(&["allchannels", "resetchannels"]),
        "resetchannels",
        true
    ),
    d!("aclfile", Kind::Str, "", false),
    d!("daemonize", Kind::Bool, "no", false),
    d!("dir", Kind::Str, ".", true),
    // Read at every save and load (command/save.rs, persist/bgsave).
    d!("dbfilename", Kind::Str, "dump.rdb", true),
    d!("logfile", Kind::Str, "", false),
    d!(
        "loglevel",
        Kind::Enum(&["debug", "verbose", "notice", "warning"]),
        "notice",
        true
    ),
    d!("pidfile", Kind::Str, "", false),
    d!(
        "timeout",
        Kind::Int {
            min: 0,
            max: INT_MAX
        },
        "0",
        true
    ),
    d!(
        "tcp-keepalive",
        Kind::Int {
            min: 0,
            max: INT_MAX
        },
        "300",
        true
    ),
    d!(
        "tcp-backlog",
        Kind::Int {
            min: 0,
            max: INT_MAX
        },
        "511",
        false
    ),
    d!(
        "maxclients",
        Kind::Int {
            min: 1,
            max: UINT_MAX
        },
        "10000",
        true
    ),
    d!(
        "databases",
        Kind::Int {
            min: 1,
            max: INT_MAX
        },
        "16",
        false
    ),
    d!(
        "proto-max-bulk-len",
        Kind::Memory {
            min: 1024 * 1024,
            max: LONG_MAX
        },
        "536870912",
        true
    ),
    d!(
        "client-query-buffer-limit",
        Kind::Memory {
            min: 1024 * 1024,
            max: LONG_MAX
        },
        "1073741824",
        true
    ),
    d!(
        "hz",
        Kind::Int {
            min: 0,
            max: INT_MAX
        },
        "10",
        true
    ),
    // Compact encodings of small collections (7.0 names; 6.x ziplist
    // names as aliases). Kinds and defaults as redis-server 7.0.15.
    Directive {
        name: "list-max-listpack-size",
        aliases: &["list-max-ziplist-size"],
        kind: Kind::Int {
            min: INT_MIN,
            max: INT_MAX,
        },
        default: "-2",
        mutable: true,
    },
    d!(
        "list-compress-depth",
        Kind::Int {
            min: 0,
            max: INT_MAX
        },
        "0",
        true
    ),
    Directive {
        name: "hash-max-listpack-entries",
        aliases: &["hash-max-ziplist-entries"],
        kind: Kind::Int {
            min: 0,
            max: LONG_MAX,
        },
        default: "512",
        mutable: true,
    },
    Directive {
        name: "hash-max-listpack-value",
        aliases: &["hash-max-ziplist-value"],
        kind: Kind::Memory {
            min: 0,
            max: LONG_MAX,
        },
        default: "64",
        mutable: true,
    },
    d!(
        "set-max-intset-entries",
        Kind::Int {
            min: 0,
            max: LONG_MAX
        },
        "512",
        true
    ),
    // Redis 7.2's listpack sets (not in 7.0's CONFIG GET *).
    d!(
        "set-max-listpack-entries",
        Kind::Int {
            min: 0,
            max: LONG_MAX
        },
        "128",
        true
    ),
    d!(
        "set-max-listpack-value",
        Kind::Memory {
            min: 0,
            max: LONG_MAX
        },
        "64",
        true
    ),
    Directive {
        name: "zset-max-listpack-entries",
        aliases: &["zset-max-ziplist-entries"],
        kind: Kind::Int {
            min: 0,
            max: LONG_MAX,
        },
        default: "128",
        mutable: true,
    },
    Directive {
        name: "zset-max-listpack-value",
        aliases: &["zset-max-ziplist-value"],
        kind: Kind::Memory {
            min: 0,
            max: LONG_MAX,
        },
        default: "64",
        mutable: true,
    },
    d!(
        "stream-node-max-bytes",
        Kind::Memory {
            min: 0,
            max: LONG_MAX
        },
        "4096",
        true
    ),
    d!(
        "stream-node-max-entries",
        Kind::Int {
            min: 0,
            max: LONG_MAX
        },
        "100",
        true
    ),
    d!(
        "hll-sparse-max-bytes",
        Kind::Memory {
            min: 0,
            max: LONG_MAX
        },
        "3000",
        true
    ),
    // Persistence (persist/bgsave): `save` rules, MISCONF, BGSAVE's fsyncs.
    d!(
        "save",
        Kind::Special(special::save),
        "3600 1 300 100 60 10000",
        true
    ),
    d!(
        "notify-keyspace-events",
        Kind::Special(special::notify_keyspace_events),
        "",
        true
    ),
    d!("stop-writes-on-bgsave-error", Kind::Bool, "yes", true),
    d!("rdb-save-incremental-fsync", Kind::Bool, "yes", true),
    d!("rdbcompression", Kind::Bool, "yes", true),
    // The AOF (persist/aof).
    d!("aof-disable-auto-gc", Kind::Bool, "no", true),
    d!("aof-load-truncated", Kind::Bool, "yes", true),
    d!("aof-use-rdb-preamble", Kind::Bool, "yes", true),
    d!("aof-timestamp-enabled", Kind::Bool, "no", true),
    d!("appenddirname", Kind::Str, "appendonlydir", false),
    d!("appendfilename", Kind::Str, "appendonly.aof", false),
    d!(
        "appendfsync",
        Kind::Enum(&["everysec", "always", "no"]),
        "everysec",
        true
    ),
    d!("appendonly", Kind::Bool, "no", true),
    d!(
        "auto-aof-rewrite-min-size",
        Kind::Memory {
            min: 0,
            max: LONG_MAX
        },
        "67108864",
        true
    ),
    d!(
        "auto-aof-rewrite-percentage",
        Kind::Int {
            min: 0,
            max: INT_MAX
        },
        "100",
        true
    ),
    // Shardis's own: data shards (cores). 0 = the default for this host.
    d!("shards", Kind::Int { min: 0, max: 1024 }, "0", false),
    // Replica side (repl/replica).
    d!(
        "repl-timeout",
        Kind::Int {
            min: 1,
            max: INT_MAX
        },
        "60",
        true
    ),
    Directive {
        name: "replica-announce-ip",
        aliases: &["slave-announce-ip"],
        kind: Kind::Str,
        default: "",
        mutable: true,
    },
    Directive {
        name: "replica-announce-port",
        aliases: &["slave-announce-port"],
        kind: Kind::Int { min: 0, max: 65535 },
        default: "0",
        mutable: true,
    },
    d!("replica-announced", Kind::Bool, "yes", true),
    Directive {
        name: "replica-priority",
        aliases: &["slave-priority"],
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
        },
        default: "100",
        mutable: true,
    },
    Directive {
        name: "replica-read-only",
        aliases: &["slave-read-only"],
        kind: Kind::Bool,
        default: "yes",
        mutable: true,
    },
    Directive {
        name: "replica-serve-stale-data",
        aliases: &["slave-serve-stale-data"],
        kind: Kind::Bool,
        default: "yes",
        mutable: true,
    },
    Directive {
        name: "replicaof",
        aliases: &["slaveof"],
        kind: Kind::Special(special::replicaof),
        default: "",
        mutable: false,
    },
    // Memory limit and eviction (server/evict.rs).
    d!("lazyfree-lazy-eviction", Kind::Bool, "no", true),
    d!(
        "lfu-decay-time",
        Kind::Int {
            min: 0,
            max: INT_MAX
        },
        "1",
        true
    ),
    d!(
        "lfu-log-factor",
        Kind::Int {
            min: 0,
            max: INT_MAX
        },
        "10",
        true
    ),
    d!(
        "maxmemory",
        Kind::Memory {
            min: 0,
            max: LONG_MAX
        },
        "0",
        true
    ),
    d!(
        "maxmemory-eviction-tenacity",
        Kind::Int { min: 0, max: 100 },
        "10",
        true
    ),
    d!(
        "maxmemory-policy",
        Kind::Enum(&[
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "noeviction"
        ]),
        "noeviction",
        true
    ),
    d!(
        "maxmemory-samples",
        Kind::Int {
            min: 1,
            max: INT_MAX
        },
        "5",
        true
    ),
    Directive {
        name: "replica-ignore-maxmemory",
        aliases: &["slave-ignore-maxmemory"],
        kind: Kind::Bool,
        default: "yes",
        mutable: true,
    },
    d!(
        "tracking-table-max-keys",
        Kind::Int {
            min: 0,
            max: LONG_MAX
        },
        "1000000",
        true
    ),
    d!(
        "proc-title-template",
        Kind::Str,
        "{title} {listen-addr} {server-mode}",
        true
    ),
    d!("set-proc-title", Kind::Bool, "yes", false),
    // Seconds a shutdown waits for lagging replicas (server/shutdown.rs).
    d!(
        "shutdown-timeout",
        Kind::Int {
            min: 0,
            max: INT_MAX
        },
        "10",
        true
    ),
];

/// Redis 7.0 directives Shardis does not implement yet, each with its
/// Redis default, which is what Shardis does anyway. Only that value is
/// accepted (from a file, the command line or CONFIG SET).
#[rustfmt::skip]
pub static UNSUPPORTED: &[Directive] = &[
    d!("active-defrag-cycle-max", Kind::Int { min: 1, max: 99 }, "25", true),
    d!("active-defrag-cycle-min", Kind::Int { min: 1, max: 99 }, "1", true),
    d!("active-defrag-ignore-bytes", Kind::Memory { min: 1, max: LONG_MAX }, "104857600", true),
    d!("active-defrag-max-scan-fields", Kind::Int { min: 1, max: LONG_MAX }, "1000", true),
    d!("active-defrag-threshold-lower", Kind::Int { min: 0, max: 1000 }, "10", true),
    d!("active-defrag-threshold-upper", Kind::Int { min: 0, max: 1000 }, "100", true),
    d!("active-expire-effort", Kind::Int { min: 1, max: 10 }, "1", true),
    d!("activedefrag", Kind::Bool, "no", true),
    d!("activerehashing", Kind::Bool, "yes", true),
    d!("aof-rewrite-incremental-fsync", Kind::Bool, "yes", true),
    d!("aof_rewrite_cpulist", Kind::Str, "", false),
    d!("bgsave_cpulist", Kind::Str, "", false),
    d!("bio_cpulist", Kind::Str, "", false),
    d!("cluster-announce-tls-port", Kind::Int { min: 0, max: 65535 }, "0", true),
    d!("crash-log-enabled", Kind::Bool, "yes", true),
    d!("disable-thp", Kind::Bool, "yes", false),
    d!("dynamic-hz", Kind::Bool, "yes", true),
    d!("ignore-warnings", Kind::Str, "", true),
    d!("io-threads", Kind::Int { min: 1, max: 128 }, "1", false),
    d!("io-threads-do-reads", Kind::Bool, "no", false),
    d!("jemalloc-bg-thread", Kind::Bool, "yes", true),
    d!("lazyfree-lazy-expire", Kind::Bool, "no", true),
    d!("lazyfree-lazy-server-del", Kind::Bool, "no", true),
    d!("no-appendfsync-on-rewrite", Kind::Bool, "no", true),
    d!("rdb-del-sync-files", Kind::Bool, "no", true),
    d!("rdbchecksum", Kind::Bool, "yes", false),
    d!("repl-disable-tcp-nodelay", Kind::Bool, "no", true),
    d!("replica-ignore-disk-write-errors", Kind::Bool, "no", true),
    Directive { name: "replica-lazy-flush", aliases: &["slave-lazy-flush"], kind: Kind::Bool, default: "no", mutable: true },
    d!("server_cpulist", Kind::Str, "", false),
    d!("socket-mark-id", Kind::Int { min: 0, max: UINT_MAX }, "0", false),
    d!("supervised", Kind::Enum(&["upstart", "systemd", "auto", "no"]), "no", false),
    d!("syslog-enabled", Kind::Bool, "no", false),
    d!("syslog-facility", Kind::Enum(&["user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"]), "local0", false),
    d!("syslog-ident", Kind::Str, "redis", false),
    d!("tls-auth-clients", Kind::Enum(&["no", "yes", "optional"]), "yes", true),
    d!("tls-ca-cert-dir", Kind::Str, "", true),
    d!("tls-ca-cert-file", Kind::Str, "", true),
    d!("tls-cert-file", Kind::Str, "", true),
    d!("tls-ciphers", Kind::Str, "", true),
    d!("tls-ciphersuites", Kind::Str, "", true),
    d!("tls-client-cert-file", Kind::Str, "", true),
    d!("tls-client-key-file", Kind::Str, "", true),
    d!("tls-client-key-file-pass", Kind::Str, "", true),
    d!("tls-cluster", Kind::Bool, "no", true),
    d!("tls-dh-params-file", Kind::Str, "", true),
    d!("tls-key-file", Kind::Str, "", true),
    d!("tls-key-file-pass", Kind::Str, "", true),
    d!("tls-port", Kind::Int { min: 0, max: 65535 }, "0", true),
    d!("tls-prefer-server-ciphers", Kind::Bool, "no", true),
    d!("tls-protocols", Kind::Str, "", true),
    d!("tls-replication", Kind::Bool, "no", true),
    d!("tls-session-cache-size", Kind::Int { min: 0, max: INT_MAX }, "20480", true),
    d!("tls-session-cache-timeout", Kind::Int { min: 0, max: INT_MAX }, "300", true),
    d!("tls-session-caching", Kind::Bool, "yes", true),
];

/// Directives a CONFIG GET pattern never matches (only their exact name
/// does), so `CONFIG GET *` lists what redis-server 7.0 lists: Shardis's
/// own and Redis 7.2's.
pub static HIDDEN: &[&str] = &[
    "shards",
    "rdb-key-save-delay",
    "key-load-delay",
    "loading-process-events-interval-bytes",
    "use-exit-on-panic",
    "set-max-listpack-entries",
    "set-max-listpack-value",
    // Hidden in Debian's 7.0.15 too (its introspection test sets every
    // listed directive and would trip on this immutable one).
    "lua-enable-deprecated-api",
];

/// Directives CONFIG SET refuses unless `enable-protected-configs` allows
/// the connection (command/protected.rs).
pub static PROTECTED: &[&str] = &["dir", "dbfilename"];

/// Directives CONFIG SET refuses with -LOADING while a dataset loads
/// (Redis's DENY_LOADING_CONFIG).
pub static DENY_LOADING: &[&str] = &["appendonly", "repl-diskless-load", "dir"];

/// The directive `name` names, case-insensitively, aliases included,
/// and whether Shardis applies it (false: only its default is accepted).
pub fn lookup(name: &str) -> Option<(&'static Directive, bool)> {
    let hit = |d: &&Directive| {
        d.name.eq_ignore_ascii_case(name) || d.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    };
    if let Some(d) = DIRECTIVES.iter().find(hit) {
        return Some((d, true));
    }
    UNSUPPORTED.iter().find(hit).map(|d| (d, false))
}

/// A directive Shardis applies, by name or alias.
#[cfg(test)]
pub fn find(name: &str) -> Option<&'static Directive> {
    lookup(name).filter(|(_, applied)| *applied).map(|(d, _)| d)
}

/// Whether a user value means the same as a canonical one (`""` and
/// `''` both mean empty; yes/no case-insensitive).
pub fn same_setting(user: &str, canonical: &str) -> bool {
    user.trim().eq_ignore_ascii_case(canonical)
}

/// Redis's `memtoull`: digits then an optional unit (b, k, kb, m, mb, g,
/// gb, any case); no sign, no spaces.
pub fn parse_memory(s: &str) -> Option<i64> {
    let digits = s.bytes().take_while(|c| c.is_ascii_digit()).count();
    let (num, unit) = s.split_at(digits);
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    let v: u64 = if num.is_empty() { 0 } else { num.parse().ok()? };
    let v = v.checked_mul(mul)?;
    i64::try_from(v).ok()
}

/// Redis's `string2ll`, as CONFIG parses plain integers.
pub fn parse_int(s: &str) -> Option<i64> {
    crate::resp::parse_i64(s.as_bytes())
}

impl Kind {
    /// Whether the value is several words (CONFIG SET splits its value
    /// argument into them).
    pub fn multi_arg(&self) -> bool {
        matches!(self, Kind::Addresses | Kind::Special(_))
    }

    /// Validates user text and returns the canonical form, or Redis's
    /// reason for refusing it. `current` is the value it replaces.
    pub fn normalize(&self, args: &[String], current: &str) -> Result<String, String> {
        if let Kind::Special(check) = self {
            return check(args, current);
        }
        if let Kind::Addresses = self {
            return addresses(args);
        }
        if args.len() != 1 {
            return Err("wrong number of arguments".into());
        }
        let v = &args[0];
        match *self {
            Kind::Bool => match v.to_ascii_lowercase().as_str() {
                "yes" => Ok("yes".into()),
                "no" => Ok("no".into()),
                _ => Err("argument must be 'yes' or 'no'".into()),
            },
            Kind::Int { min, max } => {
                let n = parse_int(v)
                    .ok_or_else(|| "argument couldn't be parsed into an integer".to_string())?;
                if n < min || n > max {
                    return Err(format!(
                        "argument must be between {min} and {max} inclusive"
                    ));
                }
                Ok(n.to_string())
            }
            Kind::Memory { min, max } => {
                let n =
                    parse_memory(v).ok_or_else(|| "argument must be a memory value".to_string())?;
                if n < min || n > max {
                    return Err(format!(
                        "argument must be between {min} and {max} inclusive"
                    ));
                }
                Ok(n.to_string())
            }
            Kind::Str => Ok(v.clone()),
            Kind::Enum(choices) => {
                let lower = v.to_ascii_lowercase();
                if choices.contains(&lower.as_str()) {
                    Ok(lower)
                } else {
                    Err(format!(
                        "argument(s) must be one of the following: {}",
                        choices.join(", ")
                    ))
                }
            }
            Kind::Addresses | Kind::Special(_) => unreachable!(),
        }
    }
}

/// `bind`'s addresses, as Redis's setConfigBindOption: at most 16; none
/// (or one empty word) means no TCP listener. Whether each one can be
/// bound is the listener's concern.
fn addresses(args: &[String]) -> Result<String, String> {
    const CONFIG_BINDADDR_MAX: usize = 16;
    if args.len() > CONFIG_BINDADDR_MAX {
        return Err("Too many bind addresses specified.".into());
    }
    Ok(args.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1kb"), Some(1024));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("2GB"), Some(2 << 30));
        assert_eq!(parse_memory("x"), None);
        assert_eq!(parse_memory("-1"), None);
        assert_eq!(parse_memory("+1"), None);
    }

    #[test]
    fn normalize_checks_bounds() {
        let port = find("port").unwrap();
        assert!(port.kind.normalize(&["70000".into()], "").is_err());
        assert_eq!(port.kind.normalize(&["7000".into()], "").unwrap(), "7000");
        assert!(port.kind.normalize(&["+7000".into()], "").is_err());
        let pm = find("protected-mode").unwrap();
        assert_eq!(pm.kind.normalize(&["YES".into()], "").unwrap(), "yes");
    }

    #[test]
    fn every_name_once() {
        let mut seen = std::collections::HashSet::new();
        for d in DIRECTIVES.iter().chain(UNSUPPORTED) {
            for n in std::iter::once(&d.name).chain(d.aliases) {
                assert!(seen.insert(*n), "{n} listed twice");
            }
        }
    }

    #[test]
    fn defaults_are_canonical() {
        for d in DIRECTIVES.iter().chain(UNSUPPORTED) {
            if matches!(d.kind, Kind::Str | Kind::Addresses) || d.default.is_empty() {
                continue;
            }
            let words: Vec<String> = d.default.split(' ').map(String::from).collect();
            let args = if d.kind.multi_arg() {
                words
            } else {
                vec![d.default.to_string()]
            };
            assert_eq!(
                d.kind.normalize(&args, d.default).as_deref(),
                Ok(d.default),
                "{}",
                d.name
            );
        }
    }
}
