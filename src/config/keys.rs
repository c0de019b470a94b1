//! Every directive the code reads, as a typed key: a misspelt name is a
//! compile error, and a test checks each key against the directive table
//! (its name and the kind of value it holds).

use super::{FlagKey, IntKey, TextKey};

pub const ACLLOG_MAX_LEN: IntKey = IntKey("acllog-max-len");
pub const AUTO_AOF_REWRITE_MIN_SIZE: IntKey = IntKey("auto-aof-rewrite-min-size");
pub const AUTO_AOF_REWRITE_PERCENTAGE: IntKey = IntKey("auto-aof-rewrite-percentage");
pub const BUSY_REPLY_THRESHOLD: IntKey = IntKey("busy-reply-threshold");
pub const CLIENT_QUERY_BUFFER_LIMIT: IntKey = IntKey("client-query-buffer-limit");
pub const CLUSTER_ANNOUNCE_BUS_PORT: IntKey = IntKey("cluster-announce-bus-port");
pub const CLUSTER_ANNOUNCE_PORT: IntKey = IntKey("cluster-announce-port");
pub const CLUSTER_LINK_SENDBUF_LIMIT: IntKey = IntKey("cluster-link-sendbuf-limit");
pub const CLUSTER_MIGRATION_BARRIER: IntKey = IntKey("cluster-migration-barrier");
pub const CLUSTER_NODE_TIMEOUT: IntKey = IntKey("cluster-node-timeout");
pub const CLUSTER_PORT: IntKey = IntKey("cluster-port");
pub const CLUSTER_REPLICA_VALIDITY_FACTOR: IntKey = IntKey("cluster-replica-validity-factor");
pub const DATABASES: IntKey = IntKey("databases");
pub const HASH_MAX_LISTPACK_ENTRIES: IntKey = IntKey("hash-max-listpack-entries");
pub const HASH_MAX_LISTPACK_VALUE: IntKey = IntKey("hash-max-listpack-value");
pub const HLL_SPARSE_MAX_BYTES: IntKey = IntKey("hll-sparse-max-bytes");
pub const HZ: IntKey = IntKey("hz");
pub const KEY_LOAD_DELAY: IntKey = IntKey("key-load-delay");
pub const LOADING_PROCESS_EVENTS_INTERVAL_BYTES: IntKey =
    IntKey("loading-process-events-interval-bytes");
