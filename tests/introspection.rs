//! SLOWLOG, LATENCY, MONITOR, CLIENT REPLY, INFO commandstats /
//! errorstats / latencystats and CLIENT LIST against a running server
//! (behaviour; byte-identical replies are in tests/cases/introspection.txt).

mod common;

use common::{bulk_payload, Conn, Server};
use std::time::Duration;

fn text(reply: &[u8]) -> String {
    String::from_utf8_lossy(reply).into_owned()
}

fn info(c: &mut Conn, section: &str) -> String {
    text(&bulk_payload(&c.cmd(&["INFO", section])))
}

/// A line `prefix...` of INFO.
fn info_line(c: &mut Conn, section: &str, prefix: &str) -> Option<String> {
    info(c, section)
        .lines()
        .find(|l| l.starts_with(prefix))
        .map(str::to_string)
}

#[test]
fn slowlog_records_trims_and_redacts() {
    let server = Server::shardis(4, &[]);
    let mut c = server.conn();
    assert_eq!(c.cmd(&["CLIENT", "SETNAME", "slowpoke"]), b"+OK\r\n");
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]),
        b"+OK\r\n"
    );
    assert_eq!(c.cmd(&["SLOWLOG", "RESET"]), b"+OK\r\n");
    let long = "A".repeat(129);
    c.cmd(&["SADD", "set", "foo", &long]);
    let many: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    let mut sadd = vec!["SADD".to_string(), "set2".to_string()];
    sadd.extend(many);
    c.cmd(&sadd);
    c.cmd(&["AUTH", "nosuchpassword"]);
    c.cmd(&["CONFIG", "SET", "masterauth", "secret"]);
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"]),
        b"+OK\r\n"
    );
    let log = text(&c.cmd(&["SLOWLOG", "GET", "-1"]));
    // Newest first: config set (the one that turned the log off is not
    // logged), config set masterauth, auth, sadd set2, sadd set, reset.
    assert!(log.starts_with("*5\r\n"), "{log}");
    assert!(
        log.contains("$10\r\nmasterauth\r\n$10\r\n(redacted)\r\n"),
        "{log}"
    );
    assert!(log.contains("$4\r\nAUTH\r\n$10\r\n(redacted)\r\n"), "{log}");
    assert!(log.contains("... (11 more arguments)"), "{log}");
    assert!(
        log.contains(&format!("{}... (1 more bytes)", &long[..128])),
        "{log}"
    );
    assert!(log.contains("$8\r\nslowpoke\r\n"), "{log}");
    assert!(log.contains("127.0.0.1:"), "{log}");
    assert!(!log.contains("secret"), "{log}");
    assert_eq!(c.cmd(&["SLOWLOG", "LEN"]), b":5\r\n");
    // A shorter log keeps the newest entries.
    c.cmd(&["CONFIG", "SET", "slowlog-max-len", "2"]);
    assert_eq!(c.cmd(&["SLOWLOG", "LEN"]), b":2\r\n");
    let two = text(&c.cmd(&["SLOWLOG", "GET", "1"]));
    assert!(two.starts_with("*1\r\n*6\r\n:"), "{two}");
    assert!(two.contains("masterauth"), "{two}");
}

#[test]
fn exec_is_not_logged_its_commands_are() {
    let server = Server::shardis(4, &[]);
    let mut c = server.conn();
    c.cmd(&["SLOWLOG", "RESET"]);
    c.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    c.cmd(&["SLOWLOG", "RESET"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "k", "v"]);
    c.cmd(&["EXEC"]);
    c.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"]);
    let log = text(&c.cmd(&["SLOWLOG", "GET"]));
    assert!(log.contains("$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"), "{log}");
    assert!(!log.contains("EXEC"), "{log}");
}

