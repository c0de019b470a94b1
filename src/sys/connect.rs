//! Outgoing TCP connections (the master link, cluster bus links), from
//! `bind-source-addr` when it is set: Redis 7.0's
//! `anetTcpNonBlockBestEffortBindConnect`, which binds the socket to that
//! address before connecting and, when the bind fails, connects without
//! it.
//!
//! The address is process-wide, as the log level: set at start-up and by
//! CONFIG SET, read by whichever executor connects.

use glommio::net::TcpStream;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::RwLock;
use std::time::Duration;

static SOURCE: RwLock<String> = RwLock::new(String::new());

/// Sets `bind-source-addr` ("" for none).
pub fn set_source(addr: &str) {
    *SOURCE.write().unwrap() = addr.to_string();
}

/// Connects to `addr` within `timeout`, from the source address if one
/// is set and can be bound.
pub async fn connect_timeout(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let source = SOURCE.read().unwrap().clone();
    if let Some(from) = source_for(&source, &addr) {
        match TcpStream::connect_timeout_from(addr, from, timeout).await {
            Ok(s) => return Ok(s),
            Err(e) => {
                let e = io::Error::from(e);
                if !is_bind_error(&e) {
                    return Err(e);
                }
                // Best effort, as Redis: the address cannot be bound.
            }
        }
    }
    TcpStream::connect_timeout(addr, timeout)
        .await
        .map_err(io::Error::from)
}

/// Connects to `host:port` (resolved; the first address), as
/// `connect_timeout`.
pub async fn connect_host(host: &str, port: u16, timeout: Duration) -> io::Result<TcpStream> {
    let addr = (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))?;
    connect_timeout(addr, timeout).await
}

/// The source address (any port) of the destination's family; None when
/// unset or when it does not resolve to one (the connect goes unbound).
fn source_for(source: &str, dest: &SocketAddr) -> Option<SocketAddr> {
    if source.is_empty() {
        return None;
    }
    (source, 0)
        .to_socket_addrs()
        .ok()?
        .find(|a| a.is_ipv4() == dest.is_ipv4())
}

/// What bind(2) fails with, as opposed to connect(2).
fn is_bind_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EADDRNOTAVAIL | libc::EADDRINUSE | libc::EACCES | libc::EINVAL)
    )
}