pub const LATENCY_MONITOR_THRESHOLD: IntKey = IntKey("latency-monitor-threshold");
pub const LFU_DECAY_TIME: IntKey = IntKey("lfu-decay-time");
pub const LFU_LOG_FACTOR: IntKey = IntKey("lfu-log-factor");
pub const LIST_COMPRESS_DEPTH: IntKey = IntKey("list-compress-depth");
pub const LIST_MAX_LISTPACK_SIZE: IntKey = IntKey("list-max-listpack-size");
pub const MAXCLIENTS: IntKey = IntKey("maxclients");
pub const MAXMEMORY: IntKey = IntKey("maxmemory");
pub const MAXMEMORY_EVICTION_TENACITY: IntKey = IntKey("maxmemory-eviction-tenacity");
pub const MAXMEMORY_SAMPLES: IntKey = IntKey("maxmemory-samples");
pub const MIN_REPLICAS_MAX_LAG: IntKey = IntKey("min-replicas-max-lag");
pub const MIN_REPLICAS_TO_WRITE: IntKey = IntKey("min-replicas-to-write");
pub const PORT: IntKey = IntKey("port");
pub const PROTO_MAX_BULK_LEN: IntKey = IntKey("proto-max-bulk-len");
pub const RDB_KEY_SAVE_DELAY: IntKey = IntKey("rdb-key-save-delay");
pub const REPLICA_ANNOUNCE_PORT: IntKey = IntKey("replica-announce-port");
pub const REPLICA_PRIORITY: IntKey = IntKey("replica-priority");
pub const REPL_BACKLOG_SIZE: IntKey = IntKey("repl-backlog-size");
pub const REPL_BACKLOG_TTL: IntKey = IntKey("repl-backlog-ttl");
pub const REPL_DISKLESS_SYNC_DELAY: IntKey = IntKey("repl-diskless-sync-delay");
pub const REPL_DISKLESS_SYNC_MAX_REPLICAS: IntKey = IntKey("repl-diskless-sync-max-replicas");
pub const REPL_PING_REPLICA_PERIOD: IntKey = IntKey("repl-ping-replica-period");
pub const REPL_TIMEOUT: IntKey = IntKey("repl-timeout");
pub const SHUTDOWN_TIMEOUT: IntKey = IntKey("shutdown-timeout");
pub const SET_MAX_INTSET_ENTRIES: IntKey = IntKey("set-max-intset-entries");
pub const SET_MAX_LISTPACK_ENTRIES: IntKey = IntKey("set-max-listpack-entries");
pub const SET_MAX_LISTPACK_VALUE: IntKey = IntKey("set-max-listpack-value");
pub const SHARDS: IntKey = IntKey("shards");
pub const SLOWLOG_LOG_SLOWER_THAN: IntKey = IntKey("slowlog-log-slower-than");
pub const SLOWLOG_MAX_LEN: IntKey = IntKey("slowlog-max-len");
pub const TCP_BACKLOG: IntKey = IntKey("tcp-backlog");
pub const TCP_KEEPALIVE: IntKey = IntKey("tcp-keepalive");
pub const TIMEOUT: IntKey = IntKey("timeout");
pub const TRACKING_TABLE_MAX_KEYS: IntKey = IntKey("tracking-table-max-keys");
pub const ZSET_MAX_LISTPACK_ENTRIES: IntKey = IntKey("zset-max-listpack-entries");
pub const STREAM_NODE_MAX_BYTES: IntKey = IntKey("stream-node-max-bytes");
pub const STREAM_NODE_MAX_ENTRIES: IntKey = IntKey("stream-node-max-entries");
pub const ZSET_MAX_LISTPACK_VALUE: IntKey = IntKey("zset-max-listpack-value");

pub const ALWAYS_SHOW_LOGO: FlagKey = FlagKey("always-show-logo");
pub const AOF_DISABLE_AUTO_GC: FlagKey = FlagKey("aof-disable-auto-gc");
pub const AOF_LOAD_TRUNCATED: FlagKey = FlagKey("aof-load-truncated");
pub const AOF_USE_RDB_PREAMBLE: FlagKey = FlagKey("aof-use-rdb-preamble");
pub const AOF_TIMESTAMP_ENABLED: FlagKey = FlagKey("aof-timestamp-enabled");
pub const USE_EXIT_ON_PANIC: FlagKey = FlagKey("use-exit-on-panic");
pub const APPENDONLY: FlagKey = FlagKey("appendonly");
pub const CLUSTER_ALLOW_READS_WHEN_DOWN: FlagKey = FlagKey("cluster-allow-reads-when-down");
pub const CLUSTER_ALLOW_REPLICA_MIGRATION: FlagKey = FlagKey("cluster-allow-replica-migration");
pub const CLUSTER_ENABLED: FlagKey = FlagKey("cluster-enabled");
pub const CLUSTER_REPLICA_NO_FAILOVER: FlagKey = FlagKey("cluster-replica-no-failover");
pub const CLUSTER_REQUIRE_FULL_COVERAGE: FlagKey = FlagKey("cluster-require-full-coverage");
pub const DAEMONIZE: FlagKey = FlagKey("daemonize");
pub const LUA_ENABLE_DEPRECATED_API: FlagKey = FlagKey("lua-enable-deprecated-api");
pub const LATENCY_TRACKING: FlagKey = FlagKey("latency-tracking");
pub const LAZYFREE_LAZY_EVICTION: FlagKey = FlagKey("lazyfree-lazy-eviction");
pub const LAZYFREE_LAZY_EXPIRE: FlagKey = FlagKey("lazyfree-lazy-expire");
pub const LAZYFREE_LAZY_USER_DEL: FlagKey = FlagKey("lazyfree-lazy-user-del");
pub const LAZYFREE_LAZY_USER_FLUSH: FlagKey = FlagKey("lazyfree-lazy-user-flush");
pub const PROTECTED_MODE: FlagKey = FlagKey("protected-mode");
pub const RDBCHECKSUM: FlagKey = FlagKey("rdbchecksum");
pub const RDBCOMPRESSION: FlagKey = FlagKey("rdbcompression");
pub const RDB_SAVE_INCREMENTAL_FSYNC: FlagKey = FlagKey("rdb-save-incremental-fsync");
pub const REPLICA_ANNOUNCED: FlagKey = FlagKey("replica-announced");
pub const REPLICA_IGNORE_MAXMEMORY: FlagKey = FlagKey("replica-ignore-maxmemory");
pub const REPLICA_READ_ONLY: FlagKey = FlagKey("replica-read-only");
pub const REPLICA_SERVE_STALE_DATA: FlagKey = FlagKey("replica-serve-stale-data");
pub const REPL_DISKLESS_SYNC: FlagKey = FlagKey("repl-diskless-sync");
pub const SET_PROC_TITLE: FlagKey = FlagKey("set-proc-title");
pub const STOP_WRITES_ON_BGSAVE_ERROR: FlagKey = FlagKey("stop-writes-on-bgsave-error");