#[test]
fn monitor_sees_commands_from_every_shard() {
    let server = Server::shardis(4, &[]);
    let mut m = server.conn();
    assert_eq!(m.cmd(&["MONITOR"]), b"+OK\r\n");
    let mut list = server.conn();
    let clients = text(&bulk_payload(&list.cmd(&["CLIENT", "LIST"])));
    assert!(clients.contains("flags=O "), "{clients}");
    // Several connections land on different shards; their keys too.
    let mut conns: Vec<Conn> = (0..6).map(|_| server.conn()).collect();
    let mut expected = Vec::new();
    for (i, c) in conns.iter_mut().enumerate() {
        let key = format!("key{i}");
        assert_eq!(c.cmd(&["SET", &key, "a\"b\n"]), b"+OK\r\n");
        expected.push(format!("\"SET\" \"{key}\" \"a\\\"b\\n\""));
        c.cmd(&["AUTH", "pw"]);
        expected.push("\"AUTH\" \"(redacted)\"".to_string());
    }
    // Admin commands are not fed.
    conns[0].cmd(&["CONFIG", "GET", "hz"]);
    conns[0].cmd(&["PING"]);
    expected.push("\"PING\"".to_string());
    m.set_timeout(Duration::from_secs(5));
    for want in expected {
        let line = text(&m.read_reply());
        assert!(line.starts_with('+'), "{line}");
        assert!(line.contains("[0 127.0.0.1:"), "{line}");
        assert!(line.trim_end().ends_with(&want), "{line} vs {want}");
    }
}

#[test]
fn monitor_orders_multi_exec() {
    let server = Server::shardis(2, &[]);
    let mut m = server.conn();
    m.cmd(&["MONITOR"]);
    let mut c = server.conn();
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "foo", "bar"]);
    c.cmd(&["EXEC"]);
    m.set_timeout(Duration::from_secs(5));
    let lines: Vec<String> = (0..3).map(|_| text(&m.read_reply())).collect();
    assert!(lines[0].contains("\"MULTI\""), "{lines:?}");
    assert!(lines[1].contains("\"SET\" \"foo\" \"bar\""), "{lines:?}");
    assert!(lines[2].contains("\"EXEC\""), "{lines:?}");
}

/// MONITOR shows EVAL and FCALL before the commands their scripts call,
/// those as `[<db> lua]`, as Redis feeds them (at 1 and 4 shards, and
/// the same on redis-server).
fn monitor_shows_scripts(server: &Server) {
    let name = &server.name;
    let mut c = server.conn();
    let lib = "#!lua name=monlib\nredis.register_function('monset', \
               function(keys) return redis.call('set', keys[1], 'bar') end)";
    assert_eq!(
        c.cmd(&["FUNCTION", "LOAD", "REPLACE", lib]),
        b"$6\r\nmonlib\r\n"
    );
    let mut m = server.conn();
    assert_eq!(m.cmd(&["MONITOR"]), b"+OK\r\n");
    m.set_timeout(Duration::from_secs(5));
    c.cmd(&["SELECT", "2"]);
    c.cmd(&[
        "EVAL",
        "redis.call('set', KEYS[1], ARGV[1])",
        "1",
        "foo",
        "bar",
    ]);
    c.cmd(&["FCALL", "monset", "1", "foo"]);
    let lines: Vec<String> = (0..5).map(|_| text(&m.read_reply())).collect();
    assert!(lines[0].contains("] \"SELECT\" \"2\""), "{name}: {lines:?}");
    assert!(lines[1].contains("[2 127.0.0.1:"), "{name}: {lines:?}");
    assert!(lines[1].contains("] \"EVAL\" "), "{name}: {lines:?}");
    assert!(
        lines[2].contains("[2 lua] \"set\" \"foo\" \"bar\""),
        "{name}: {lines:?}"
    );
    assert!(
        lines[3].contains("] \"FCALL\" \"monset\" \"1\" \"foo\""),
        "{name}: {lines:?}"
    );
    assert!(
        lines[4].contains("[2 lua] \"set\" \"foo\" \"bar\""),
        "{name}: {lines:?}"
    );
    c.cmd(&["FUNCTION", "FLUSH"]);
}

