//! TCP sockets built by hand, for what the standard and glommio
//! constructors leave out: SO_REUSEADDR (a restart must not wait for
//! TIME_WAIT leftovers, as Redis's anetSetReuseAddr), SO_REUSEPORT,
//! `tcp-backlog` and IPV6_V6ONLY.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};

/// A listening socket bound to `addr` (SO_REUSEADDR, and SO_REUSEPORT
/// when `reuse_port`).
pub fn listening(addr: SocketAddr, backlog: i32, reuse_port: bool) -> std::io::Result<OwnedFd> {
    let fd = bound_socket(addr, reuse_port)?;
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
pub fn bound_socket(addr: SocketAddr, reuse_port: bool) -> std::io::Result<i32> {
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

/// A listening socket of [`listening`], made the calling executor's.
pub fn tcp_listener(fd: OwnedFd) -> glommio::net::TcpListener {
    // SAFETY: a listening descriptor we own, handed over.
    unsafe { glommio::net::TcpListener::from_raw_fd(fd.into_raw_fd()) }
}

/// Stops listening socket `fd` accepting now (shutdown(2)), whatever
/// io_uring still holds of it: closing it is not enough while an accept
/// is queued on it (see [`stop_listening`]).
pub fn stop_accepting(fd: std::os::fd::RawFd) {
    // SAFETY: shutdown on a descriptor the caller keeps open.
    unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
}

/// Stops every listening socket of the process at once (shutdown(2) on
/// each descriptor that accepts connections). Called just before exit:
/// io_uring keeps a reference to a listener while an accept is queued and
/// lets go of it only when the kernel tears the ring down, after the
/// process is gone, so without this a server restarted on the same port
/// right after the exit (Redis's `restart_server`, a supervisor) can
/// find the port still taken.
pub fn stop_listening() {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    for entry in dir.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let mut accepting: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt / shutdown on descriptors of this process;
        // a descriptor that is no socket fails getsockopt and is left.
        unsafe {
            let p = &mut accepting as *mut libc::c_int as *mut libc::c_void;
            if libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_ACCEPTCONN, p, &mut len) == 0
                && accepting == 1
            {
                stop_accepting(fd);
            }
        }
    }
}
