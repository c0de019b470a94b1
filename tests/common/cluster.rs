//! Cluster test helpers: start cluster-enabled nodes (shardis or
//! redis-server) on chosen addresses and ports, run redis-cli, read
//! CLUSTER NODES / INFO, wait for agreement.

use super::{die_with_parent, scratch_dir, which, Kind, Server, SHARDIS_BIN};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A client port whose bus port (`+10000`) is free too, both on 127.0.0.1,
/// and both below the kernel's ephemeral range: a node restarted on its
/// port would otherwise race every outbound connection (the bus
/// reconnecting) for it.
pub fn free_cluster_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let below = ephemeral_low().saturating_sub(10_000).max(10_001);
    let span = below - 10_000;
    let seed = std::process::id() ^ std::time::UNIX_EPOCH.elapsed().unwrap().subsec_nanos();
    let _ = NEXT.compare_exchange(0, seed % span + 1, Ordering::Relaxed, Ordering::Relaxed);
    for _ in 0..span {
        let p = (10_000 + NEXT.fetch_add(1, Ordering::Relaxed) % span) as u16;
        let free = |port: u16| TcpListener::bind(("127.0.0.1", port)).is_ok();
        if free(p) && free(p + 10_000) {
            return p;
        }
    }
    panic!("no free port pair");
}

/// The first port the kernel hands out to outbound connections.
fn ephemeral_low() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// Starts a cluster-enabled node with `extra` directives (as `--name
/// value` arguments) and waits until it answers.
pub fn start_node(kind: Kind, port: u16, timeout_ms: u64, extra: &[&str]) -> Server {
    let dir = scratch_dir(match kind {
        Kind::Shardis => "cluster-shardis",
        Kind::Redis => "cluster-redis",
    });
    start_node_in(kind, port, timeout_ms, &dir, extra)
}

/// Kills `old` (SIGKILL) and starts the same kind of node on the same
/// port and directory with `extra` directives: a restart.
pub fn restart_node(mut old: Server, timeout_ms: u64, extra: &[&str]) -> Server {
    let _ = old.child.kill();
    let _ = old.child.wait();
    let (kind, port, dir) = (old.kind, old.port, old.dir.clone());
    // The kernel tears a killed process's io_uring down after reaping it,
    // and the listeners the ring still references close only then.
    let released = wait_until(Duration::from_secs(10), || {
        !super::listening(port) && !super::listening(port + 10_000)
    });
    assert!(
        released.is_some(),
        "port {port} still listened on after the kill"
    );
    // The new server owns (and on drop removes) the directory.
    std::mem::forget(old);
    start_node_in(kind, port, timeout_ms, &dir, extra)
}

fn start_node_in(kind: Kind, port: u16, timeout_ms: u64, dir: &Path, extra: &[&str]) -> Server {
    let dir = dir.to_path_buf();
    let log = dir.join(format!("server-{}.log", super::free_port()));
    let prog = match kind {
        Kind::Shardis => SHARDIS_BIN.into(),
        Kind::Redis => which("redis-server").expect("redis-server on PATH"),
    };
    let mut cmd = Command::new(prog);
    die_with_parent(&mut cmd);
    cmd.args(["--port", &port.to_string()])
        .args(["--cluster-enabled", "yes"])
        .args(["--cluster-node-timeout", &timeout_ms.to_string()])
        .args(["--save", ""])
        .arg("--dir")
        .arg(&dir)
        .args(extra);
    start_logged(kind, cmd, dir, log, port)
}

/// Starts a node from a config file that sets its own port.
pub fn start_from_conf(kind: Kind, conf: &Path, dir: &Path, port: u16) -> Server {
    let prog = match kind {
        Kind::Shardis => SHARDIS_BIN.into(),
        Kind::Redis => which("redis-server").expect("redis-server on PATH"),
    };
    let mut cmd = Command::new(prog);
    die_with_parent(&mut cmd);
    cmd.arg(conf);
    start_logged(kind, cmd, dir.to_path_buf(), dir.join("server.log"), port)
}