#[test]
fn monitor_shows_scripts_and_their_commands() {
    for shards in [1, 4] {
        monitor_shows_scripts(&Server::shardis(shards, &[]));
    }
    if common::redis_available() {
        monitor_shows_scripts(&Server::redis(&[]));
    }
}

/// `REPLCONF rdb-filter-only` (redis-cli --functions-rdb): the RDB sent
/// for SYNC has no keys, and the libraries only when "functions" is
/// asked for; an unknown filter is refused. Same on redis-server.
fn rdb_filter_only(server: &Server) {
    let name = &server.name;
    let mut c = server.conn();
    c.cmd(&["SET", "somekey", "v"]);
    let lib = "#!lua name=filterlib\nredis.register_function('ff', function() return 1 end)";
    assert_eq!(
        c.cmd(&["FUNCTION", "LOAD", "REPLACE", lib]),
        b"$9\r\nfilterlib\r\n"
    );
    let mut nocapa = server.conn();
    nocapa.cmd(&["REPLCONF", "rdb-filter-only", "functions"]);
    let r = nocapa.cmd(&["SYNC"]);
    assert_eq!(
        r, b"-ERR Filtered replica requires EOF capability\r\n",
        "{name}"
    );
    let r = c.cmd(&["REPLCONF", "rdb-filter-only", "bogus"]);
    assert_eq!(
        r, b"-ERR Unsupported rdb-filter-only option: bogus\r\n",
        "{name}"
    );
    for (filter, with_lib) in [("functions", true), ("", false)] {
        let mut r = server.conn();
        assert_eq!(r.cmd(&["REPLCONF", "rdb-only", "1"]), b"+OK\r\n", "{name}");
        assert_eq!(r.cmd(&["REPLCONF", "capa", "eof"]), b"+OK\r\n", "{name}");
        let ok = r.cmd(&["REPLCONF", "rdb-filter-only", filter]);
        assert_eq!(ok, b"+OK\r\n", "{name}");
        r.send(&["SYNC"]);
        let got = r.read_until_closed(Duration::from_secs(10));
        // Newlines may keep the link alive before `$EOF:<mark>`; the
        // mark ends the transfer too.
        let start = got.iter().position(|&b| b == b'$').expect("bulk");
        let text = String::from_utf8_lossy(&got[start..]).into_owned();
        let (head, rdb) = text.split_once("\r\n").unwrap();
        let mark = head.strip_prefix("$EOF:").expect("a diskless transfer");
        assert!(rdb.starts_with("REDIS0010"), "{name}: {text:?}");
        assert!(rdb.ends_with(mark), "{name}: {text:?}");
        assert!(
            !rdb.contains("somekey"),
            "{name} {filter:?}: keys in {text:?}"
        );
        assert_eq!(
            rdb.contains("filterlib"),
            with_lib,
            "{name} {filter:?}: {text:?}"
        );
    }
    c.cmd(&["FUNCTION", "FLUSH"]);
}

#[test]
fn rdb_filter_only_leaves_the_keys_out() {
    for shards in [1, 4] {
        rdb_filter_only(&Server::shardis(shards, &[]));
    }
    if common::redis_available() {
        rdb_filter_only(&Server::redis(&[]));
    }
}

#[test]
fn client_reply_off_on_skip() {
    let server = Server::shardis(2, &[]);
    let mut c = server.conn();
    c.send_raw(b"CLIENT REPLY OFF\r\nPING a\r\nPING b\r\nCLIENT REPLY ON\r\nPING c\r\n");
    assert_eq!(c.read_reply(), b"+OK\r\n");
    assert_eq!(c.read_reply(), b"$1\r\nc\r\n");
    c.send_raw(b"CLIENT REPLY SKIP\r\nPING d\r\nPING e\r\n");
    assert_eq!(c.read_reply(), b"$1\r\ne\r\n");
    c.send_raw(b"CLIENT REPLY SKIP\r\nCLIENT REPLY ON\r\nPING\r\n");
    assert_eq!(c.read_reply(), b"+OK\r\n");
    assert_eq!(c.read_reply(), b"+PONG\r\n");
}

