//! CONFIG SET bind at runtime (Redis 7.0's applyBind/changeBindAddr),
//! against Shardis (1 and 4 shards) and the reference redis-server: the
//! listeners move to the new addresses on the same port (every shard's),
//! the old addresses refuse; an address that cannot be bound fails the
//! CONFIG SET with Redis's reply and the old listeners serve on. CONFIG
//! REWRITE writes the new list; `bind ""` listens on no TCP address.

mod common;

use common::{die_with_parent, free_port, redis_available, write_file, Conn, Server, TempDir};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const FAILED: &str = "-ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to specified addresses.\r\n";

fn set_bind(c: &mut Conn, value: &str) -> String {
    String::from_utf8_lossy(&c.cmd(&["CONFIG", "SET", "bind", value])).into_owned()
}

fn get_bind(c: &mut Conn) -> String {
    String::from_utf8_lossy(&c.cmd(&["CONFIG", "GET", "bind"])).into_owned()
}

fn bulk_pair(name: &str, value: &str) -> String {
    format!(
        "*2\r\n${}\r\n{name}\r\n${}\r\n{value}\r\n",
        name.len(),
        value.len()
    )
}

/// A new connection to `ip` answers PING.
fn serves(ip: &str, port: u16) -> bool {
    Conn::try_connect_ip(ip, port).is_ok_and(|mut c| c.cmd(&["PING"]) == b"+PONG\r\n")
}

