//! CONFIG SET port and bind at runtime: every shard's TCP listeners are
//! replaced by new ones, as Redis's changeListenPort and changeBindAddr.
//!
//! Redis closes its old sockets before binding the new ones and, on
//! failure, binds the old ones again. Shardis opens every shard's new
//! sockets first (SO_REUSEPORT lets them share addresses with the old),
//! so a failure leaves the old listeners serving untouched, and only
//! then hands them over; the old accept loops end and close theirs.

use super::listen;
use super::mesh;
use super::shard::ShardRt;
use super::stream::ClientListener;
use crate::config::keys as conf;
use crate::sys::bind_addr::{bind_addrs, BindAddr};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// CONFIG SET port: every shard stops accepting on the old port and
/// accepts on `port` instead (`0`: on no TCP port). The error is Redis's
/// CONFIG SET reason (the cause goes to the log, as Redis's listenToPort
/// logs it).
pub async fn change_port(rt: &Rc<ShardRt>, port: u16) -> Result<(), String> {
    const REFUSED: &str = "Unable to listen on this port. Check server logs.";
    let (bind, backlog) = rt
        .shared
        .read_config(|c| (c.text(conf::BIND), c.int(conf::TCP_BACKLOG) as i32));
    let mut per_shard = Vec::new();
    if port != 0 {
        let binds = bind_addrs(&bind, port).map_err(|e| {
            crate::warning!("{e}");
            REFUSED.to_string()
        })?;
        if let Err(e) = listen::claim(&binds) {
            crate::warning!("Warning: {e}");
            return Err(REFUSED.into());
        }
        per_shard = open_per_shard(rt.nshards, &binds, port, backlog).map_err(|e| {
            crate::warning!("Warning: {e}");
            REFUSED.to_string()
        })?;
    }
    rt.shared.port.store(port, Ordering::Relaxed);
    hand_over(rt, per_shard).await;
    Ok(())
}

/// CONFIG SET bind: every shard accepts on the new address list (empty:
/// on none) on the same port instead of the old one (`old_bind`, the
/// value before this CONFIG SET). With `port 0` there is nothing to
/// listen on, as in Redis. The error is Redis's applyBind reason.
pub async fn change_bind(rt: &Rc<ShardRt>, old_bind: &str) -> Result<(), String> {
    const FAILED: &str = "Failed to bind to specified addresses.";
    let port = rt.shared.port.load(Ordering::Relaxed);
    if port == 0 {
        return Ok(());
    }
    let (bind, backlog) = rt
        .shared
        .read_config(|c| (c.text(conf::BIND), c.int(conf::TCP_BACKLOG) as i32));
    let failed = |e: String| {
        crate::warning!("Warning: {e}");
        crate::warning!("Failed to bind");
        FAILED.to_string()
    };
    let binds = bind_addrs(&bind, port).map_err(failed)?;
    // Our own listeners hold the port on the old addresses: only the
    // addresses they do not cover can tell another server's socket.
    let old: Vec<SocketAddr> = bind_addrs(old_bind, port)
        .unwrap_or_default()
        .iter()
        .map(|b| b.addr)
        .collect();
    let fresh: Vec<BindAddr> = binds
        .iter()
        .filter(|b| !old.iter().any(|&o| overlaps(o, b.addr)))
        .cloned()
        .collect();
    listen::claim(&fresh).map_err(failed)?;
    let per_shard = open_per_shard(rt.nshards, &binds, port, backlog).map_err(failed)?;
    hand_over(rt, per_shard).await;
    Ok(())
}

/// Whether a socket bound to `a` keeps one on `b` (same port) from
/// binding: the same family and the same address, or a wildcard.
fn overlaps(a: SocketAddr, b: SocketAddr) -> bool {
    a.is_ipv4() == b.is_ipv4()
        && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

/// Each shard's new listening sockets, all opened here before any is
/// used, so a failure changes nothing.
fn open_per_shard(
    nshards: usize,
    binds: &[BindAddr],
    port: u16,
    backlog: i32,
) -> Result<Vec<Vec<OwnedFd>>, String> {
    (0..nshards)
        .map(|_| listen::listen_all(binds, port, backlog))
        .collect()
}

/// Gives shard `i` the sockets `per_shard[i]` (none if missing) in place
/// of its TCP listeners.
async fn hand_over(rt: &Rc<ShardRt>, per_shard: Vec<Vec<OwnedFd>>) {
    let handed = Arc::new(Mutex::new(
        per_shard.into_iter().map(Some).collect::<Vec<_>>(),
    ));
    mesh::run_on_all(rt, move |rt| {
        let fds = handed
            .lock()
            .unwrap()
            .get_mut(rt.id)
            .and_then(Option::take)
            .unwrap_or_default();
        let fresh: Vec<(glommio::Task<()>, std::os::fd::RawFd)> = fds
            .into_iter()
            .map(|fd| {
                let raw = fd.as_raw_fd();
                let l = ClientListener::tcp(fd);
                (
                    crate::sys::exec::spawn(super::accept_loop(rt.clone(), l)),
                    raw,
                )
            })
            .collect();
        let old = std::mem::replace(&mut *rt.tcp_accepts.borrow_mut(), fresh);
        // The old sockets stop accepting now (an accept io_uring still
        // has queued would keep a closed one listening); ending their
        // loops closes them.
        for (_, fd) in &old {
            crate::sys::socket::stop_accepting(*fd);
        }
        crate::sys::exec::spawn(async move {
            for (t, _) in old {
                t.cancel().await;
            }
        })
        .detach();
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::overlaps;

    #[test]
    fn wildcards_overlap_their_family_only() {
        let a = |s: &str| s.parse().unwrap();
        assert!(overlaps(a("127.0.0.1:7"), a("127.0.0.1:7")));
        assert!(overlaps(a("0.0.0.0:7"), a("127.0.0.2:7")));
        assert!(overlaps(a("127.0.0.2:7"), a("0.0.0.0:7")));
        assert!(!overlaps(a("127.0.0.1:7"), a("127.0.0.2:7")));
        assert!(!overlaps(a("[::]:7"), a("127.0.0.1:7")));
        assert!(overlaps(a("[::]:7"), a("[::1]:7")));
    }
}