#[test]
fn commandstats_errorstats_latencystats() {
    let server = Server::shardis(4, &[]);
    let mut c = server.conn();
    assert_eq!(c.cmd(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
    for i in 0..10 {
        c.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    c.cmd(&["LPUSH", "k1", "x"]); // WRONGTYPE: a failed call
    c.cmd(&["GET"]); // arity: a rejected call
    c.cmd(&["NOSUCHCOMMAND"]);
    let set = info_line(&mut c, "commandstats", "cmdstat_set:").unwrap();
    assert!(set.starts_with("cmdstat_set:calls=10,usec="), "{set}");
    assert!(set.ends_with(",rejected_calls=0,failed_calls=0"), "{set}");
    let lpush = info_line(&mut c, "commandstats", "cmdstat_lpush:").unwrap();
    assert!(
        lpush.ends_with("rejected_calls=0,failed_calls=1"),
        "{lpush}"
    );
    let get = info_line(&mut c, "commandstats", "cmdstat_get:").unwrap();
    assert!(get.starts_with("cmdstat_get:calls=0,"), "{get}");
    assert!(get.ends_with("rejected_calls=1,failed_calls=0"), "{get}");
    let errs = info(&mut c, "errorstats");
    assert!(errs.contains("errorstat_WRONGTYPE:count=1"), "{errs}");
    assert!(errs.contains("errorstat_ERR:count=2"), "{errs}");
    let total = info_line(&mut c, "stats", "total_error_replies:").unwrap();
    assert_eq!(total, "total_error_replies:3");
    let lat = info_line(&mut c, "latencystats", "latency_percentiles_usec_set:").unwrap();
    let fields: Vec<&str> = lat.split(':').nth(1).unwrap().split(',').collect();
    assert_eq!(fields.len(), 3, "{lat}");
    assert!(
        fields[0].starts_with("p50=") && fields[2].starts_with("p99.9="),
        "{lat}"
    );
    // LATENCY HISTOGRAM: 10 calls, cumulative counts ending at 10.
    let h = text(&c.cmd(&["LATENCY", "HISTOGRAM", "set"]));
    assert!(
        h.starts_with("*2\r\n$3\r\nset\r\n*4\r\n$5\r\ncalls\r\n:10\r\n"),
        "{h}"
    );
    assert!(h.trim_end().ends_with(":10"), "{h}");
    // RESETSTAT clears all of it.
    c.cmd(&["CONFIG", "RESETSTAT"]);
    assert!(info_line(&mut c, "commandstats", "cmdstat_set:").is_none());
    assert!(!info(&mut c, "errorstats").contains("errorstat_"));
    c.cmd(&["CONFIG", "SET", "latency-tracking", "no"]);
    c.cmd(&["SET", "a", "b"]);
    assert!(!info(&mut c, "latencystats").contains("_set:"));
}

#[test]
fn latency_monitor_records_command_events() {
    let server = Server::shardis(2, &[]);
    let mut c = server.conn();
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "latency-monitor-threshold", "1"]),
        b"+OK\r\n"
    );
    // A command slow by data size: SORT of many elements.
    let members: Vec<String> = (0..200_000)
        .map(|i| (i * 7919 % 200_003).to_string())
        .collect();
    for chunk in members.chunks(10_000) {
        let mut cmd = vec!["RPUSH".to_string(), "big".to_string()];
        cmd.extend(chunk.iter().cloned());
        c.cmd(&cmd);
    }
    let mut recorded = false;
    for _ in 0..20 {
        c.cmd(&["SORT", "big", "LIMIT", "0", "1"]);
        let latest = text(&c.cmd(&["LATENCY", "LATEST"]));
        if latest.contains("$7\r\ncommand\r\n") {
            recorded = true;
            break;
        }
    }
    assert!(recorded, "no command event");
    let history = text(&c.cmd(&["LATENCY", "HISTORY", "command"]));
    assert!(
        history.starts_with('*') && !history.starts_with("*0"),
        "{history}"
    );
    let graph = text(&bulk_payload(&c.cmd(&["LATENCY", "GRAPH", "command"])));
    assert!(graph.starts_with("command - high "), "{graph}");
    let doctor = text(&bulk_payload(&c.cmd(&["LATENCY", "DOCTOR"])));
    assert!(doctor.contains("1. command: "), "{doctor}");
    assert_eq!(c.cmd(&["LATENCY", "RESET", "command"]), b":1\r\n");
    assert!(!text(&c.cmd(&["LATENCY", "LATEST"])).contains("$7\r\ncommand\r\n"));
    // The RPUSHes of 10k elements may have made "fast-command" events.
    c.cmd(&["LATENCY", "RESET"]);
    assert_eq!(c.cmd(&["LATENCY", "LATEST"]), b"*0\r\n");
}

