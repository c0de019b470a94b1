//! `unixsocket` / `unixsocketperm`: clients over a unix-domain socket, as
//! redis-server serves them — driven by redis-cli -s and redis-benchmark -s.

mod common;

use common::{redis_available, Server, TempDir};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

fn cli_s(sock: &Path, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-s")
        .arg(sock)
        .args(args)
        .output()
        .expect("run redis-cli");
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

fn serve_over_socket(shards: usize) {
    let dir = TempDir::new("unixsock");
    let sock = dir.0.join("s.sock");
    let path = sock.to_str().unwrap();
    let mut srv = Server::shardis(shards, &["--unixsocket", path, "--unixsocketperm", "700"]);
    let meta = std::fs::metadata(&sock).expect("socket file");
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);

    // Keys written over the socket are the TCP clients' keys, across shards.
    assert_eq!(cli_s(&sock, &["MSET", "a", "1", "b", "2", "c", "3"]), "OK");
    let mut tcp = srv.conn();
    assert_eq!(
        tcp.cmd(&["MGET", "a", "b", "c"]),
        b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    // Redis names a unix client `<unixsocket>:0` and flags it `U`.
    let me = cli_s(&sock, &["CLIENT", "INFO"]);
    assert!(
        me.contains(&format!(" addr={path}:0 laddr={path}:0 ")),
        "{me}"
    );
    assert!(me.contains(" flags=U "), "{me}");
    assert_eq!(
        cli_s(&sock, &["CONFIG", "GET", "unixsocket"]),
        format!("unixsocket\n{path}")
    );

    // A second server on the same socket refuses to start; the first serves on.
    let other = TempDir::new("unixsock2");
    let out = Command::new(common::SHARDIS_BIN)
        .args(["--port", "0", "--dir"])
        .arg(&other.0)
        .args(["--unixsocket", path])
        .output()
        .expect("run second server");
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Failed opening Unix socket: bind: Address already in use"),
        "{text}"
    );
    assert_eq!(cli_s(&sock, &["GET", "b"]), "2");

    // redis-benchmark over the socket.
    if redis_available() {
        let bench = Command::new("redis-benchmark")
            .arg("-s")
            .arg(&sock)
            .args(["-t", "set,get", "-n", "2000", "-c", "4", "-q"])
            .output()
            .expect("run redis-benchmark");
        assert!(bench.status.success());
        assert!(String::from_utf8_lossy(&bench.stdout).contains("GET:"));
    }

    // SHUTDOWN removes the socket file, as Redis does.
    cli_s(&sock, &["SHUTDOWN", "NOSAVE"]);
    let _ = srv.child.wait();
    assert!(!sock.exists(), "socket file left behind");
}

#[test]
fn unix_socket_clients_shards_1() {
    serve_over_socket(1);
}

#[test]
fn unix_socket_clients_shards_4() {
    serve_over_socket(4);
}

/// `port 0` with a unix socket: no TCP listener at all; a socket file
/// nobody listens on (a crashed server's) is replaced.
#[test]
fn socket_only_server_replaces_a_stale_file() {
    let dir = TempDir::new("unixsock-only");
    let sock = dir.0.join("s.sock");
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    assert!(sock.exists());
    let mut child = Command::new(common::SHARDIS_BIN)
        .args(["--port", "0", "--save", "", "--dir"])
        .arg(&dir.0)
        .arg("--unixsocket")
        .arg(&sock)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let up = (0..200).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(20));
        cli_s(&sock, &["PING"]) == "PONG"
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(up, "no PONG over the socket");
}
