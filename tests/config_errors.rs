//! Configuration: a bad redis.conf makes the binary exit non-zero with one
//! line naming the file, the line, the directive and the reason (the reason
//! is Redis's own text whenever redis-server rejects the same file); good
//! files, `include` and command-line overrides are accepted.

mod common;

use common::{die_with_parent, free_port, which, write_file, Conn, Server, TempDir, SHARDIS_BIN};
use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `prog args` and waits for it to exit (killing it after `limit`).
/// Returns (exit code, stdout + stderr), or None if it was still running.
fn run_to_exit(prog: &Path, args: &[&str], limit: Duration) -> Option<(i32, String)> {
    let tmp = TempDir::new("cfg-run");
    let dir = &tmp.0;
    let mut cmd = Command::new(prog);
    let mut child = die_with_parent(&mut cmd)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    status.map(|st| (st.code().unwrap_or(-1), out))
}

/// The reason redis-server gives for refusing `conf` (the last line of its
/// FATAL CONFIG FILE ERROR report), when redis-server is installed.
fn redis_reason(conf: &Path) -> Option<String> {
    let redis = which("redis-server")?;
    let (code, out) = run_to_exit(&redis, &[conf.to_str().unwrap()], Duration::from_secs(10))
        .unwrap_or_else(|| {
            panic!(
                "redis-server accepted {} (test case is wrong)",
                conf.display()
            )
        });
    assert_ne!(code, 0, "redis-server accepted {}", conf.display());
    out.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
}

/// Expects shardis to refuse `conf` (plus command-line `extra`): non-zero
/// exit and exactly one line of output, naming `file:line`, `directive` and
/// each of `words`. Returns the line.
fn expect_refused(
    conf: &Path,
    extra: &[&str],
    file: &Path,
    line: usize,
    directive: &str,
    words: &[&str],
) -> String {
    let mut args = vec![conf.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (code, out) = run_to_exit(Path::new(SHARDIS_BIN), &args, Duration::from_secs(10))
        .unwrap_or_else(|| panic!("shardis started with a bad config {}", conf.display()));
    assert_ne!(code, 0, "shardis exited 0 with bad config; output: {out}");
    let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "want exactly one line of output, got: {out:?}"
    );
    let msg = lines[0];
    let loc = format!("{}:{line}", file.display());
    assert!(msg.contains(&loc), "message should name {loc}: {msg}");
    assert!(
        msg.contains(directive),
        "message should name the directive '{directive}': {msg}"
    );
    for w in words {
        assert!(msg.contains(w), "message should contain {w:?}: {msg}");
    }
    msg.to_string()
}

/// A refused directive whose reason must be redis-server's own.
fn refused_like_redis(name: &str, text: &str, line: usize, directive: &str) {
    let tmp = TempDir::new("cfg");
    let dir = &tmp.0;
    let conf = write_file(dir, &format!("{name}.conf"), text);
    let reason = redis_reason(&conf);
    let words: Vec<&str> = reason.iter().map(String::as_str).collect();
    expect_refused(&conf, &[], &conf, line, directive, &words);
}

#[test]
fn unknown_directive() {
    refused_like_redis(
        "unknown",
        "port 7000\n# a comment\n\nno-such-directive yes\n",
        4,
        "no-such-directive",
    );
}

#[test]
fn wrong_number_of_arguments() {
    refused_like_redis("arity", "hz 10 20\n", 1, "hz");
}

#[test]
fn bad_values() {
    refused_like_redis("bad-int", "hz 10\nport abc\n", 2, "port");
    refused_like_redis("bad-bool", "protected-mode maybe\n", 1, "protected-mode");
    refused_like_redis("bad-enum", "loglevel loud\n", 1, "loglevel");
    refused_like_redis(
        "bad-memory",
        "proto-max-bulk-len lots\n",
        1,
        "proto-max-bulk-len",
    );
}