/// A snapshot slice that holds the shard past the threshold is an event,
/// with its advice in LATENCY DOCTOR: here one big set, which a slice
/// cannot split.
#[test]
fn latency_monitor_records_snapshot_slices() {
    let server = Server::shardis(1, &[]);
    let mut c = server.conn();
    let members: Vec<String> = (0..300_000).map(|i| format!("member:{i}")).collect();
    for chunk in members.chunks(10_000) {
        let mut cmd = vec!["SADD".to_string(), "big".to_string()];
        cmd.extend(chunk.iter().cloned());
        c.cmd(&cmd);
    }
    c.cmd(&["LATENCY", "RESET"]);
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "latency-monitor-threshold", "1"]),
        b"+OK\r\n"
    );
    assert_eq!(c.cmd(&["BGSAVE"]), b"+Background saving started\r\n");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while info(&mut c, "persistence").contains("rdb_bgsave_in_progress:1") {
        assert!(std::time::Instant::now() < deadline, "BGSAVE still running");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let latest = text(&c.cmd(&["LATENCY", "LATEST"]));
    assert!(latest.contains("$14\r\nsnapshot-slice\r\n"), "{latest}");
    let doctor = text(&bulk_payload(&c.cmd(&["LATENCY", "DOCTOR"])));
    assert!(doctor.contains(". snapshot-slice: "), "{doctor}");
    assert!(doctor.contains("- A snapshot (BGSAVE"), "{doctor}");
}

/// `rbs`, `rbp` and `qbuf-free` are this connection's real buffers,
/// sized as Redis 7.0's (tests/client_buffers.rs follows the cron): a
/// reply past the reply buffer's kept size goes once written, so a
/// 100 KB reply leaves it at 1 KiB (which the reply filled: `rbp`); the
/// query buffer stays with the connection between requests.
#[test]
fn client_list_buffer_fields_are_the_real_buffers() {
    for shards in [1, 4] {
        let server = Server::shardis(shards, &[]);
        let mut big = server.conn();
        let value = "x".repeat(100_000);
        assert_eq!(big.cmd(&["SET", "big", &value]), b"+OK\r\n");
        big.cmd(&["CLIENT", "SETNAME", "big"]);
        assert_eq!(bulk_payload(&big.cmd(&["GET", "big"])).len(), 100_000);
        let mut other = server.conn();
        let mut field = |name: &str| client_field(&mut other, "big", name);
        // (The cron may have doubled it since: the reply filled it.)
        let rbs = field("rbs");
        assert!(rbs == 1024 || rbs == 2048, "shards={shards}: {rbs}");
        assert_eq!(field("rbp"), 1024, "shards={shards}");
        assert_eq!(field("qbuf"), 0, "shards={shards}");
        assert!(field("qbuf-free") >= 16 * 1024, "shards={shards}");
    }
}

