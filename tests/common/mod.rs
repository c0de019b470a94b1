//! Shared helpers for the integration tests: start shardis and a reference
//! redis-server on free ports, wait until they answer, kill them on drop,
//! and a raw RESP client that returns reply bytes exactly as received.
#![allow(dead_code)]

pub mod cases;
pub mod cluster;
pub mod dataset;
pub mod repl;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The shardis binary built by cargo for this test run.
pub const SHARDIS_BIN: &str = env!("CARGO_BIN_EXE_shardis-server");

/// How long a single reply may take before a test fails instead of hanging.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(20);

/// How [`Conn::try_read_reply`]'s error starts when no reply came in time.
pub const TIMEOUT_PREFIX: &str = "no reply within";

/// A free TCP port on 127.0.0.1, found by binding port 0.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

/// A fresh, empty scratch directory under the system temp dir.
pub fn scratch_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("shardis-test-{}-{}-{}", std::process::id(), tag, n));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// A scratch directory removed on drop (also when a test panics).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        TempDir(scratch_dir(tag))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The multi-part AOF directory inside a server's `dir`.
pub fn appendonlydir(dir: &Path) -> PathBuf {
    dir.join("appendonlydir")
}

/// Copies the appendonlydir of `from` into a fresh directory.
pub fn copy_aof(from: &Path, tag: &str) -> TempDir {
    let to = TempDir::new(tag);
    let dst = appendonlydir(&to.0);
    std::fs::create_dir_all(&dst).unwrap();
    for e in std::fs::read_dir(appendonlydir(from)).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
    }
    to
}

/// Makes a spawned server die with the test thread that started it, so a
/// test process that is killed (timeout, Ctrl-C) leaves no servers behind.
pub fn die_with_parent(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; nothing else runs in the child.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        })
    }
}

/// Finds a program on PATH.
pub fn which(prog: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(prog))
        .find(|p| p.is_file())
}

/// Whether the reference redis-server can be used. Absent binary is a
/// loud failure unless SHARDIS_ALLOW_NO_REDIS=1, in which case callers
/// skip (with a message) the parts that need it.
pub fn redis_available() -> bool {
    if which("redis-server").is_some() {
        return true;
    }
    if std::env::var("SHARDIS_ALLOW_NO_REDIS").as_deref() == Ok("1") {
        eprintln!("SKIP: redis-server not found on PATH (SHARDIS_ALLOW_NO_REDIS=1)");
        return false;
    }
    panic!(
        "redis-server not found on PATH: the differential tests need it \
         (install redis-server, or set SHARDIS_ALLOW_NO_REDIS=1 to skip)"
    );
}

/// Which program a [`Server`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Shardis,
    Redis,
}

/// A running server process, killed (and its scratch dir removed) on drop.
pub struct Server {
    pub kind: Kind,
    pub port: u16,
    pub child: Child,
    pub dir: PathBuf,
    pub log: PathBuf,
    /// A label for messages, e.g. "shardis(shards=4)".
    pub name: String,
}

impl Server {
    /// Starts shardis with `--port P --shards N` followed by `extra`
    /// directives (e.g. `&["--maxclients", "2"]`), waits until it answers.
    pub fn shardis(shards: usize, extra: &[&str]) -> Server {
        let mut args: Vec<String> = vec!["--shards".into(), shards.to_string()];
        args.extend(extra.iter().map(|s| s.to_string()));
        Server::start(Kind::Shardis, &format!("shardis(shards={shards})"), &args)
    }