pub const ACLFILE: TextKey = TextKey("aclfile");
pub const ACL_PUBSUB_DEFAULT: TextKey = TextKey("acl-pubsub-default");
pub const APPENDDIRNAME: TextKey = TextKey("appenddirname");
pub const APPENDFILENAME: TextKey = TextKey("appendfilename");
pub const APPENDFSYNC: TextKey = TextKey("appendfsync");
pub const BIND: TextKey = TextKey("bind");
pub const BIND_SOURCE_ADDR: TextKey = TextKey("bind-source-addr");
pub const CLIENT_OUTPUT_BUFFER_LIMIT: TextKey = TextKey("client-output-buffer-limit");
pub const CLUSTER_ANNOUNCE_HOSTNAME: TextKey = TextKey("cluster-announce-hostname");
pub const CLUSTER_ANNOUNCE_IP: TextKey = TextKey("cluster-announce-ip");
pub const CLUSTER_CONFIG_FILE: TextKey = TextKey("cluster-config-file");
pub const CLUSTER_PREFERRED_ENDPOINT_TYPE: TextKey = TextKey("cluster-preferred-endpoint-type");
pub const DBFILENAME: TextKey = TextKey("dbfilename");
pub const DIR: TextKey = TextKey("dir");
pub const ENABLE_DEBUG_COMMAND: TextKey = TextKey("enable-debug-command");
pub const ENABLE_MODULE_COMMAND: TextKey = TextKey("enable-module-command");
pub const ENABLE_PROTECTED_CONFIGS: TextKey = TextKey("enable-protected-configs");
pub const LATENCY_TRACKING_INFO_PERCENTILES: TextKey = TextKey("latency-tracking-info-percentiles");
pub const LOGFILE: TextKey = TextKey("logfile");
pub const LOGLEVEL: TextKey = TextKey("loglevel");
pub const MASTERAUTH: TextKey = TextKey("masterauth");
pub const MASTERUSER: TextKey = TextKey("masteruser");
pub const MAXMEMORY_CLIENTS: TextKey = TextKey("maxmemory-clients");
pub const MAXMEMORY_POLICY: TextKey = TextKey("maxmemory-policy");
pub const OOM_SCORE_ADJ: TextKey = TextKey("oom-score-adj");
pub const OOM_SCORE_ADJ_VALUES: TextKey = TextKey("oom-score-adj-values");
pub const SHUTDOWN_ON_SIGINT: TextKey = TextKey("shutdown-on-sigint");
pub const SHUTDOWN_ON_SIGTERM: TextKey = TextKey("shutdown-on-sigterm");
pub const NOTIFY_KEYSPACE_EVENTS: TextKey = TextKey("notify-keyspace-events");
pub const PIDFILE: TextKey = TextKey("pidfile");
pub const PROPAGATION_ERROR_BEHAVIOR: TextKey = TextKey("propagation-error-behavior");
pub const PROC_TITLE_TEMPLATE: TextKey = TextKey("proc-title-template");
pub const REPLICAOF: TextKey = TextKey("replicaof");
pub const REPL_DISKLESS_LOAD: TextKey = TextKey("repl-diskless-load");
pub const REPLICA_ANNOUNCE_IP: TextKey = TextKey("replica-announce-ip");
pub const REQUIREPASS: TextKey = TextKey("requirepass");
pub const SAVE: TextKey = TextKey("save");
pub const UNIXSOCKET: TextKey = TextKey("unixsocket");
pub const UNIXSOCKETPERM: TextKey = TextKey("unixsocketperm");