/// `field` of the client named `client` in CLIENT LIST, asked on `c`.
fn client_field(c: &mut common::Conn, client: &str, field: &str) -> usize {
    let list = text(&bulk_payload(&c.cmd(&["CLIENT", "LIST"])));
    let line = list
        .lines()
        .find(|l| l.contains(&format!(" name={client} ")))
        .unwrap_or_else(|| panic!("no client {client} in {list}"));
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(&format!("{field}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{field} in {line}"))
}

/// DEBUG REPLYBUFFER acts, process-wide as on Redis: RESIZING 0 stops
/// the cron's resizes of reply buffers (1 lets a buffer that replies
/// fill grow again); PEAK-RESET-TIME NEVER keeps `rbp`, 0 resets it at
/// every cron pass, RESET restores 5 s.
#[test]
fn debug_replybuffer_resizing_and_peak_reset_time() {
    let server = Server::shardis(1, &["--enable-debug-command", "yes"]);
    let mut big = server.conn();
    let mut admin = server.conn();
    big.cmd(&["CLIENT", "SETNAME", "big"]);
    let value = "x".repeat(100_000);
    assert_eq!(big.cmd(&["SET", "big", &value]), b"+OK\r\n");
    let debug =
        |c: &mut common::Conn, what: &str, v: &str| c.cmd(&["DEBUG", "REPLYBUFFER", what, v]);
    let pause = || std::thread::sleep(std::time::Duration::from_millis(300));

    assert_eq!(debug(&mut admin, "RESIZING", "0"), b"+OK\r\n");
    for _ in 0..3 {
        assert_eq!(bulk_payload(&big.cmd(&["GET", "big"])).len(), 100_000);
        pause();
    }
    assert_eq!(
        client_field(&mut admin, "big", "rbs"),
        1024,
        "kept while resizing is off"
    );
    assert_eq!(debug(&mut admin, "RESIZING", "1"), b"+OK\r\n");
    for _ in 0..3 {
        assert_eq!(bulk_payload(&big.cmd(&["GET", "big"])).len(), 100_000);
        pause();
    }
    let grown = client_field(&mut admin, "big", "rbs");
    assert!((4096..=16384).contains(&grown), "grows again: {grown}");

    let peak_after_a_pause = |admin: &mut common::Conn, big: &mut common::Conn| {
        assert_eq!(bulk_payload(&big.cmd(&["GET", "big"])).len(), 100_000);
        assert_eq!(big.cmd(&["PING"]), b"+PONG\r\n");
        pause();
        client_field(admin, "big", "rbp")
    };
    // Reset every 100 ms, the peak is soon 0, and the idle client's
    // buffer shrinks back to 1 KiB.
    assert_eq!(debug(&mut admin, "PEAK-RESET-TIME", "100"), b"+OK\r\n");
    assert_eq!(peak_after_a_pause(&mut admin, &mut big), 0, "reset");
    assert_eq!(client_field(&mut admin, "big", "rbs"), 1024, "shrunk");
    assert_eq!(debug(&mut admin, "PEAK-RESET-TIME", "NEVER"), b"+OK\r\n");
    assert!(
        peak_after_a_pause(&mut admin, &mut big) >= 1024,
        "the peak stands"
    );
    assert_eq!(debug(&mut admin, "PEAK-RESET-TIME", "0"), b"+OK\r\n");
    pause();
    assert_eq!(
        client_field(&mut admin, "big", "rbp"),
        0,
        "reset by the cron"
    );
    assert_eq!(debug(&mut admin, "PEAK-RESET-TIME", "RESET"), b"+OK\r\n");

    assert_eq!(
        debug(&mut admin, "PEAK-RESET-TIME", "soon"),
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert!(debug(&mut admin, "SIZE", "1").starts_with(b"-ERR unknown subcommand"));
}

#[test]
fn client_list_fields() {
    let server = Server::shardis(2, &[]);
    let mut c = server.conn();
    let line = text(&bulk_payload(&c.cmd(&["CLIENT", "INFO"])));
    let names: Vec<&str> = line
        .split_whitespace()
        .map(|f| f.split('=').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "id",
            "addr",
            "laddr",
            "fd",
            "name",
            "age",
            "idle",
            "flags",
            "db",
            "sub",
            "psub",
            "ssub",
            "multi",
            "qbuf",
            "qbuf-free",
            "argv-mem",
            "multi-mem",
            "rbs",
            "rbp",
            "obl",
            "oll",
            "omem",
            "tot-mem",
            "events",
            "cmd",
            "user",
            "redir",
            "resp"
        ]
    );
    // As Redis: the query buffer holds the request, argv-mem its bytes.
    assert!(line.contains(" qbuf=26 "), "{line}");
    assert!(line.contains(" argv-mem=10 "), "{line}");
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "a", "bb"]);
    let mut other = server.conn();
    let all = text(&bulk_payload(&other.cmd(&["CLIENT", "LIST"])));
    // "set" "a" "bb": 6 bytes and 3 pointers.
    assert!(
        all.contains("flags=x ") && all.contains(" multi=1 ") && all.contains(" multi-mem=30 "),
        "{all}"
    );
}