#[test]
fn out_of_range_values() {
    refused_like_redis("range-port", "port 70000\n", 1, "port");
    refused_like_redis("range-negative", "timeout -1\n", 1, "timeout");
    refused_like_redis("range-maxclients", "maxclients 0\n", 1, "maxclients");
    refused_like_redis(
        "range-bulk",
        "proto-max-bulk-len 1000\n",
        1,
        "proto-max-bulk-len",
    );
}

#[test]
fn unbalanced_quotes() {
    refused_like_redis("quotes", "port 7000\nrequirepass \"abc\n", 2, "requirepass");
}

#[test]
fn unsupported_redis_directive() {
    // redis-server accepts this, so only the shape of the message is checked.
    let tmp = TempDir::new("cfg");
    let dir = &tmp.0;
    let conf = write_file(dir, "defrag.conf", "port 7000\nactivedefrag yes\n");
    expect_refused(&conf, &[], &conf, 2, "activedefrag", &["not supported"]);
    // Asking for what Shardis does anyway is fine (checked below by starting).
}

#[test]
fn missing_include_file() {
    let tmp = TempDir::new("cfg");
    let dir = &tmp.0;
    let missing = dir.join("does-not-exist.conf");
    let conf = write_file(
        dir,
        "main.conf",
        &format!("hz 10\ninclude {}\n", missing.display()),
    );
    expect_refused(&conf, &[], &conf, 2, "include", &["does-not-exist.conf"]);
}

#[test]
fn error_inside_included_file_names_that_file() {
    let tmp = TempDir::new("cfg");
    let dir = &tmp.0;
    let inc = write_file(dir, "inc.conf", "hz 10\nbogus-directive 1\n");
    let conf = write_file(
        dir,
        "main.conf",
        &format!("port 7000\ninclude {}\n", inc.display()),
    );
    expect_refused(&conf, &[], &inc, 2, "bogus-directive", &[]);
}

#[test]
fn bad_command_line_directive() {
    for (args, directive) in [
        (&["--port", "abc"][..], "port"),
        (&["--no-such-thing", "1"][..], "no-such-thing"),
    ] {
        let (code, out) = run_to_exit(Path::new(SHARDIS_BIN), args, Duration::from_secs(10))
            .unwrap_or_else(|| panic!("shardis started with {args:?}"));
        assert_ne!(code, 0, "{args:?}: {out}");
        let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{args:?}: want one line, got {out:?}");
        assert!(lines[0].contains(directive), "{args:?}: {}", lines[0]);
    }
}

/// Command-line mistakes name the line as redis-server does, each value
/// quoted (Redis's suite, "redis-server command line arguments - error
/// cases"), with Redis's reason; both servers' output is checked.
#[test]
fn command_line_errors_quote_the_line_like_redis() {
    let cases: [(&[&str], &str, &str); 6] = [
        (&["--port"], "'port'", "wrong number of arguments"),
        (
            &["--port", "6379", "6380"],
            "'port \"6379\" \"6380\"'",
            "wrong number of arguments",
        ),
        (
            &["--port", "--bla", "--loglevel", "verbose"],
            "'port \"--bla\"'",
            "argument couldn't be parsed into an integer",
        ),
        (
            &["--logfile", "--my--log--file", "--loglevel", "--bla"],
            "'loglevel \"--bla\"'",
            "argument(s) must be one of the following",
        ),
        (
            &["--shutdown-on-sigint"],
            "'shutdown-on-sigint'",
            "argument(s) must be one of the following",
        ),
        (
            &["--replicaof", "127.0.0.1", "abc"],
            "'replicaof \"127.0.0.1\" \"abc\"'",
            "Invalid master port",
        ),
    ];
    let mut progs = vec![std::path::PathBuf::from(SHARDIS_BIN)];
    progs.extend(which("redis-server"));
    for prog in &progs {
        for (args, line, reason) in cases {
            let (code, out) = run_to_exit(prog, args, Duration::from_secs(10))
                .unwrap_or_else(|| panic!("{prog:?} started with {args:?}"));
            assert_ne!(code, 0, "{prog:?} {args:?}: {out}");
            let at = out
                .find(line)
                .unwrap_or_else(|| panic!("{prog:?} {args:?}: {out}"));
            assert!(out[at..].contains(reason), "{prog:?} {args:?}: {out}");
        }
    }
}