fn start_logged(
    kind: Kind,
    mut cmd: Command,
    dir: std::path::PathBuf,
    log: std::path::PathBuf,
    port: u16,
) -> Server {
    let out = std::fs::File::create(&log).expect("log file");
    cmd.stdout(out.try_clone().unwrap())
        .stderr(out)
        .stdin(Stdio::null());
    let child = cmd.spawn().expect("spawn node");
    let name = format!("{kind:?} node {port}");
    let mut srv = Server {
        kind,
        port,
        child,
        dir,
        log,
        name,
    };
    if let Err(e) = srv.wait_ready(Duration::from_secs(20)) {
        panic!("{e}\n--- log ---\n{}", srv.log_text());
    }
    srv
}

/// Runs redis-cli with `args` (and `stdin`), returns (success, stdout+stderr)
/// with colour codes removed.
pub fn redis_cli(args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = Command::new("redis-cli")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn redis-cli");
    {
        use std::io::Write;
        let mut i = child.stdin.take().unwrap();
        let _ = i.write_all(stdin.as_bytes());
    }
    let out = child.wait_with_output().expect("redis-cli output");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), strip_colours(&text))
}

fn strip_colours(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// One command through redis-cli (text output), to `host:port`.
pub fn cli(host: &str, port: u16, auth: Option<&str>, args: &[&str]) -> String {
    let p = port.to_string();
    let mut all = vec!["-h", host, "-p", &p];
    if let Some(a) = auth {
        all.extend(["-a", a, "--no-auth-warning"]);
    }
    all.extend(args);
    redis_cli(&all, "").1
}

/// A field of CLUSTER INFO.
pub fn info_field(host: &str, port: u16, auth: Option<&str>, field: &str) -> Option<String> {
    let text = cli(host, port, auth, &["cluster", "info"]);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
}

/// Polls `f` until it returns true or `limit` passes; returns the time it took.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// CLUSTER NODES lines as (id, addr, flags, master, slots) tuples.
pub fn nodes(host: &str, port: u16, auth: Option<&str>) -> Vec<NodeLine> {
    cli(host, port, auth, &["cluster", "nodes"])
        .lines()
        .filter_map(NodeLine::parse)
        .collect()
}

#[derive(Clone, Debug)]
pub struct NodeLine {
    pub id: String,
    pub addr: String,
    pub flags: String,
    pub master: String,
    pub epoch: u64,
    pub link: String,
    pub slots: Vec<String>,
}

impl NodeLine {
    pub fn parse(line: &str) -> Option<NodeLine> {
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() < 8 {
            return None;
        }
        Some(NodeLine {
            id: f[0].into(),
            addr: f[1].into(),
            flags: f[2].into(),
            master: f[3].into(),
            epoch: f[6].parse().ok()?,
            link: f[7].into(),
            slots: f[8..].iter().map(|s| s.to_string()).collect(),
        })
    }

    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.split(',').any(|f| f == flag)
    }

    /// `ip:port` without the bus port.
    pub fn host_port(&self) -> &str {
        self.addr.split('@').next().unwrap_or("")
    }
}

/// The slot → owner-id map a node's CLUSTER NODES gives (what redis-cli's
/// "configuration signature" compares), sorted.
pub fn slot_signature(host: &str, port: u16, auth: Option<&str>) -> Vec<String> {
    let mut sig: Vec<String> = nodes(host, port, auth)
        .into_iter()
        .filter(|n| !n.slots.is_empty())
        .map(|n| format!("{}:{}", n.id, n.slots.join(",")))
        .collect();
    sig.sort();
    sig
}

// --- Replication and failover helpers (cluster_failover, failover_wait) ---

pub fn myid(port: u16) -> String {
    cli("127.0.0.1", port, None, &["cluster", "myid"])
        .trim()
        .to_string()
}