    /// Starts a reference redis-server (no persistence), waits until it
    /// answers. Call [`redis_available`] first if skipping is allowed.
    pub fn redis(extra: &[&str]) -> Server {
        let mut args: Vec<String> = vec![
            "--save".into(),
            "".into(),
            "--appendonly".into(),
            "no".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        Server::start(Kind::Redis, "redis-server", &args)
    }

    /// Starts `kind` on a free port with `args` after `--port P`; retries on
    /// another port if the process dies early (port taken in a race).
    pub fn start(kind: Kind, name: &str, args: &[String]) -> Server {
        let mut last_log = String::new();
        for _attempt in 0..5 {
            let port = free_port();
            let dir = scratch_dir(match kind {
                Kind::Shardis => "shardis",
                Kind::Redis => "redis",
            });
            let log = dir.join("server.log");
            let prog: PathBuf = match kind {
                Kind::Shardis => PathBuf::from(SHARDIS_BIN),
                Kind::Redis => which("redis-server").expect("redis-server not on PATH"),
            };
            let mut cmd = Command::new(prog);
            die_with_parent(&mut cmd);
            cmd.arg("--port")
                .arg(port.to_string())
                .arg("--bind")
                .arg("127.0.0.1");
            cmd.arg("--dir").arg(&dir);
            // No snapshots unless a test asks (both servers' default save
            // rules would start BGSAVEs in the middle of busy tests).
            if kind == Kind::Shardis {
                cmd.arg("--save").arg("");
            }
            cmd.args(args);
            let out = std::fs::File::create(&log).expect("create log file");
            cmd.stdout(out.try_clone().unwrap())
                .stderr(out)
                .stdin(Stdio::null());
            let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {name}: {e}"));
            let mut srv = Server {
                kind,
                port,
                child,
                dir,
                log,
                name: name.to_string(),
            };
            match srv.wait_ready(Duration::from_secs(20)) {
                Ok(()) => return srv,
                Err(e) => {
                    last_log = format!("{e}\n--- log ---\n{}", srv.log_text());
                    // Drop kills it; retry only if it died (likely a port race).
                    let died = srv.child.try_wait().ok().flatten().is_some();
                    drop(srv);
                    if !died {
                        break;
                    }
                }
            }
        }
        panic!("{name} did not start: {last_log}");
    }

    /// Runs shardis with exactly `args` (e.g. a config file that sets the
    /// port itself) and waits until `port` answers.
    pub fn shardis_raw(name: &str, args: &[String], port: u16) -> Result<Server, String> {
        Server::raw(Kind::Shardis, name, args, port)
    }

    /// [`Server::shardis_raw`] for redis-server.
    pub fn redis_raw(args: &[String], port: u16) -> Server {
        Server::raw(Kind::Redis, "redis-server", args, port).unwrap()
    }

    fn raw(kind: Kind, name: &str, args: &[String], port: u16) -> Result<Server, String> {
        let dir = scratch_dir("shardis-raw");
        let log = dir.join("server.log");
        let out = std::fs::File::create(&log).expect("create log file");
        let prog: PathBuf = match kind {
            Kind::Shardis => PathBuf::from(SHARDIS_BIN),
            Kind::Redis => which("redis-server").expect("redis-server not on PATH"),
        };
        let mut cmd = Command::new(prog);
        let child = die_with_parent(&mut cmd)
            .args(args)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn {name}: {e}"))?;
        let mut srv = Server {
            kind,
            port,
            child,
            dir,
            log,
            name: name.to_string(),
        };
        match srv.wait_ready(Duration::from_secs(20)) {
            Ok(()) => Ok(srv),
            Err(e) => Err(format!("{e}\n--- log ---\n{}", srv.log_text())),
        }
    }

    /// Polls until the server answers PING (any reply but -LOADING, e.g.
    /// -NOAUTH, counts).
    pub fn wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("{} exited early with {status}", self.name));
            }
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                if s.write_all(b"*1\r\n$4\r\nPING\r\n").is_ok() {
                    let mut b = [0u8; 64];
                    if let Ok(n) = s.read(&mut b) {
                        // Still loading its data files is not ready yet.
                        let loading = b[..n].starts_with(b"-LOADING");
                        if n > 0 && (b[0] == b'+' || b[0] == b'-') && !loading {
                            return Ok(());
                        }
                    }
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not answer PING on port {} in {limit:?}",
                    self.name, self.port
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A new raw connection to this server.
    pub fn conn(&self) -> Conn {
        let mut c = Conn::connect(self.port);
        c.label = format!("{} on port {}", self.name, self.port);
        c
    }

    /// The server's stdout/stderr so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The kernel closes a killed process's io_uring (and the listener
        // it references) after reaping it: wait, so a test restarting on
        // the same port does not find it still bound.
        let deadline = Instant::now() + Duration::from_secs(10);
        while listening(self.port) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A raw RESP connection: sends commands, returns each reply's exact bytes.
pub struct Conn {
    pub stream: TcpStream,
    pub port: u16,
    /// Names the server in panic messages, e.g. "shardis(shards=4)".
    pub label: String,
    buf: Vec<u8>,
}

impl Conn {
    pub fn connect(port: u16) -> Conn {
        Conn::try_connect(port).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_connect(port: u16) -> Result<Conn, String> {
        Conn::try_connect_ip("127.0.0.1", port)
    }

    /// Connects to `port`, trying again until `limit` has passed (a
    /// server still starting); None if it never listened.
    pub fn connect_within(port: u16, limit: Duration) -> Option<Conn> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(c) = Conn::try_connect(port) {
                return Some(c);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Connects to `ip`:`port` (a server bound elsewhere than 127.0.0.1).
    pub fn try_connect_ip(ip: &str, port: u16) -> Result<Conn, String> {
        let stream =
            TcpStream::connect((ip, port)).map_err(|e| format!("connect to {ip}:{port}: {e}"))?;
        stream
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(Conn {
            stream,
            port,
            label: format!("port {port}"),
            buf: Vec::new(),
        })
    }

    /// Sends one command (as a RESP multibulk) and returns its reply.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.send(args);
        self.read_reply()
    }

    /// Like [`Conn::cmd`] from a redis-cli-like line: `SET "a b" 'c'`.
    pub fn line(&mut self, line: &str) -> Vec<u8> {
        let args =
            split(line.as_bytes()).unwrap_or_else(|| panic!("unbalanced quotes in {line:?}"));
        self.cmd(&args)
    }

    /// Sends one command as a RESP multibulk without reading the reply.
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        let bytes = encode(args);
        self.send_raw(&bytes);
    }

    /// Writes raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("{}: write: {e}", self.label));
    }

    /// Reads exactly one complete reply (RESP2 or RESP3) and returns its bytes.
    pub fn read_reply(&mut self) -> Vec<u8> {
        self.try_read_reply()
            .unwrap_or_else(|e| panic!("{}: {e}", self.label))
    }

    /// Reads one reply; Err on EOF, timeout or a malformed reply.
    pub fn try_read_reply(&mut self) -> Result<Vec<u8>, String> {
        loop {
            if !self.buf.is_empty() {
                if let Some(n) = shardis::resp::reply_len(&self.buf) {
                    let rest = self.buf.split_off(n);
                    return Ok(std::mem::replace(&mut self.buf, rest));
                }
                if !matches!(
                    self.buf[0],
                    b'+' | b'-'
                        | b':'
                        | b'$'
                        | b'*'
                        | b'_'
                        | b','
                        | b'#'
                        | b'('
                        | b'='
                        | b'!'
                        | b'~'
                        | b'>'
                        | b'%'
                        | b'|'
                ) {
                    return Err(format!("malformed reply: {}", escape(&self.buf)));
                }
            }
            let mut chunk = [0u8; 64 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return Err(format!(
                        "connection closed; partial reply: {}",
                        escape(&self.buf)
                    ))
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(format!(
                        "{TIMEOUT_PREFIX} {:?}; partial reply: {}",
                        self.timeout(),
                        escape(&self.buf)
                    ))
                }
                Err(e) => {
                    return Err(format!(
                        "read error ({e}); partial reply: {}",
                        escape(&self.buf)
                    ))
                }
            }
        }
    }

    /// Changes how long a read may wait for a reply.
    pub fn set_timeout(&mut self, limit: Duration) {
        self.stream.set_read_timeout(Some(limit)).unwrap();
    }

    fn timeout(&self) -> Duration {
        self.stream
            .read_timeout()
            .ok()
            .flatten()
            .unwrap_or(REPLY_TIMEOUT)
    }

    /// Reads `n` replies.
    pub fn read_replies(&mut self, n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|_| self.read_reply()).collect()
    }

    /// Waits for the server to close the connection; returns any bytes
    /// received before EOF (after those already buffered). Panics on timeout.
    pub fn read_until_closed(&mut self, limit: Duration) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        self.stream.set_read_timeout(Some(limit)).unwrap();
        let mut chunk = [0u8; 8192];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!(
                    "{}: connection not closed within {limit:?} ({e}); got {}",
                    self.label,
                    escape(&out)
                ),
            }
        }
        self.stream.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
        out
    }
}