/// After an unknown command or subcommand CLIENT LIST shows `cmd=NULL`, as
/// Redis (its lookup left no command); after an arity error, the command.
#[test]
fn client_list_cmd_after_refused_commands() {
    let mut servers = vec![Server::shardis(1, &[])];
    if common::redis_available() {
        servers.push(Server::redis(&[]));
    }
    for server in servers {
        let (mut c, mut observer) = (server.conn(), server.conn());
        let mut seen = vec![];
        for argv in [
            &["PING"][..],
            &["NOSUCHCMD", "x"],
            &["PING"],
            &["CLIENT", "NOSUCHSUB"],
            &["GET"],
        ] {
            c.cmd(argv);
            // The observer's own line shows its CLIENT LIST.
            let list = text(&bulk_payload(&observer.cmd(&["CLIENT", "LIST"])));
            let line = list
                .lines()
                .find(|l| !l.contains("cmd=client|list"))
                .unwrap()
                .to_string();
            seen.push(
                line.split_whitespace()
                    .find_map(|f| f.strip_prefix("cmd="))
                    .unwrap()
                    .to_string(),
            );
        }
        assert_eq!(
            seen,
            ["ping", "NULL", "ping", "NULL", "get"],
            "{}",
            server.name
        );
    }
}

/// CONFIG GET * as name → value pairs.
fn all_configs(c: &mut Conn) -> Vec<(Vec<u8>, Vec<u8>)> {
    let items = common::bulk_items(&c.cmd(&["CONFIG", "GET", "*"]));
    let mut pairs: Vec<_> = items
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect();
    pairs.sort();
    pairs
}

/// DEBUG CONFIG-REWRITE-FORCE-ALL writes every directive, defaults
/// included, into a file the server starts from again with the same
/// configuration (Redis's suite: "CONFIG REWRITE sanity").
#[test]
fn config_rewrite_force_all_writes_every_directive() {
    let tmp = common::TempDir::new("rewrite-all");
    let port = common::free_port();
    let conf = common::write_file(
        &tmp.0,
        "node.conf",
        &format!(
            "port {port}\nbind 127.0.0.1\nsave \"\"\ndir {}\nhz 20\nenable-debug-command yes\n",
            tmp.0.display()
        ),
    );
    let args = vec![conf.display().to_string()];
    let srv = Server::shardis_raw("rewrite-all", &args, port).unwrap();
    let mut c = srv.conn();
    assert_eq!(c.cmd(&["CONFIG", "REWRITE"]), b"+OK\r\n");
    let plain = std::fs::read_to_string(&conf).unwrap();
    assert!(!plain.contains("\nmaxclients "), "{plain}");
    let before = all_configs(&mut c);
    assert_eq!(c.cmd(&["DEBUG", "CONFIG-REWRITE-FORCE-ALL"]), b"+OK\r\n");
    let text = std::fs::read_to_string(&conf).unwrap();
    for name in ["maxclients 10000", "hz 20", "appendonly no", "timeout 0"] {
        assert!(text.lines().any(|l| l == name), "no '{name}' in:\n{text}");
    }
    // A clean exit frees the port at once (a SIGKILL leaves it to the
    // kernel's io_uring teardown).
    c.send(&["SHUTDOWN", "NOSAVE"]);
    let mut srv = srv;
    srv.child.wait().unwrap();
    let srv = Server::shardis_raw("rewrite-all-again", &args, port).unwrap();
    assert_eq!(all_configs(&mut srv.conn()), before);
}