/// Words after the config file and before the first option begin the
/// first directive, as Redis appends them to its options text
/// (`redis.conf loglevel verbose --port P`).
#[test]
fn words_before_the_first_option_begin_a_directive() {
    let tmp = TempDir::new("cfg-bare");
    let conf = write_file(&tmp.0, "redis.conf", "loglevel notice\n");
    let port = free_port();
    let srv = Server::shardis_raw(
        "shardis-bare-words",
        &[
            conf.to_string_lossy().into_owned(),
            "loglevel".into(),
            "verbose".into(),
            "--port".into(),
            port.to_string(),
            "--save".into(),
            "".into(),
        ],
        port,
    )
    .unwrap();
    let mut c = Conn::connect(srv.port);
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "loglevel"]),
        b"*2\r\n$8\r\nloglevel\r\n$7\r\nverbose\r\n"
    );
}

/// The shape of the seed's redis.conf, limited to directives Shardis
/// supports today (plus persistence/cluster lines set to what it does).
#[test]
fn seed_style_file_is_accepted() {
    let tmp = TempDir::new("cfg");
    let dir = &tmp.0;
    let port = free_port();
    let conf = write_file(
        dir,
        "redis.conf",
        &format!(
            "# redis.conf in the seed's style\n\
             port {port}\n\
             bind 127.0.0.1\n\
             requirepass 1234\n\
             masterauth \"\"\n\
             protected-mode no\n\
             daemonize no\n\
             appendonly no\n\
             save \"\"\n\
             cluster-enabled no\n\
             cluster-config-file nodes.conf\n\
             cluster-node-timeout 15000\n\
             \n\
             dir {}\n\
             logfile ''\n\
             loglevel notice\n\
             maxclients 10000\n\
             timeout 0\n\
             tcp-keepalive 300\n\
             hz 10\n\
             databases 16\n\
             proto-max-bulk-len 512mb\n",
            dir.display()
        ),
    );
    let srv = Server::shardis_raw(
        "shardis(seed conf)",
        &[conf.display().to_string(), "--shards".into(), "2".into()],
        port,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut c = srv.conn();
    assert_bytes!(c.line("PING"), b"-NOAUTH Authentication required.\r\n");
    assert_bytes!(c.line("AUTH 1234"), b"+OK\r\n");
    assert_bytes!(c.line("PING"), b"+PONG\r\n");
    drop(srv);
}

#[test]
fn include_and_command_line_overrides() {
    let tmp = TempDir::new("cfg");
    let dir = &tmp.0;
    let (file_port, inc_port, cli_port) = (free_port(), free_port(), free_port());
    let inc = write_file(dir, "inc.conf", &format!("port {inc_port}\nhz 20\n"));
    let conf = write_file(
        dir,
        "main.conf",
        &format!(
            "port {file_port}\nbind 127.0.0.1\ninclude {}\nmaxclients 50\n",
            inc.display()
        ),
    );
    // The included file's port wins over the earlier line.
    let srv = Server::shardis_raw(
        "shardis(include)",
        &[conf.display().to_string(), "--shards".into(), "1".into()],
        inc_port,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        TcpStream::connect(("127.0.0.1", file_port)).is_err(),
        "the file's first port should be overridden"
    );
    drop(srv);
    // Command-line directives win over the file.
    let args = [
        conf.display().to_string(),
        "--port".into(),
        cli_port.to_string(),
        "--shards".into(),
        "4".into(),
    ];
    let srv =
        Server::shardis_raw("shardis(--port)", &args, cli_port).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        TcpStream::connect(("127.0.0.1", inc_port)).is_err(),
        "--port should override the file"
    );
    assert_bytes!(srv.conn().line("PING"), b"+PONG\r\n");
    drop(srv);
}

