//! SIGTERM handover (Shardis's own; redis-server 7.0 has none): a master
//! serving slots asks its most up-to-date online replica to take over
//! with a default `CLUSTER FAILOVER` before the process exits, so its
//! slots move in about a second instead of after `cluster-node-timeout`
//! plus an election, and no acknowledged write is lost (the replica
//! waits for this master's paused offset, as any manual failover).
//!
//! Runs on the signal thread, blocking, before the normal shutdown
//! (`probe::wait_for_signals`). The bus executor keeps running
//! meanwhile: it receives the replica's MFSTART, pauses writes and sends
//! the PAUSED pings (`cluster::failover::master_cron`), and learns the
//! slots were taken.

use super::shared::Shared;
use crate::config::keys as conf;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// How long the handover may take before shutting down regardless.
const HANDOVER_TIMEOUT: Duration = Duration::from_secs(10);

/// A replica fit to take over: (name, ip, port, offset).
type Candidate = (String, String, u16, u64);

/// Hands my slots to a replica if I can; logs why not otherwise. Returns
/// once the slots are taken, or it gave up.
pub fn before_exit(shared: &Shared) {
    let Some(cluster) = &shared.cluster else {
        return;
    };
    let candidate = cluster.read(|st| -> Result<Candidate, &'static str> {
        crate::cluster::failover::handover_candidate(st).map(|n| {
            (
                n.id.as_str().to_string(),
                n.ip.clone(),
                n.port,
                n.repl_offset,
            )
        })
    });
    let (name, ip, port, offset) = match candidate {
        Ok(c) => c,
        Err(why) => {
            crate::notice!("No handover to a replica before shutdown: {why}.");
            return;
        }
    };
    // The replication link too: online and acknowledging lately.
    if shared.repl.primary.good(10) == 0 {
        crate::warning!("No handover to a replica before shutdown: no replica acknowledged the replication stream lately.");
        return;
    }
    crate::warning!(
        "Handing my slots over to replica {name} ({ip}:{port}, offset {offset}) before shutdown."
    );
    let started = Instant::now();
    if let Err(e) = ask_failover(shared, &ip, port) {
        crate::warning!("Handover to {name} failed, shutting down without it: {e}");
        return;
    }
    while started.elapsed() < HANDOVER_TIMEOUT {
        let still_mine = cluster.read(|st| st.me().is_master() && st.me().slot_count() > 0);
        if !still_mine {
            crate::warning!(
                "Handover done: {name} serves my slots ({} ms).",
                started.elapsed().as_millis()
            );
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    crate::warning!(
        "Handover to {name} did not complete in {} s: shutting down anyway.",
        HANDOVER_TIMEOUT.as_secs()
    );
}

/// Connects to the replica's client port and sends `CLUSTER FAILOVER`
/// (after AUTH with masteruser/masterauth when set).
fn ask_failover(shared: &Shared, ip: &str, port: u16) -> Result<(), String> {
    let (user, pass) = shared.read_config(|c| (c.text(conf::MASTERUSER), c.text(conf::MASTERAUTH)));
    let addr = (ip, port)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("no address")?;
    let timeout = Duration::from_secs(2);
    let stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let mut w = stream.try_clone().map_err(|e| e.to_string())?;
    let mut r = BufReader::new(stream);
    let mut call = |args: &[&str]| -> Result<String, String> {
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        w.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
        let mut line = String::new();
        r.read_line(&mut line).map_err(|e| e.to_string())?;
        let line = line.trim_end().to_string();
        match line.strip_prefix('+') {
            Some(_) => Ok(line),
            None => Err(format!("{} answered {line}", args.join(" "))),
        }
    };
    if !pass.is_empty() {
        if user.is_empty() {
            call(&["AUTH", &pass])?;
        } else {
            call(&["AUTH", &user, &pass])?;
        }
    }
    call(&["CLUSTER", "FAILOVER"])?;
    Ok(())
}