/// A field of INFO replication.
pub fn repl_field(port: u16, field: &str) -> Option<String> {
    cli("127.0.0.1", port, None, &["info", "replication"])
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
}

/// `redis-cli --cluster create` of `servers` (the first third masters)
/// with one replica each; waits for cluster_state:ok everywhere.
pub fn create(servers: &[&Server]) {
    let addrs: Vec<String> = servers
        .iter()
        .map(|s| format!("127.0.0.1:{}", s.port))
        .collect();
    let mut args = vec!["--cluster", "create"];
    args.extend(addrs.iter().map(|s| s.as_str()));
    args.extend(["--cluster-replicas", "1", "--cluster-yes"]);
    let (ok, out) = redis_cli(&args, "");
    assert!(
        ok && out.contains("[OK] All 16384 slots covered."),
        "create:\n{out}"
    );
    for s in servers {
        let took = wait_until(Duration::from_secs(30), || {
            info_field("127.0.0.1", s.port, None, "cluster_state").as_deref() == Some("ok")
        });
        assert!(took.is_some(), "{} never reached cluster_state:ok", s.name);
    }
}

/// The master id of the node listening on `port`, as it sees itself
/// (None while it is a master).
pub fn master_of(port: u16) -> Option<String> {
    nodes("127.0.0.1", port, None)
        .into_iter()
        .find(|n| n.has_flag("myself"))
        .filter(|n| n.has_flag("slave"))
        .map(|n| n.master)
}

/// Six Shardis nodes (one and four shards), created with one replica
/// each, every replica's link up. Returns (servers, ids, [(master, replica)]).
pub fn six_shardis(nt: u64) -> (Vec<Server>, Vec<String>, Vec<(usize, usize)>) {
    six_shardis_with(nt, &[])
}

/// [`six_shardis`] with `extra` directives on every node.
pub fn six_shardis_with(
    nt: u64,
    extra: &[&str],
) -> (Vec<Server>, Vec<String>, Vec<(usize, usize)>) {
    let servers: Vec<Server> = (0..6)
        .map(|i| {
            let shards = if i % 2 == 0 { "1" } else { "4" };
            let mut args = vec!["--shards", shards];
            args.extend_from_slice(extra);
            start_node(Kind::Shardis, free_cluster_port(), nt, &args)
        })
        .collect();
    let refs: Vec<&Server> = servers.iter().collect();
    create(&refs);
    let ids: Vec<String> = servers.iter().map(|s| myid(s.port)).collect();
    let mut pair = Vec::new();
    for (r, replica) in servers.iter().enumerate().skip(3) {
        let port = replica.port;
        // A replica's role can land after redis-cli returns when gossip is
        // slow (a loaded machine): it is waited for, not assumed.
        let mut m = None;
        wait_until(Duration::from_secs(30), || {
            m = master_of(port);
            m.is_some()
        });
        let m = m.unwrap_or_else(|| panic!("{} is not a replica", replica.name));
        let mi = ids.iter().position(|id| *id == m).expect("master known");
        let up = wait_until(Duration::from_secs(30), || {
            repl_field(port, "master_link_status").as_deref() == Some("up")
        });
        assert!(up.is_some(), "{}: link never up", replica.name);
        pair.push((mi, r));
    }
    pair.sort();
    (servers, ids, pair)
}

/// CLUSTER LINKS of the node on `port`, one entry per link: the twelve
/// lines redis-cli prints for its six name/value pairs (RESP2).
pub fn cluster_links(port: u16) -> Vec<Vec<String>> {
    let out = cli("127.0.0.1", port, None, &["cluster", "links"]);
    let lines: Vec<String> = out.lines().map(|l| l.to_string()).collect();
    assert_eq!(lines.len() % 12, 0, "{out}");
    lines.chunks(12).map(|l| l.to_vec()).collect()
}
