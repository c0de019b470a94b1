//! Waiting on replication: INFO fields, and a replica that has caught up.

use super::{bulk_payload, Conn, Server};
use std::time::{Duration, Instant};

/// One field of INFO `section`, or None.
pub fn info_field(c: &mut Conn, section: &str, field: &str) -> Option<String> {
    let info = String::from_utf8_lossy(&bulk_payload(&c.cmd(&["INFO", section]))).into_owned();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
}

/// Polls `ok` every 20 ms; panics naming `what` after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the replica's link is up and it processed every byte the
/// primary produced.
pub fn wait_synced(primary: &Server, replica: &Server) {
    let mut p = primary.conn();
    let mut r = replica.conn();
    wait_for("the replica to catch up", Duration::from_secs(15), || {
        let up = info_field(&mut r, "replication", "master_link_status");
        let target = info_field(&mut p, "replication", "master_repl_offset");
        let done = info_field(&mut r, "replication", "slave_repl_offset");
        up.as_deref() == Some("up") && target.is_some() && target == done
    });
}
