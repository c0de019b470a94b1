//! CONFIG SET port at runtime, against Shardis (1 and 4 shards) and the
//! reference redis-server: a port in use fails the whole CONFIG SET with
//! Redis's reply and rolls every parameter back; a free port moves the
//! listener (new connections there, none on the old port, the open ones
//! kept).

mod common;

use common::{free_port, redis_available, Conn, Server};
use std::net::{TcpListener, TcpStream};

fn config_get(c: &mut Conn, name: &str) -> Vec<u8> {
    c.cmd(&["CONFIG", "GET", name])
}

/// The whole CONFIG SET fails on the port in use, and nothing changed.
fn rollback_on_port_in_use(server: &Server) -> Vec<u8> {
    let mut c = server.conn();
    let names = ["maxmemory", "port", "client-query-buffer-limit"];
    let before: Vec<Vec<u8>> = names.iter().map(|n| config_get(&mut c, n)).collect();
    let used = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let used_port = used.local_addr().unwrap().port().to_string();
    let reply = c.cmd(&[
        "CONFIG",
        "SET",
        "maxmemory",
        "10000001",
        "port",
        &used_port,
        "client-query-buffer-limit",
        "10m",
    ]);
    let after: Vec<Vec<u8>> = names.iter().map(|n| config_get(&mut c, n)).collect();
    assert_eq!(before, after, "{}: values not rolled back", server.name);
    // Still listening on the original port.
    let mut fresh = Conn::connect(server.port);
    assert_eq!(fresh.cmd(&["PING"]), b"+PONG\r\n", "{}", server.name);
    reply
}

fn moves_to_free_port(server: &Server) {
    let mut c = server.conn();
    let new_port = free_port();
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "port", &new_port.to_string()]),
        b"+OK\r\n",
        "{}",
        server.name
    );
    // The connection that changed it stays open.
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    let mut moved = Conn::connect(new_port);
    let info = String::from_utf8_lossy(&moved.cmd(&["INFO", "server"])).into_owned();
    assert!(
        info.contains(&format!("tcp_port:{new_port}\r\n")),
        "{}: {info}",
        server.name
    );
    // Nobody accepts on the old port any more (retried: closing the old
    // listeners may take a moment on every shard).
    let mut closed = false;
    for _ in 0..50 {
        if TcpStream::connect(("127.0.0.1", server.port)).is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(closed, "{}: old port still accepts", server.name);
    // And back.
    assert_eq!(
        moved.cmd(&["CONFIG", "SET", "port", &server.port.to_string()]),
        b"+OK\r\n"
    );
    let mut back = Conn::connect(server.port);
    assert_eq!(back.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn config_set_port_in_use_rolls_back_like_redis() {
    let expected: &[u8] = b"-ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.\r\n";
    for shards in [1, 4] {
        let server = Server::shardis(shards, &[]);
        let reply = rollback_on_port_in_use(&server);
        assert_eq!(
            String::from_utf8_lossy(&reply),
            String::from_utf8_lossy(expected),
            "{}",
            server.name
        );
    }
    if redis_available() {
        let server = Server::redis(&[]);
        assert_eq!(rollback_on_port_in_use(&server), expected);
    }
}

#[test]
fn config_set_port_moves_the_listener() {
    for shards in [1, 4] {
        moves_to_free_port(&Server::shardis(shards, &[]));
    }
    if redis_available() {
        moves_to_free_port(&Server::redis(&[]));
    }
}

/// /proc/PID/cmdline up to the first NUL.
fn proc_title(server: &Server) -> String {
    let raw = std::fs::read(format!("/proc/{}/cmdline", server.pid())).unwrap();
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    String::from_utf8_lossy(&raw[..end]).into_owned()
}

/// The process title follows proc-title-template (and the port), as
/// redis-server's does; a bad template is refused with Redis's reason.
fn process_title_follows_template(server: &Server, program: &str) {
    let port = server.port;
    assert_eq!(proc_title(server), format!("{program} 127.0.0.1:{port}"));
    let mut c = server.conn();
    assert_eq!(
        c.cmd(&[
            "CONFIG",
            "SET",
            "proc-title-template",
            "TEST {title} {listen-addr} {port} {tls-port} {unixsocket} {config-file}"
        ]),
        b"+OK\r\n"
    );
    assert_eq!(
        proc_title(server),
        format!("TEST {program} 127.0.0.1:{port} {port} 0  -")
    );
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "proc-title-template", "{invalid-var}"]),
        b"-ERR CONFIG SET failed (possibly related to argument 'proc-title-template') - template format is invalid or contains unknown variables\r\n".to_vec()
    );
    // A new port shows in the title.
    let new_port = free_port();
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "port", &new_port.to_string()]),
        b"+OK\r\n"
    );
    assert_eq!(
        proc_title(server),
        format!("TEST {program} 127.0.0.1:{new_port} {new_port} 0  -")
    );
    c.cmd(&["CONFIG", "SET", "port", &port.to_string()]);
}

#[test]
fn process_title_like_redis() {
    for shards in [1, 4] {
        process_title_follows_template(&Server::shardis(shards, &[]), common::SHARDIS_BIN);
    }
    if redis_available() {
        let redis = common::which("redis-server").unwrap();
        process_title_follows_template(&Server::redis(&[]), &redis.display().to_string());
    }
}
