//! A client's query and reply buffers follow Redis 7.0's clientsCron
//! (issue 13: unit/querybuf and unit/replybufsize in external mode), and
//! CLIENT LIST's `qbuf`/`qbuf-free`/`rbs`/`rbp` report them:
//!
//! - a client that just ran a command keeps its 16 KiB read buffer; the
//!   cron frees it once the client has been idle for more than 2 s;
//! - a big argument's buffer stays after its request and shrinks to the
//!   recent peak (not to nothing) while later requests are small;
//! - an idle client's reply buffer is 1 KiB; replies that fill it make
//!   it grow ×2 per cron pass up to 16 KiB, never past it (INFO's
//!   `reply_buffer_expands` counts the steps).
//!
//! Run against Shardis at 1 and 4 shards, and against redis-server 7.0
//! with the same expectations.

mod common;

use common::Server;
use std::time::{Duration, Instant};

/// The servers to check: Shardis at 1 and 4 shards, then Redis.
fn servers(extra: &[&str]) -> Vec<Server> {
    let mut all = vec![Server::shardis(1, extra), Server::shardis(4, extra)];
    if common::redis_available() {
        all.push(Server::redis(extra));
    }
    all
}

/// The fields of client `name` in CLIENT LIST, asked on `c`.
fn fields(c: &mut redis::Connection, name: &str) -> Vec<(String, String)> {
    let list: String = redis::cmd("CLIENT").arg("LIST").query(c).unwrap();
    let line = list
        .lines()
        .find(|l| l.contains(&format!(" name={name} ")))
        .unwrap_or_else(|| panic!("no client {name} in {list}"))
        .to_string();
    line.split(' ')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn field(c: &mut redis::Connection, name: &str, key: &str) -> usize {
    let all = fields(c, name);
    all.iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_else(|| panic!("{key} in {all:?}"))
}

/// The query buffer's allocation: `qbuf` + `qbuf-free`.
fn query_buffer(c: &mut redis::Connection, name: &str) -> usize {
    field(c, name, "qbuf") + field(c, name, "qbuf-free")
}

fn set_name(c: &mut redis::Connection, name: &str) {
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg(name)
        .query(c)
        .unwrap();
}

/// Two connections to `s`: one to look with, one named `name`.
fn admin_and_named(s: &Server, name: &str) -> (redis::Connection, redis::Connection) {
    let admin = common::redis_client(s.port);
    let mut c = common::redis_client(s.port);
    set_name(&mut c, name);
    (admin, c)
}

/// Polls `check` every 10 ms until it holds, for at most `limit`.
fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// unit/querybuf "query buffer resized correctly".
#[test]
fn an_idle_client_keeps_its_read_buffer_until_the_cron_frees_it() {
    for s in servers(&[]) {
        let (mut admin, _named) = admin_and_named(&s, "qb");
        let held = query_buffer(&mut admin, "qb");
        assert!(
            (16384..32768).contains(&held),
            "{}: a client that just ran a command holds {held}",
            s.name
        );
        let freed = wait_until(Duration::from_secs(6), || {
            field(&mut admin, "qb", "idle") >= 3 && query_buffer(&mut admin, "qb") == 0
        });
        assert!(freed, "{}: {:?}", s.name, fields(&mut admin, "qb"));
    }
}

/// unit/querybuf "query buffer resized correctly when not idle".
#[test]
fn a_big_argument_buffer_shrinks_to_the_recent_peak() {
    for s in servers(&[]) {
        let (mut admin, mut c) = admin_and_named(&s, "qb");
        let big = "A".repeat(400_000);
        let _: () = redis::cmd("SET").arg("x").arg(&big).query(&mut c).unwrap();
        let orig = query_buffer(&mut admin, "qb");
        assert!(orig > 32768, "{}: after a 400 KB argument: {orig}", s.name);
        let small = "A".repeat(100);
        let shrunk = wait_until(Duration::from_secs(2), || {
            let _: () = redis::cmd("SET")
                .arg("x")
                .arg(&small)
                .query(&mut c)
                .unwrap();
            query_buffer(&mut admin, "qb") < orig
        });
        let now = query_buffer(&mut admin, "qb");
        assert!(shrunk && now > 0, "{}: {orig} -> {now}", s.name);
    }
}

/// unit/replybufsize "verify reply buffer limits", and `rbp` never
/// exceeds `rbs` (the peak is how much of the buffer a batch filled).
#[test]
fn the_reply_buffer_shrinks_when_idle_and_grows_with_its_peaks() {
    for s in servers(&["--enable-debug-command", "yes"]) {
        let mut admin = common::redis_client(s.port);
        let debug = |c: &mut redis::Connection, v: &str| {
            let _: () = redis::cmd("DEBUG")
                .arg("REPLYBUFFER")
                .arg("PEAK-RESET-TIME")
                .arg(v)
                .query(c)
                .unwrap();
        };
        debug(&mut admin, "100");
        let mut c = common::redis_client(s.port);
        set_name(&mut c, "rb");
        let idle = wait_until(Duration::from_secs(2), || {
            (1024..2046).contains(&field(&mut admin, "rb", "rbs"))
        });
        assert!(idle, "{}: idle {:?}", s.name, fields(&mut admin, "rb"));
        let _: () = redis::cmd("SET")
            .arg("bigval")
            .arg("x".repeat(32768))
            .query(&mut admin)
            .unwrap();
        debug(&mut admin, "NEVER");
        let grown = wait_until(Duration::from_secs(3), || {
            let v: Vec<u8> = redis::cmd("GET").arg("bigval").query(&mut c).unwrap();
            assert_eq!(v.len(), 32768);
            let (rbs, rbp) = (
                field(&mut admin, "rb", "rbs"),
                field(&mut admin, "rb", "rbp"),
            );
            assert!(rbp <= rbs, "{}: rbp {rbp} > rbs {rbs}", s.name);
            std::thread::sleep(Duration::from_millis(90));
            (16384..32768).contains(&rbs)
        });
        assert!(grown, "{}: busy {:?}", s.name, fields(&mut admin, "rb"));
        debug(&mut admin, "RESET");
        // INFO counts the cron's resizes.
        let info: String = redis::cmd("INFO").arg("stats").query(&mut admin).unwrap();
        for counter in ["reply_buffer_expands", "reply_buffer_shrinks"] {
            let n: u64 = info
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{counter}:")))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("{counter} in {info}"));
            let least = if counter == "reply_buffer_expands" {
                4
            } else {
                0
            };
            assert!(n >= least, "{}: {counter}:{n}", s.name);
        }
    }
}

/// RSS growth per connection of `count` connections that each sent one
/// PING and got its PONG, `settle` after the replies (and the connections,
/// still open, at 4 s).
fn rss_per_connection(s: &Server, count: usize) -> (u64, u64) {
    let pid = s.pid();
    // One-time allocations (the first connections' slabs) not charged.
    let warm: Vec<common::Conn> = (0..100).map(|_| s.conn()).collect();
    for mut c in warm {
        assert_eq!(c.line("PING"), b"+PONG\r\n");
    }
    std::thread::sleep(Duration::from_millis(500));
    let before = common::rss_kib(pid);
    let mut conns: Vec<common::Conn> = (0..count).map(|_| s.conn()).collect();
    for c in &mut conns {
        c.send_raw(b"PING\r\n");
    }
    for c in &mut conns {
        assert_eq!(c.read_replies(1), [b"+PONG\r\n".to_vec()]);
    }
    let replied = Instant::now();
    let per_conn = |kib: u64| kib.saturating_sub(before) * 1024 / count as u64;
    std::thread::sleep(Duration::from_millis(500));
    let soon = per_conn(common::rss_kib(pid));
    std::thread::sleep(Duration::from_secs(4).saturating_sub(replied.elapsed()));
    let idle = per_conn(common::rss_kib(pid));
    drop(conns);
    (soon, idle)
}

/// A kept 16 KiB read buffer costs the pages reads wrote, one for a
/// client of small requests (a zero-filled buffer had all four resident:
/// ~16 KB per connection, where redis-server 7.0 measures 8-9 KB), and
/// the cron's freeing of idle clients' buffers gives the pages back.
#[test]
fn a_read_buffer_costs_only_the_pages_reads_wrote() {
    for s in servers(&[]) {
        let (soon, idle) = rss_per_connection(&s, 3000);
        assert!(
            soon < 13_000,
            "{}: {soon} bytes of RSS per connection",
            s.name
        );
        assert!(
            idle < 9_000,
            "{}: {idle} bytes of RSS per connection idle for 4 s",
            s.name
        );
    }
}