/// Every IntKey above, for the test against the directive table.
pub const INTS: &[IntKey] = &[
    ACLLOG_MAX_LEN,
    AUTO_AOF_REWRITE_MIN_SIZE,
    AUTO_AOF_REWRITE_PERCENTAGE,
    CLIENT_QUERY_BUFFER_LIMIT,
    CLUSTER_ANNOUNCE_BUS_PORT,
    CLUSTER_ANNOUNCE_PORT,
    CLUSTER_LINK_SENDBUF_LIMIT,
    CLUSTER_MIGRATION_BARRIER,
    CLUSTER_NODE_TIMEOUT,
    CLUSTER_PORT,
    CLUSTER_REPLICA_VALIDITY_FACTOR,
    DATABASES,
    HASH_MAX_LISTPACK_ENTRIES,
    HASH_MAX_LISTPACK_VALUE,
    HLL_SPARSE_MAX_BYTES,
    HZ,
    KEY_LOAD_DELAY,
    LATENCY_MONITOR_THRESHOLD,
    LFU_DECAY_TIME,
    LFU_LOG_FACTOR,
    LIST_COMPRESS_DEPTH,
    LIST_MAX_LISTPACK_SIZE,
    MAXCLIENTS,
    MAXMEMORY,
    MAXMEMORY_EVICTION_TENACITY,
    MAXMEMORY_SAMPLES,
    MIN_REPLICAS_MAX_LAG,
    MIN_REPLICAS_TO_WRITE,
    PORT,
    PROTO_MAX_BULK_LEN,
    RDB_KEY_SAVE_DELAY,
    REPLICA_ANNOUNCE_PORT,
    REPLICA_PRIORITY,
    REPL_BACKLOG_SIZE,
    REPL_BACKLOG_TTL,
    REPL_DISKLESS_SYNC_DELAY,
    REPL_DISKLESS_SYNC_MAX_REPLICAS,
    REPL_PING_REPLICA_PERIOD,
    REPL_TIMEOUT,
    SET_MAX_INTSET_ENTRIES,
    SET_MAX_LISTPACK_ENTRIES,
    SET_MAX_LISTPACK_VALUE,
    SHARDS,
    SHUTDOWN_TIMEOUT,
    SLOWLOG_LOG_SLOWER_THAN,
    SLOWLOG_MAX_LEN,
    TCP_BACKLOG,
    TCP_KEEPALIVE,
    TIMEOUT,
    TRACKING_TABLE_MAX_KEYS,
    ZSET_MAX_LISTPACK_ENTRIES,
    ZSET_MAX_LISTPACK_VALUE,
];

