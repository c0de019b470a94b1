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
use std::os::fd::OwnedFd;

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
    let fd = crate::sys::socket::bound_socket(addr, false)?;
    // SAFETY: a descriptor we own.
    unsafe { libc::close(fd) };
    Ok(())
}

/// Listening sockets (SO_REUSEPORT) on every address of `binds`, all on
/// `port`, as Redis's listenToPort: an optional address that is not on
/// this host, or any address of a family the host lacks, is skipped; any
/// other failure is Redis's message for it. Not yet
/// tied to an executor ([`tcp_listener`]), so CONFIG SET port and bind can open
/// every shard's on one thread and hand each over.
pub fn listen_all(binds: &[BindAddr], port: u16, backlog: i32) -> Result<Vec<OwnedFd>, String> {
    let mut fds = Vec::new();
    for b in binds {
        match crate::sys::socket::listening(b.addr, backlog, true) {
            Ok(fd) => fds.push(fd),
            Err(e) if skippable(&e, b.optional) => {
                crate::verbose!("Skipping bind address {}: {e}", b.text);
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

/// Redis's listenToPort goes on past these errors.
fn skippable(e: &std::io::Error, optional: bool) -> bool {
    let errno = e.raw_os_error().unwrap_or(0);
    (optional && errno == libc::EADDRNOTAVAIL)
        || [
            libc::ENOPROTOOPT,
            libc::EPROTONOSUPPORT,
            libc::ESOCKTNOSUPPORT,
            libc::EPFNOSUPPORT,
            libc::EAFNOSUPPORT,
        ]
        .contains(&errno)
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
