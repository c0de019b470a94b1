//! System calls a shard makes, counted with `strace -c`: per request on
//! one connection (where each reactor pass serves one request, as on a
//! lightly loaded node), and while the node is idle.
//!
//! glommio's reactor as published cancels and re-arms its preemption
//! timers on every pass, arms a new poll linking its rings for every
//! sleep and issues `sys_membarrier` before it: eight `io_uring_enter`
//! calls and a membarrier per request, where redis-server makes three
//! system calls (epoll_wait, read, write). Patched
//! (vendor/glommio/SHARDIS-PATCH.md, tenth change), a request costs its
//! recv, the submission of its socket's next poll, its send and the sleep.
//!
//! Counts, not timings: `strace` slows the server, which only lets more
//! requests find the next one already there (fewer sleeps), never more.

mod common;

use common::{which, Server};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Duration;

/// `strace -f -c` attached to a whole process; the summary is read when
/// it is stopped.
struct Strace {
    child: Child,
    out: std::path::PathBuf,
}

impl Strace {
    fn attach(pid: u32, tag: &str) -> Strace {
        let strace = which("strace").expect(
            "strace not found on PATH: tests/syscalls.rs counts system calls with it \
             (scripts/test.sh installs it; Debian: apt-get install strace)",
        );
        let out = common::scratch_dir(tag).join("strace.txt");
        let child = Command::new(strace)
            .args(["-f", "-c", "-q", "-o"])
            .arg(&out)
            .args(["-p", &pid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn strace");
        // strace attaches to every thread before the first count.
        thread::sleep(Duration::from_millis(700));
        Strace { child, out }
    }

    /// Detaches (SIGINT makes strace print its summary) and returns the
    /// calls per system call name.
    fn counts(mut self) -> HashMap<String, u64> {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        assert_eq!(rc, 0, "signal strace");
        self.child.wait().expect("wait for strace");
        let text = std::fs::read_to_string(&self.out).expect("read strace summary");
        let mut counts = HashMap::new();
        for line in text.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // "% time  seconds  usecs/call  calls  [errors]  syscall"
            if fields.len() < 5 || fields[0].parse::<f64>().is_err() {
                continue;
            }
            let (Ok(calls), Some(name)) = (fields[3].parse::<u64>(), fields.last()) else {
                continue;
            };
            if *name != "total" {
                counts.insert(name.to_string(), calls);
            }
        }
        assert!(!counts.is_empty(), "no counts in strace's summary:\n{text}");
        counts
    }
}

fn calls(counts: &HashMap<String, u64>, name: &str) -> u64 {
    counts.get(name).copied().unwrap_or(0)
}

/// One connection sends PING, waits for each reply and pauses 1 ms before
/// the next: every request is a reactor pass of its own, and the shard
/// sleeps between them (under strace too, which slows each system call
/// by tens of microseconds). PING runs on the connection's shard, so no
/// other shard takes part.
fn one_request_per_pass(shards: usize) {
    let server = Server::shardis(shards, &[]);
    let mut conn = server.conn();
    for _ in 0..100 {
        assert_eq!(conn.cmd(&["PING"]), b"+PONG\r\n");
    }
    let trace = Strace::attach(server.pid(), "syscalls-request");
    const REQUESTS: u64 = 1000;
    for _ in 0..REQUESTS {
        assert_eq!(conn.cmd(&["PING"]), b"+PONG\r\n");
        thread::sleep(Duration::from_millis(1));
    }
    let counts = trace.counts();
    let enters = calls(&counts, "io_uring_enter") as f64 / REQUESTS as f64;
    let total = counts.values().sum::<u64>() as f64 / REQUESTS as f64;
    eprintln!(
        "shards {shards}: {total:.2} system calls per request ({enters:.2} io_uring_enter); {counts:?}"
    );
    // The sleep: 1 (8.25 unpatched, 2.5-2.7 with a one-shot read poll
    // armed after every read, under strace), with a margin for the crons'
    // wake-ups and for the passes strace's pauses split (1.6-1.7
    // measured).
    assert!(
        enters <= 2.2,
        "shards {shards}: {enters:.2} io_uring_enter per request (want <= 2.2): {counts:?}"
    );
    assert_eq!(
        calls(&counts, "membarrier"),
        0,
        "shards {shards}: the reactor issues sys_membarrier: {counts:?}"
    );
    // recv, send, the sleep: 3, as redis-server's read, write and
    // epoll_wait (11.1 unpatched, 4.5-4.7 with the one-shot poll), with
    // the same margin.
    assert!(
        total <= 4.2,
        "shards {shards}: {total:.2} system calls per request (want <= 4.2): {counts:?}"
    );
}

#[test]
fn a_request_on_one_connection_costs_three_system_calls() {
    one_request_per_pass(1);
    one_request_per_pass(4);
}

/// An idle node wakes only for its executors' timers (each shard's cron
/// at hz 10, and the like), a few system calls each, and never loops: a
/// timer replaced for nothing at every sleep would wake the shard again
/// at once (its cancellation's completion ends the sleep).
#[test]
fn an_idle_node_makes_few_system_calls() {
    let server = Server::shardis(4, &[]);
    let mut conn = server.conn();
    assert_eq!(conn.cmd(&["PING"]), b"+PONG\r\n");
    thread::sleep(Duration::from_millis(500));
    let trace = Strace::attach(server.pid(), "syscalls-idle");
    const SECONDS: u64 = 3;
    thread::sleep(Duration::from_secs(SECONDS));
    let counts = trace.counts();
    let total: u64 = counts.values().sum();
    eprintln!(
        "idle, shards 4: {} system calls a second; {counts:?}",
        total / SECONDS
    );
    assert_eq!(
        calls(&counts, "membarrier"),
        0,
        "the reactor issues sys_membarrier: {counts:?}"
    );
    assert!(
        total <= 300 * SECONDS,
        "idle node made {total} system calls in {SECONDS} s: {counts:?}"
    );
}