/// Every FlagKey above, for the test against the directive table.
pub const FLAGS: &[FlagKey] = &[
    ALWAYS_SHOW_LOGO,
    AOF_DISABLE_AUTO_GC,
    AOF_LOAD_TRUNCATED,
    AOF_USE_RDB_PREAMBLE,
    AOF_TIMESTAMP_ENABLED,
    APPENDONLY,
    USE_EXIT_ON_PANIC,
    CLUSTER_ALLOW_READS_WHEN_DOWN,
    CLUSTER_ALLOW_REPLICA_MIGRATION,
    CLUSTER_ENABLED,
    CLUSTER_REPLICA_NO_FAILOVER,
    CLUSTER_REQUIRE_FULL_COVERAGE,
    DAEMONIZE,
    LATENCY_TRACKING,
    LAZYFREE_LAZY_EVICTION,
    LAZYFREE_LAZY_EXPIRE,
    LAZYFREE_LAZY_USER_DEL,
    LAZYFREE_LAZY_USER_FLUSH,
    PROTECTED_MODE,
    RDBCHECKSUM,
    RDBCOMPRESSION,
    RDB_SAVE_INCREMENTAL_FSYNC,
    REPLICA_ANNOUNCED,
    REPLICA_IGNORE_MAXMEMORY,
    REPLICA_READ_ONLY,
    REPLICA_SERVE_STALE_DATA,
    REPL_DISKLESS_SYNC,
    SET_PROC_TITLE,
    STOP_WRITES_ON_BGSAVE_ERROR,
];

/// Every TextKey above, for the test against the directive table.
pub const TEXTS: &[TextKey] = &[
    ACLFILE,
    ACL_PUBSUB_DEFAULT,
    APPENDDIRNAME,
    APPENDFILENAME,
    APPENDFSYNC,
    BIND,
    BIND_SOURCE_ADDR,
    CLIENT_OUTPUT_BUFFER_LIMIT,
    CLUSTER_ANNOUNCE_HOSTNAME,
    CLUSTER_ANNOUNCE_IP,
    CLUSTER_CONFIG_FILE,
    CLUSTER_PREFERRED_ENDPOINT_TYPE,
    DBFILENAME,
    DIR,
    ENABLE_DEBUG_COMMAND,
    ENABLE_MODULE_COMMAND,
    ENABLE_PROTECTED_CONFIGS,
    LATENCY_TRACKING_INFO_PERCENTILES,
    LOGFILE,
    LOGLEVEL,
    MASTERAUTH,
    MASTERUSER,
    MAXMEMORY_CLIENTS,
    MAXMEMORY_POLICY,
    NOTIFY_KEYSPACE_EVENTS,
    OOM_SCORE_ADJ,
    OOM_SCORE_ADJ_VALUES,
    SHUTDOWN_ON_SIGINT,
    SHUTDOWN_ON_SIGTERM,
    PIDFILE,
    PROPAGATION_ERROR_BEHAVIOR,
    PROC_TITLE_TEMPLATE,
    REPLICAOF,
    REPL_DISKLESS_LOAD,
    REPLICA_ANNOUNCE_IP,
    REQUIREPASS,
    SAVE,
    UNIXSOCKET,
    UNIXSOCKETPERM,
];
#[cfg(test)]
mod tests {
    use super::super::directives::{lookup, Kind};
    use super::*;

    /// Each key names a directive (or an alias), and its accessor suits
    /// the directive's values.
    #[test]
    fn every_key_is_a_directive_of_its_kind() {
        let kind = |name: &str| {
            let (d, _) = lookup(name).unwrap_or_else(|| panic!("{name} is no directive"));
            &d.kind
        };
        for k in INTS {
            let ok = matches!(kind(k.0), Kind::Int { .. } | Kind::Memory { .. });
            assert!(ok, "{} is not an integer", k.0);
        }
        for k in FLAGS {
            assert!(matches!(kind(k.0), Kind::Bool), "{} is not yes/no", k.0);
        }
        for k in TEXTS {
            let numeric = matches!(
                kind(k.0),
                Kind::Int { .. } | Kind::Memory { .. } | Kind::Bool
            );
            assert!(!numeric, "{} is read as text", k.0);
        }
    }
}
