//! Diskless full sync: the snapshot writer thread sends the RDB straight
//! to the replicas' sockets (Redis's `repl-diskless-sync`), framed as
//! `$EOF:<mark>\r\n` <RDB> `<mark>`, instead of staging it in a file.
//!
//! Each replica's task keeps its connection and, once it has written its
//! `+FULLRESYNC` line, signals `ready` and stays off the socket until the
//! writer is done; the writer writes to a duplicate of the socket's file
//! descriptor from its own thread (waiting with poll(2) when the socket
//! buffer is full). A replica whose socket fails is dropped from the
//! transfer; the others go on.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// How long the writer waits for a replica's task to hand its socket
/// over before leaving that replica out.
const READY_WAIT: Duration = Duration::from_secs(30);

/// One replica's socket, as handed to the writer thread.
pub struct SocketOut {
    pub fd: OwnedFd,
    /// The replica's task wrote what precedes the RDB: true to go.
    pub ready: mpsc::Receiver<bool>,
    /// Set by the writer: the whole transfer, end mark included, was
    /// written to this socket.
    pub sent: Arc<AtomicBool>,
}

/// The replicas of one transfer and their EOF mark.
pub struct Sockets {
    pub outs: Vec<SocketOut>,
    pub mark: String,
    started: bool,
    alive: Vec<bool>,
}

impl Sockets {
    pub fn new(outs: Vec<SocketOut>, mark: String) -> Sockets {
        let alive = vec![true; outs.len()];
        Sockets {
            outs,
            mark,
            started: false,
            alive,
        }
    }

    /// Sends `bytes` to every replica still in the transfer (after the
    /// `$EOF:` line, on the first call). Err only when none is left.
    pub fn append(&mut self, bytes: &[u8]) -> Result<(), String> {
        if !self.started {
            self.started = true;
            let head = format!("$EOF:{}\r\n", self.mark);
            for (i, out) in self.outs.iter().enumerate() {
                let go = out.ready.recv_timeout(READY_WAIT).unwrap_or(false);
                self.alive[i] = go && write_all(out, head.as_bytes()).is_ok();
            }
        }
        for (i, out) in self.outs.iter().enumerate() {
            if self.alive[i] && write_all(out, bytes).is_err() {
                self.alive[i] = false;
            }
        }
        if self.alive.iter().any(|&a| a) {
            Ok(())
        } else {
            Err("Diskless rdb transfer, no replica left".into())
        }
    }

    /// The end mark; flags the replicas that got everything.
    pub fn finish(&mut self) -> Result<(), String> {
        let mark = self.mark.clone();
        self.append(mark.as_bytes())?;
        for (i, out) in self.outs.iter().enumerate() {
            out.sent.store(self.alive[i], Ordering::Release);
        }
        Ok(())
    }
}

/// Writes all of `bytes`, waiting for room when the socket is
/// non-blocking and full.
fn write_all(out: &SocketOut, mut bytes: &[u8]) -> std::io::Result<()> {
    let fd = out.fd.as_raw_fd();
    while !bytes.is_empty() {
        // SAFETY: `fd` is open (owned by `out`), the buffer is valid for
        // its length.
        let n = unsafe { libc::send(fd, bytes.as_ptr().cast(), bytes.len(), libc::MSG_NOSIGNAL) };
        if n >= 0 {
            bytes = &bytes[n as usize..];
            continue;
        }
        let err = std::io::Error::last_os_error();
        match err.kind() {
            std::io::ErrorKind::WouldBlock => wait_writable(fd)?,
            std::io::ErrorKind::Interrupted => {}
            _ => return Err(err),
        }
    }
    Ok(())
}

fn wait_writable(fd: i32) -> std::io::Result<()> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // A replica that takes no byte for a minute is given up on.
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, 60_000) };
    match n {
        1 if pfd.revents & (libc::POLLERR | libc::POLLHUP) == 0 => Ok(()),
        0 => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "replica stalled",
        )),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::BrokenPipe,
            "replica socket closed",
        )),
    }
}

/// Duplicates a socket's descriptor for the writer thread.
pub fn dup(fd: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: dup has no memory preconditions; a valid result is owned.
    let new = unsafe { libc::dup(fd) };
    if new < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `new` is a fresh descriptor nobody else owns.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(new) })
}