/// The command line as redis-server 7.0 reads it (Redis's suite,
/// "redis-server command line arguments"): `--save` with nothing after
/// it, or before another option, is `save ""`; the word after an option
/// name is its value even when it starts with `--`; one word may hold a
/// name and its values.
#[test]
fn command_line_arguments_like_redis() {
    let tmp = common::TempDir::new("cmdline");
    let conf = common::write_file(&tmp.0, "base.conf", "save 900 1\nloglevel notice\n");
    let cases: [(&[&str], &str, &str, &str); 4] = [
        (
            &["--save", "--loglevel", "verbose"],
            "",
            "verbose",
            "{title} {listen-addr} {server-mode}",
        ),
        (
            &["--loglevel", "verbose", "--save"],
            "",
            "verbose",
            "{title} {listen-addr} {server-mode}",
        ),
        (
            &[
                "--proc-title-template",
                "--save",
                "--save",
                "",
                "--loglevel",
                "verbose",
            ],
            "",
            "verbose",
            "--save",
        ),
        (
            &["--loglevel warning", "--save 60 5"],
            "900 1 60 5",
            "warning",
            "{title} {listen-addr} {server-mode}",
        ),
    ];
    for (args, save, loglevel, title) in cases {
        let port = common::free_port();
        let mut argv = vec![
            conf.display().to_string(),
            "--port".into(),
            port.to_string(),
        ];
        argv.extend(args.iter().map(|a| a.to_string()));
        let srv = Server::shardis_raw("cmdline", &argv, port).unwrap();
        let mut c = srv.conn();
        let get = |c: &mut Conn, name: &str| {
            let items = common::bulk_items(&c.cmd(&["CONFIG", "GET", name]));
            String::from_utf8(items[1].clone()).unwrap()
        };
        assert_eq!(get(&mut c, "save"), save, "{args:?}");
        assert_eq!(get(&mut c, "loglevel"), loglevel, "{args:?}");
        assert_eq!(get(&mut c, "proc-title-template"), title, "{args:?}");
    }
}

/// CLIENT LIST `qbuf` of a big argument still arriving counts its data
/// received, as Redis (which trims its query buffer to such an argument).
#[test]
fn qbuf_of_a_big_argument_arriving_counts_its_data() {
    let shardis = Server::shardis(1, &[]);
    let mut c = shardis.conn();
    let mut big = shardis.conn();
    assert_eq!(big.line("CLIENT SETNAME big"), b"+OK\r\n");
    let n = 100_000;
    big.send_raw(format!("*1\r\n${}\r\n", n + 10).as_bytes());
    big.send_raw(&vec![b'v'; n]);
    let start = std::time::Instant::now();
    loop {
        let list = String::from_utf8_lossy(&c.line("CLIENT LIST")).to_string();
        let line = list
            .lines()
            .find(|l| l.contains("name=big"))
            .unwrap()
            .to_string();
        if line.contains(&format!(" qbuf={n} ")) {
            break;
        }
        assert!(start.elapsed().as_secs() < 5, "{line}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