/// Nobody accepts on `ip` any more (retried: every shard's old listener
/// closes when its accept loop ends).
fn refuses(ip: &str, port: u16) -> bool {
    for _ in 0..100 {
        match TcpStream::connect((ip, port)) {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => return true,
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    false
}

/// Moves `server` (bound to 127.0.0.1) through several bind lists; the
/// replies to the failing ones are returned for comparison with Redis's.
fn rebinds(server: &Server) -> Vec<String> {
    let name = &server.name;
    let port = server.port;
    let mut c = server.conn();
    assert_eq!(set_bind(&mut c, "127.0.0.2"), "+OK\r\n", "{name}");
    // The connection that asked stays open.
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n", "{name}");
    assert!(
        serves("127.0.0.2", port),
        "{name}: 127.0.0.2 does not serve"
    );
    assert!(
        refuses("127.0.0.1", port),
        "{name}: 127.0.0.1 still accepts"
    );
    assert_eq!(get_bind(&mut c), bulk_pair("bind", "127.0.0.2"), "{name}");

    let mut failures = Vec::new();
    // Not an address of this host, not an address at all, one good and
    // one bad: nothing changes.
    for bad in ["192.0.2.1", "999.999.999.999", "127.0.0.3 192.0.2.1"] {
        failures.push(set_bind(&mut c, bad));
        assert_eq!(get_bind(&mut c), bulk_pair("bind", "127.0.0.2"), "{name}");
        assert!(serves("127.0.0.2", port), "{name}: lost 127.0.0.2 ({bad})");
        assert!(
            refuses("127.0.0.3", port),
            "{name}: 127.0.0.3 accepts ({bad})"
        );
    }

    // An optional address that is not here is skipped.
    assert_eq!(
        set_bind(&mut c, "-192.0.2.1 127.0.0.3"),
        "+OK\r\n",
        "{name}"
    );
    assert!(
        serves("127.0.0.3", port),
        "{name}: 127.0.0.3 does not serve"
    );
    assert!(
        refuses("127.0.0.2", port),
        "{name}: 127.0.0.2 still accepts"
    );

    // No address: no TCP listener at all.
    assert_eq!(set_bind(&mut c, ""), "+OK\r\n", "{name}");
    assert_eq!(get_bind(&mut c), bulk_pair("bind", ""), "{name}");
    assert!(
        refuses("127.0.0.3", port),
        "{name}: 127.0.0.3 still accepts"
    );
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n", "{name}");

    // The wildcard, then back where it started.
    assert_eq!(set_bind(&mut c, "*"), "+OK\r\n", "{name}");
    assert!(serves("127.0.0.4", port), "{name}: * does not serve");
    assert_eq!(set_bind(&mut c, "127.0.0.1"), "+OK\r\n", "{name}");
    assert!(serves("127.0.0.1", port), "{name}: back on 127.0.0.1");
    assert!(refuses("127.0.0.4", port), "{name}: * still accepts");
    failures
}

#[test]
fn config_set_bind_moves_the_listeners_like_redis() {
    for shards in [1, 4] {
        let server = Server::shardis(shards, &[]);
        let failures = rebinds(&server);
        for reply in failures {
            assert_eq!(reply, FAILED, "{}", server.name);
        }
    }
    if redis_available() {
        let server = Server::redis(&[]);
        for reply in rebinds(&server) {
            assert_eq!(reply, FAILED, "redis-server");
        }
    }
}

/// Every shard accepts on the new address: the kernel spreads 64
/// connections over all four (a shard left without a listener gets none).
#[test]
fn config_set_bind_reaches_every_shard() {
    let server = Server::shardis(4, &["--enable-debug-command", "yes"]);
    let mut c = server.conn();
    assert_eq!(set_bind(&mut c, "127.0.0.2"), "+OK\r\n");
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..64 {
        let mut conn = Conn::try_connect_ip("127.0.0.2", server.port).unwrap();
        seen.insert(conn.cmd(&["DEBUG", "SHARD"]));
    }
    assert_eq!(seen.len(), 4, "shards accepting on 127.0.0.2: {seen:?}");
}

/// CONFIG REWRITE writes the new list, and `bind ""` for none, as Redis's
/// rewriteConfigBindOption.
#[test]
fn config_rewrite_writes_bind() {
    for shards in [1, 4] {
        let dir = TempDir::new("bind-rewrite");
        let port = free_port();
        let conf = write_file(
            &dir.0,
            "redis.conf",
            &format!(
                "port {port}\nbind 127.0.0.1\nsave \"\"\nshards {shards}\ndir {}\n",
                dir.0.display()
            ),
        );
        let args = [conf.display().to_string()];
        let server = Server::shardis_raw("shardis(bind rewrite)", &args, port)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut c = server.conn();
        assert_eq!(set_bind(&mut c, "127.0.0.2 -::1"), "+OK\r\n");
        assert_eq!(c.cmd(&["CONFIG", "REWRITE"]), b"+OK\r\n");
        let text = std::fs::read_to_string(&conf).unwrap();
        let binds: Vec<&str> = text.lines().filter(|l| l.starts_with("bind")).collect();
        assert_eq!(binds, ["bind 127.0.0.2 -::1"], "{text}");
        assert_eq!(set_bind(&mut c, ""), "+OK\r\n");
        assert_eq!(c.cmd(&["CONFIG", "REWRITE"]), b"+OK\r\n");
        let text = std::fs::read_to_string(&conf).unwrap();
        let binds: Vec<&str> = text.lines().filter(|l| l.starts_with("bind")).collect();
        assert_eq!(binds, ["bind \"\""], "{text}");
    }
}

/// One RESP exchange over a unix socket.
fn unix_cmd(path: &std::path::Path, args: &[&str]) -> Option<Vec<u8>> {
    let mut s = std::os::unix::net::UnixStream::connect(path).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(&common::encode(args)).ok()?;
    let mut buf = vec![0; 256];
    let n = s.read(&mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// `bind ""` at start-up: no TCP listener, clients on the unix socket
/// (Redis's "Default bind address configuration handling" restarts so).
#[test]
fn starts_without_bind_addresses() {
    for shards in ["1", "4"] {
        let dir = TempDir::new("bind-none");
        let sock = dir.0.join("s.sock");
        let port = free_port();
        let mut child = die_with_parent(&mut std::process::Command::new(common::SHARDIS_BIN))
            .args(["--port", &port.to_string(), "--bind", "", "--save", ""])
            .args(["--shards", shards, "--unixsocket"])
            .arg(&sock)
            .arg("--dir")
            .arg(&dir.0)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut reply = None;
        for _ in 0..200 {
            reply = unix_cmd(&sock, &["CONFIG", "GET", "bind"]);
            if reply.is_some() || child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let alive = child.try_wait().unwrap().is_none();
        let refused = TcpStream::connect(("127.0.0.1", port))
            .is_err_and(|e| e.kind() == ErrorKind::ConnectionRefused);
        let _ = child.kill();
        let _ = child.wait();
        assert!(alive, "shards {shards}: exited");
        assert_eq!(
            reply.as_deref(),
            Some(&b"*2\r\n$4\r\nbind\r\n$0\r\n\r\n"[..])
        );
        assert!(refused, "shards {shards}: TCP port accepts");
    }
}

/// /proc/PID/cmdline up to the first NUL.
fn proc_title(server: &Server) -> String {
    let raw = std::fs::read(format!("/proc/{}/cmdline", server.pid())).unwrap();
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    String::from_utf8_lossy(&raw[..end]).into_owned()
}

/// The process title's address is the first bind address, `*` for none,
/// as redis-server's after CONFIG SET bind.
fn title_follows_bind(server: &Server, program: &str) {
    let port = server.port;
    let mut c = server.conn();
    assert_eq!(set_bind(&mut c, "127.0.0.2 127.0.0.3"), "+OK\r\n");
    assert_eq!(proc_title(server), format!("{program} 127.0.0.2:{port}"));
    assert_eq!(set_bind(&mut c, ""), "+OK\r\n");
    assert_eq!(proc_title(server), format!("{program} *:{port}"));
}

#[test]
fn process_title_follows_bind() {
    for shards in [1, 4] {
        title_follows_bind(&Server::shardis(shards, &[]), common::SHARDIS_BIN);
    }
    if redis_available() {
        let redis = common::which("redis-server").unwrap();
        title_follows_bind(&Server::redis(&[]), &redis.display().to_string());
    }
}

/// More than 16 addresses: Redis's setConfigBindOption reason.
#[test]
fn too_many_bind_addresses_like_redis() {
    let many: Vec<String> = (1..=17).map(|i| format!("127.0.0.{i}")).collect();
    let many = many.join(" ");
    let expected = "-ERR CONFIG SET failed (possibly related to argument 'bind') - Too many bind addresses specified.\r\n";
    for shards in [1, 4] {
        let server = Server::shardis(shards, &[]);
        let mut c = server.conn();
        assert_eq!(set_bind(&mut c, &many), expected);
        assert_eq!(get_bind(&mut c), bulk_pair("bind", "127.0.0.1"));
    }
    if redis_available() {
        let server = Server::redis(&[]);
        assert_eq!(set_bind(&mut server.conn(), &many), expected);
    }
}

/// The cluster bus listens where `bind` said at start-up: Redis 7.0's
/// changeBindAddr moves the client listeners only.
fn bus_stays(server: &Server, bus_port: u16) {
    let name = &server.name;
    let mut c = server.conn();
    assert_eq!(set_bind(&mut c, "127.0.0.2"), "+OK\r\n", "{name}");
    assert!(serves("127.0.0.2", server.port), "{name}");
    assert!(refuses("127.0.0.1", server.port), "{name}");
    assert!(
        TcpStream::connect(("127.0.0.1", bus_port)).is_ok(),
        "{name}: bus left 127.0.0.1"
    );
    assert!(refuses("127.0.0.2", bus_port), "{name}: bus on 127.0.0.2");
}

#[test]
fn config_set_bind_leaves_the_cluster_bus() {
    let bus_port = free_port();
    let bus = bus_port.to_string();
    let cluster = ["--cluster-enabled", "yes", "--cluster-port", &bus];
    for shards in [1, 4] {
        bus_stays(&Server::shardis(shards, &cluster), bus_port);
    }
    if redis_available() {
        bus_stays(&Server::redis(&cluster), bus_port);
    }
}