/// Encodes a command as a RESP multibulk.
pub fn encode<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Splits a redis-cli-like line into arguments (sdssplitargs quoting);
/// None on unbalanced quotes.
pub fn split(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut ranges = Vec::new();
    if !shardis::resp::split_args(line, &mut out, &mut ranges) {
        return None;
    }
    Some(
        ranges
            .into_iter()
            .map(|(a, b)| out[a..b].to_vec())
            .collect(),
    )
}

/// Escapes bytes for messages: `+OK\r\n`, `\x00`, `\"`.
pub fn escape(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() + 2);
    s.push('"');
    for &c in b {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    s
}

/// Like [`escape`], but long values are cut in the middle.
pub fn escape_short(b: &[u8], max: usize) -> String {
    if b.len() <= max {
        return escape(b);
    }
    format!(
        "{}...({} bytes)...{}",
        escape(&b[..max / 2]),
        b.len(),
        escape(&b[b.len() - max / 2..])
    )
}

/// utime + stime (clock ticks) of a process, from /proc/<pid>/stat.
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/pid/stat");
    // Fields after the ")" that ends the command name; utime is field 14.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): utime = field 14 => index 11.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// Resident set size of a process in KiB, from /proc/<pid>/status.
pub fn rss_kib(pid: u32) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/pid/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Writes `text` to a file in `dir` and returns its path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write file");
    p
}