/// Kills a daemonized server by pid on drop.
struct PidGuard(Option<i32>);

impl Drop for PidGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

#[test]
fn daemonize_with_pidfile() {
    let tmp = TempDir::new("cfg-daemon");
    let dir = &tmp.0;
    let port = free_port();
    let pidfile = dir.join("shardis.pid");
    let log = dir.join("shardis.log");
    let conf = write_file(
        dir,
        "daemon.conf",
        &format!(
            "port {port}\nbind 127.0.0.1\ndaemonize yes\npidfile {}\nlogfile {}\ndir {}\nshards 2\n",
            pidfile.display(),
            log.display(),
            dir.display()
        ),
    );
    let mut guard = PidGuard(None);
    let (code, out) = run_to_exit(
        Path::new(SHARDIS_BIN),
        &[conf.to_str().unwrap()],
        Duration::from_secs(10),
    )
    .expect("the launching process should return at once with daemonize yes");
    assert_eq!(code, 0, "daemonize: {out}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let pid: i32 = loop {
        if let Some(p) = std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            break p;
        }
        assert!(
            Instant::now() < deadline,
            "no pidfile at {}",
            pidfile.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    guard.0 = Some(pid);
    assert!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} from the pidfile is not running"
    );
    let mut c = Conn::connect_within(port, Duration::from_secs(10)).unwrap_or_else(|| {
        panic!(
            "daemon not listening on {port}; log: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    });
    assert_bytes!(c.line("PING"), b"+PONG\r\n");
    drop(c);
    // SIGTERM shuts it down cleanly.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{pid}")).exists() && !zombie(pid) {
        assert!(
            Instant::now() < deadline,
            "daemon {pid} did not exit on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    guard.0 = None;
}

fn zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(true)
}

/// `save` as Redis 7.0 loads it: without any `save` line the default rules
/// (`3600 1 300 100 60 10000`); the first `save` line of a load replaces
/// them and later ones (file or command line) add rules; `save ""`
/// clears. Multi-argument directives given as one quoted argument are
/// split on spaces. Checked against redis-server for each case.
#[test]
fn save_rules_and_multi_arg_directives_load_like_redis() {
    let Some(redis) = which("redis-server") else {
        return;
    };
    let tmp = TempDir::new("cfg-save");
    let conf = write_file(&tmp.0, "two-saves.conf", "save 900 1\nsave 300 10\n");
    let conf = conf.to_str().unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec![],
        vec![conf],
        vec![conf, "--save", "60 5"],
        vec![conf, "--save", ""],
        vec!["--save", "", "--save", "60 5"],
        vec!["--client-output-buffer-limit", "normal 0 1mb 1"],
    ];
    for case in cases {
        let get = |prog: &Path| {
            let port = free_port();
            let dir = TempDir::new("cfg-save-run");
            let mut args: Vec<String> = case.iter().map(|s| s.to_string()).collect();
            let at = usize::from(args.first().is_some_and(|a| !a.starts_with("--")));
            for (i, a) in [
                "--port",
                &port.to_string(),
                "--dir",
                dir.0.to_str().unwrap(),
            ]
            .iter()
            .enumerate()
            {
                args.insert(at + i, a.to_string());
            }
            let mut cmd = Command::new(prog);
            die_with_parent(&mut cmd);
            let mut child = cmd
                .args(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut c = Conn::connect_within(port, Duration::from_secs(10))
                .unwrap_or_else(|| panic!("{prog:?} {args:?} did not start"));
            let got = [
                c.line("CONFIG GET save"),
                c.line("CONFIG GET client-output-buffer-limit"),
            ];
            let _ = child.kill();
            let _ = child.wait();
            got
        };
        let want = get(&redis);
        let got = get(Path::new(SHARDIS_BIN));
        assert_eq!(
            common::escape(&got.concat()),
            common::escape(&want.concat()),
            "{case:?}"
        );
    }
}

/// A second server on a port (client or cluster bus) a running server
/// holds refuses to start with redis-server's message, whatever the
/// first one is; the first keeps serving alone.
#[test]
fn a_port_in_use_refuses_to_start() {
    let shardis = Path::new(SHARDIS_BIN);
    let first = Server::shardis(2, &[]);
    let port = first.port.to_string();
    let want = format!(
        "Could not create server TCP listening socket *:{port}: bind: Address already in use"
    );
    let (code, out) = run_to_exit(
        shardis,
        &["--port", &port, "--save", ""],
        Duration::from_secs(20),
    )
    .expect("a second server on the port kept running");
    assert_ne!(code, 0);
    assert!(out.contains(&want), "{out}");
    if let Some(redis) = which("redis-server") {
        let (code, out) = run_to_exit(
            &redis,
            &["--port", &port, "--save", ""],
            Duration::from_secs(20),
        )
        .expect("redis-server kept running");
        assert_ne!(code, 0);
        assert!(out.contains(&want), "{out}");
    }
    // The cluster bus port (port + 10000 by default).
    let bus_first = Server::shardis(1, &["--cluster-enabled", "yes"]);
    let bus = (bus_first.port + 10000).to_string();
    let other = free_port().to_string();
    let (code, out) = run_to_exit(
        shardis,
        &[
            "--port",
            &other,
            "--save",
            "",
            "--cluster-enabled",
            "yes",
            "--cluster-port",
            &bus,
        ],
        Duration::from_secs(20),
    )
    .expect("a second node on the bus port kept running");
    assert_ne!(code, 0);
    assert!(
        out.contains(&format!(":{bus}: bind: Address already in use")),
        "{out}"
    );
    // Both first servers still answer, each its own.
    assert_eq!(first.conn().cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(bus_first.conn().cmd(&["PING"]), b"+PONG\r\n");
}

/// `rename-command` as in Redis: the command answers to its new name only
/// (to none when the new name is empty), the line survives CONFIG
/// REWRITE, and an unknown command is a config error naming the line.
#[test]
fn rename_command_renames_or_disables() {
    let tmp = TempDir::new("cfg-rename");
    let port = free_port();
    let conf = write_file(
        &tmp.0,
        "redis.conf",
        &format!(
            "port {port}\nsave \"\"\nrename-command flushdb badger\nrename-command FLUSHALL \"\"\n"
        ),
    );
    let args = [conf.to_string_lossy().into_owned()];
    let mut srv = Server::shardis_raw("shardis-rename", &args, port).unwrap();
    let mut c = Conn::connect(port);
    let unknown = c.cmd(&["FLUSHDB"]);
    assert!(
        unknown.starts_with(b"-ERR unknown command 'FLUSHDB'"),
        "{unknown:?}"
    );
    assert!(c.cmd(&["FLUSHALL"]).starts_with(b"-ERR unknown command"));
    assert_eq!(c.cmd(&["BADGER"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["CONFIG", "REWRITE"]), b"+OK\r\n");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.contains("rename-command flushdb badger"), "{text}");
    let _ = srv.child.kill();
    let _ = srv.child.wait();

    let bad = write_file(&tmp.0, "bad.conf", "rename-command nosuchcommand x\n");
    let mut progs = vec![std::path::PathBuf::from(SHARDIS_BIN)];
    progs.extend(which("redis-server"));
    for prog in &progs {
        let (code, out) = run_to_exit(prog, &[bad.to_str().unwrap()], Duration::from_secs(10))
            .unwrap_or_else(|| panic!("{prog:?} started"));
        assert_ne!(code, 0, "{prog:?}: {out}");
        assert!(
            out.contains("No such command in rename-command"),
            "{prog:?}: {out}"
        );
        if prog.ends_with("shardis-server") {
            assert!(out.contains("bad.conf:1"), "{out}");
        }
    }
}
