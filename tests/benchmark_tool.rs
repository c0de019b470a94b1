//! redis-benchmark (the real tool) must run cleanly against shardis:
//! exit status 0 and no error in its output. Never any timing assertion.

mod common;

use common::{which, Server};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The ping/set/get/incr/mset subset, plus `extra` arguments.
fn benchmark(server: &Server, extra: &[&str]) {
    let mut args = vec!["-q", "-n", "100000", "-t", "ping,set,get,incr,mset"];
    args.extend_from_slice(extra);
    run_tool(server, &args);
}

/// Runs redis-benchmark with `tool_args` against `server`; fails on a bad
/// exit status, any error or warning line, or a missing final MSET line.
fn run_tool(server: &Server, tool_args: &[&str]) {
    let extra = tool_args;
    let Some(tool) = which("redis-benchmark") else {
        if std::env::var("SHARDIS_ALLOW_NO_REDIS").as_deref() == Ok("1") {
            eprintln!("SKIP: redis-benchmark not found (SHARDIS_ALLOW_NO_REDIS=1)");
            return;
        }
        panic!("redis-benchmark not found on PATH (install redis-tools)");
    };
    let port = server.port.to_string();
    let mut args = vec!["-h", "127.0.0.1", "-p", &port];
    args.extend_from_slice(extra);
    let mut cmd = Command::new(tool);
    let mut child = common::die_with_parent(&mut cmd)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn redis-benchmark");
    // Read both pipes on threads so neither can fill up and block the tool.
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t1 = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let t2 = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(400);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "redis-benchmark {args:?} against {} did not finish in 400 s",
                server.name
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = format!("{}{}", t1.join().unwrap(), t2.join().unwrap());
    // -q rewrites progress lines with \r; keep the final line of each.
    let shown: Vec<&str> = out
        .lines()
        .filter_map(|l| l.rsplit('\r').find(|s| !s.trim().is_empty()))
        .collect();
    let shown = shown.join("\n  ");
    eprintln!("{} {:?}:\n  {shown}", server.name, extra);
    assert!(
        status.success(),
        "redis-benchmark {args:?} against {} exited with {status}:\n  {shown}",
        server.name
    );
    // A real redis-server gives neither errors nor warnings (e.g. the
    // start-up CONFIG GET save / appendonly must work).
    for bad in ["Error", "ERR", "error", "WARNING"] {
        assert!(
            !out.contains(bad),
            "redis-benchmark {args:?} against {} printed {bad:?}:\n  {shown}",
            server.name
        );
    }
    assert!(
        out.contains("MSET"),
        "redis-benchmark output lacks the MSET line:\n  {shown}"
    );
    assert!(
        server.conn().line("PING") == b"+PONG\r\n",
        "{} not answering after the benchmark",
        server.name
    );
}

#[test]
fn redis_benchmark_shards_1() {
    let s = Server::shardis(1, &[]);
    benchmark(&s, &[]);
    benchmark(&s, &["-P", "16"]);
}

#[test]
fn redis_benchmark_shards_4() {
    let s = Server::shardis(4, &[]);
    benchmark(&s, &[]);
    benchmark(&s, &["-P", "16"]);
}

/// The whole default test set (strings, lists, sets, hashes, sorted sets,
/// LRANGE_100..600, MSET), without and with pipelining.
#[test]
fn redis_benchmark_default_set() {
    for shards in [1, 4] {
        let s = Server::shardis(shards, &[]);
        run_tool(&s, &["-q", "-n", "20000"]);
        run_tool(&s, &["-q", "-n", "20000", "-P", "16"]);
    }
}
