//! The crash report, as Redis 7.0's sigsegvHandler writes it (what
//! Redis's integration/logging tests look for): "crashed by signal", the
//! faulting address or the sender, a stack trace; then the process dies
//! of that signal.

mod common;

use common::Server;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

/// Waits for the process to end; its log then.
fn died(srv: &mut Server, after: &str) -> (std::process::ExitStatus, String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = srv.child.try_wait().unwrap() {
            return (status, srv.log_text());
        }
        assert!(Instant::now() < deadline, "still running after {after}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_report(log: &str, wanted: &[&str]) {
    for want in wanted {
        assert!(log.contains(want), "no {want:?} in the log:\n{log}");
    }
}

#[test]
fn debug_segfault_writes_a_crash_report() {
    let mut srv = Server::shardis(2, &["--enable-debug-command", "yes"]);
    srv.conn().send(&["DEBUG", "SEGFAULT"]);
    let (status, log) = died(&mut srv, "DEBUG SEGFAULT");
    assert_eq!(status.signal(), Some(libc::SIGSEGV), "{log}");
    assert_report(
        &log,
        &[
            "BUG REPORT START",
            "crashed by signal: 11",
            "Accessing address: 0x",
            "------ STACK TRACE ------",
            "BUG REPORT END",
        ],
    );
}

#[test]
fn sigabrt_writes_a_crash_report_naming_the_sender() {
    let mut srv = Server::shardis(1, &[]);
    // SAFETY: a signal to the child process this test started.
    unsafe { libc::kill(srv.pid() as libc::pid_t, libc::SIGABRT) };
    let (status, log) = died(&mut srv, "SIGABRT");
    assert_eq!(status.signal(), Some(libc::SIGABRT), "{log}");
    let sender = format!("Killed by PID: {}", std::process::id());
    assert_report(&log, &["crashed by signal: 6", &sender, "STACK TRACE"]);
}
