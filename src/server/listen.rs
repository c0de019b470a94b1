//! Listening sockets: one per bind address per shard, all sharing the
//! port through SO_REUSEPORT so the kernel spreads connections over
//! shards. Built by hand to honour `tcp-backlog` and IPV6_V6ONLY.
//!
//! SO_REUSEPORT would also let a second server of the same user join the
//! port (a stale container, a typo'd port): `claim` first binds each
//! address without it, which fails while any socket holds the port, so
//! a second server refuses to start as redis-server does.

use crate::sys::bind_addr::BindAddr;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};

/// Fails with Redis's message if another socket already holds one of
/// `addrs` (EADDRINUSE is fatal even for an optional address, as in
/// Redis); other errors are left to the real bind.
pub fn claim(addrs: &[BindAddr]) -> Result<(), String> {
    for b in addrs {
        if let Err(e) = bind_exclusive(b.addr) {
            // Leftover connections of an earlier process (FIN_WAIT, ...)
            // also refuse a plain bind; only a listener means a server.
            if e.raw_os_error() == Some(libc::EADDRINUSE) && listening_on(b.addr.port()) {
                return Err(format!(
                    "Could not create server TCP listening socket {}:{}: bind: {}",
                    b.text,
                    b.addr.port(),
                    os_error_text(&e)
                ));
            }
        }
    }
    Ok(())
}

/// Whether any socket of this machine's network namespace listens on TCP
/// `port` (/proc/net/tcp and tcp6, state 0A).
fn listening_on(port: u16) -> bool {
    let want = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|path| {
        std::fs::read_to_string(path).is_ok_and(|text| {
            text.lines().skip(1).any(|line| {
                let mut fields = line.split_whitespace();
                let local = fields.nth(1).unwrap_or("");
                let state = fields.nth(1).unwrap_or("");
                local.ends_with(&want) && state == "0A"
            })
        })
    })
}

/// An error as C's strerror says it ("Address already in use").
pub fn os_error_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Binds (without listening) a socket without SO_REUSEPORT, then closes it.
fn bind_exclusive(addr: SocketAddr) -> std::io::Result<()> {
    let fd = bound_socket(addr, false)?;
    // SAFETY: a descriptor we own.
    unsafe { libc::close(fd) };
    Ok(())
}

/// Listening sockets (SO_REUSEPORT) on every address of `binds`, all on
/// `port`, as Redis's listenToPort: an optional address that cannot be
/// bound is skipped; any other failure is Redis's message for it. Not yet
/// tied to an executor ([`tcp_listener`]), so CONFIG SET port can open
/// every shard's on one thread and hand each over.
pub fn listen_all(binds: &[BindAddr], port: u16, backlog: i32) -> Result<Vec<OwnedFd>, String> {
    let mut fds = Vec::new();
    for b in binds {
        match listen_fd(b.addr, backlog) {
            Ok(fd) => fds.push(fd),
            Err(e) if b.optional => {
                crate::verbose!("Skipping optional bind address {}: {e}", b.text);
            }
            Err(e) => {
                return Err(format!(
                    "Could not create server TCP listening socket {}:{}: bind: {}",
                    b.text,
                    port,
                    os_error_text(&e)
                ));
            }
        }
    }
    Ok(fds)
}

/// A listening socket of [`listen_all`], made the calling executor's.
pub fn tcp_listener(fd: OwnedFd) -> glommio::net::TcpListener {
    // SAFETY: a listening descriptor we own, handed over.
    unsafe { glommio::net::TcpListener::from_raw_fd(fd.into_raw_fd()) }
}

/// A listening socket with SO_REUSEPORT.
fn listen_fd(addr: SocketAddr, backlog: i32) -> std::io::Result<OwnedFd> {
    let fd = bound_socket(addr, true)?;
    // SAFETY: a descriptor we own, closed on drop from here on.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: listen on a descriptor we own.
    if unsafe { libc::listen(fd.as_raw_fd(), backlog) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(fd)
}

/// A TCP socket bound to `addr` with SO_REUSEADDR (TIME_WAIT leftovers
/// are fine), IPV6_V6ONLY for IPv6, and SO_REUSEPORT when asked.
fn bound_socket(addr: SocketAddr, reuse_port: bool) -> std::io::Result<i32> {
    // SAFETY: plain socket syscalls on a descriptor we own; closed on error.
    unsafe {
        let domain = if addr.is_ipv6() {
            libc::AF_INET6
        } else {
            libc::AF_INET
        };
        let fd = libc::socket(domain, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let fail = |fd| {
            let e = std::io::Error::last_os_error();
            libc::close(fd);
            Err(e)
        };
        let one: libc::c_int = 1;
        let optlen = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        let p = &one as *const libc::c_int as *const libc::c_void;
        if libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, p, optlen) != 0
            || (reuse_port
                && libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, p, optlen) != 0)
        {
            return fail(fd);
        }
        if addr.is_ipv6()
            && libc::setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, p, optlen) != 0
        {
            return fail(fd);
        }
        let (storage, len) = sockaddr(addr);
        if libc::bind(fd, &storage as *const _ as *const libc::sockaddr, len) != 0 {
            return fail(fd);
        }
        Ok(fd)
    }
}

fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is large enough for either family.
    unsafe {
        let mut storage: libc::sockaddr_storage = std::mem::zeroed();
        match addr {
            SocketAddr::V4(a) => {
                let sin = &mut storage as *mut _ as *mut libc::sockaddr_in;
                (*sin).sin_family = libc::AF_INET as libc::sa_family_t;
                (*sin).sin_port = a.port().to_be();
                (*sin).sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
                (
                    storage,
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            }
            SocketAddr::V6(a) => {
                let sin6 = &mut storage as *mut _ as *mut libc::sockaddr_in6;
                (*sin6).sin6_family = libc::AF_INET6 as libc::sa_family_t;
                (*sin6).sin6_port = a.port().to_be();
                (*sin6).sin6_addr.s6_addr = a.ip().octets();
                (
                    storage,
                    std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                )
            }
        }
    }
}

/// Turns on TCP keepalive with Redis's idle/interval/count for `secs`.
pub fn set_keepalive(fd: i32, secs: i32) {
    if secs <= 0 {
        return;
    }
    let set = |level, opt, v: libc::c_int| {
        // SAFETY: setsockopt with an int option on a live socket.
        unsafe {
            libc::setsockopt(
                fd,
                level,
                opt,
                &v as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    };
    set(libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, secs);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, (secs / 3).max(1));
    set(libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 3);
}

/// `unixsocket`: fails, as a used TCP port does, when a server already
/// accepts on `path`; a file nobody listens on is a leftover.
pub fn claim_unix(path: &str) -> Result<(), String> {
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(format!(
            "Failed opening Unix socket: bind: Address already in use ({path})"
        ));
    }
    Ok(())
}

/// Listens on `path` (a leftover file is removed first, as Redis does),
/// with mode `perm` when non-zero (`unixsocketperm`).
pub fn listen_unix(path: &str, perm: u32) -> Result<glommio::net::UnixListener, String> {
    let failed =
        |e: std::io::Error| format!("Failed opening Unix socket: bind: {}", os_error_text(&e));
    let _ = std::fs::remove_file(path);
    let listener =
        glommio::net::UnixListener::bind(path).map_err(|e| failed(std::io::Error::from(e)))?;
    if perm != 0 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(perm)).map_err(failed)?;
    }
    Ok(listener)
}