/// `assert_eq!` on byte strings, showing both sides escaped (`"+OK\r\n"`).
#[macro_export]
macro_rules! assert_bytes {
    ($got:expr, $want:expr $(, $($arg:tt)+)?) => {
        assert_eq!($crate::common::escape(&$got[..]), $crate::common::escape(&$want[..]) $(, $($arg)+)?)
    };
}

/// `n` keys with the given prefix, each on a different shard of `shards`
/// (slot % shards), so that a test touches every shard.
pub fn keys_on_distinct_shards(prefix: &str, n: usize, shards: usize) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for i in 0.. {
        let k = format!("{prefix}{i}");
        if seen.insert(shardis::slot::key_slot(k.as_bytes()) as usize % shards) {
            out.push(k);
            if out.len() == n {
                break;
            }
        }
    }
    out
}

/// A `redis` crate connection to 127.0.0.1:`port`.
pub fn redis_client(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_connection()
        .unwrap()
}

/// The value of an integer reply.
pub fn int_reply(r: &[u8]) -> i64 {
    assert_eq!(r[0], b':', "not an integer: {}", escape(r));
    std::str::from_utf8(&r[1..r.len() - 2])
        .unwrap()
        .parse()
        .unwrap()
}

/// The payload of a bulk-string reply.
pub fn bulk_payload(reply: &[u8]) -> Vec<u8> {
    assert_eq!(reply[0], b'$', "not a bulk: {}", escape_short(reply, 200));
    let nl = reply.iter().position(|&b| b == b'\n').unwrap();
    let n: usize = std::str::from_utf8(&reply[1..nl - 1])
        .unwrap()
        .parse()
        .unwrap();
    reply[nl + 1..nl + 1 + n].to_vec()
}

/// The elements of a flat array-of-bulks reply.
pub fn bulk_items(reply: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let nl = reply.iter().position(|&b| b == b'\n').unwrap();
    let mut p = nl + 1;
    while p < reply.len() {
        let e = p + reply[p..].iter().position(|&b| b == b'\n').unwrap();
        let n: usize = std::str::from_utf8(&reply[p + 1..e - 1])
            .unwrap()
            .parse()
            .unwrap();
        out.push(reply[e + 1..e + 1 + n].to_vec());
        p = e + 1 + n + 2;
    }
    out
}

/// redis-check-rdb must accept the file at `path`.
pub fn check_rdb(path: &Path) {
    let check = Command::new("redis-check-rdb")
        .arg(path)
        .output()
        .expect("run redis-check-rdb");
    assert!(
        check.status.success(),
        "redis-check-rdb failed: {}",
        String::from_utf8_lossy(&check.stdout)
    );
}

/// Whether a socket listens on TCP `port` (/proc/net/tcp, state 0A).
pub fn listening(port: u16) -> bool {
    let local = format!(":{port:04X}");
    std::fs::read_to_string("/proc/net/tcp").is_ok_and(|t| {
        t.lines().skip(1).any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1].ends_with(&local) && f[3] == "0A"
        })
    })
}
