//! MIGRATE's cached connections to target instances, as Redis 7.0 keeps
//! them (`migrateGetSocket`, `migrateCloseSocket`,
//! `migrateCloseTimedoutSockets` in cluster.c): one socket per
//! "host:port" for the whole process, remembering which database was
//! last SELECTed there, closed after 10 s unused, at most 64 of them.
//!
//! A glommio socket belongs to the executor that opened it, while the
//! MIGRATE that reuses it may run on any shard. So the pool keeps plain
//! file descriptors (a `dup` of the socket, the glommio stream being
//! dropped), and a user wraps the descriptor in a glommio stream of its
//! own executor for the duration of one command.
//!
//! Unlike Redis, two MIGRATEs can be in flight at once (Redis blocks):
//! a socket is taken out of the pool while in use and put back after, so
//! no two commands interleave on one connection; the second one opens a
//! connection of its own, and only one of the two is kept.

use futures::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use std::collections::BTreeMap;
use std::io;
use std::net::ToSocketAddrs;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Redis's MIGRATE_SOCKET_CACHE_ITEMS.
const MAX_SOCKETS: usize = 64;
/// Redis's MIGRATE_SOCKET_CACHE_TTL (seconds).
const IDLE_TTL: Duration = Duration::from_secs(10);
/// Redis's connSyncReadLine buffer (1024 bytes, NUL included).
const MAX_LINE: usize = 1023;
/// Redis writes the pipeline in chunks of this size, each with the timeout.
const WRITE_CHUNK: usize = 64 * 1024;

/// One connection to a target instance, in use by a command.
pub struct Target {
    stream: TcpStream,
    /// Bytes read past the last reply line.
    buf: Vec<u8>,
    /// The database last SELECTed, -1 when unknown (Redis's `last_dbid`).
    pub last_dbid: i64,
}

/// A connection resting in the pool.
struct Idle {
    fd: OwnedFd,
    buf: Vec<u8>,
    last_dbid: i64,
    used: Instant,
}

struct Pool {
    socks: BTreeMap<String, Idle>,
    /// A task closing idle sockets is running (on some shard).
    reaper: bool,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    socks: BTreeMap::new(),
    reaper: false,
});

fn pool() -> std::sync::MutexGuard<'static, Pool> {
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Cached sockets (INFO `migrate_cached_sockets`).
pub fn cached() -> usize {
    pool().socks.len()
}

/// Redis's `atoi` on the port argument: leading digits, else 0 (which
/// then fails to connect, as in Redis).
fn atoi_port(port: &[u8]) -> u16 {
    let s = String::from_utf8_lossy(port);
    let t = s.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let end = digits
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    let n: i64 = digits[..end].parse().unwrap_or(0);
    // atoi's int, then the u16 cast of the port as the socket sees it.
    (if neg { -n } else { n }) as u16
}

/// Why no connection could be had.
pub enum ConnectErr {
    /// The address did not resolve: Redis's "error or timeout
    /// connecting" reply.
    Resolve,
    /// The connection failed or timed out. Redis's blocking connect
    /// reports success anyway and the first write fails, so this is
    /// answered as a write error (retried once unless it timed out).
    Io { timed_out: bool },
}

/// The cached socket for `host:port`, taken out of the pool, or a new
/// connection made within `timeout`.
pub async fn get(host: &[u8], port: &[u8], timeout: Duration) -> Result<Target, ConnectErr> {
    let name = pool_name(host, port);
    let cached = pool().socks.remove(&name);
    if let Some(idle) = cached {
        // SAFETY: the descriptor is owned and given to the stream.
        let stream = unsafe { TcpStream::from_raw_fd(idle.fd.into_raw_fd()) };
        return Ok(Target {
            stream,
            buf: idle.buf,
            last_dbid: idle.last_dbid,
        });
    }
    let host = String::from_utf8_lossy(host).into_owned();
    let addrs: Vec<_> = (host.as_str(), atoi_port(port))
        .to_socket_addrs()
        .map_err(|_| ConnectErr::Resolve)?
        .collect();
    let mut err = ConnectErr::Resolve;
    for addr in addrs {
        match TcpStream::connect_timeout(addr, timeout).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(Target {
                    stream,
                    buf: Vec::new(),
                    last_dbid: -1,
                });
            }
            Err(e) => {
                let e = io::Error::from(e);
                err = ConnectErr::Io {
                    timed_out: timed_out(&e),
                };
            }
        }
    }
    Err(err)
}

/// Puts a socket (back) in the pool after a command used it. Over the
/// limit, one cached socket is closed first (Redis drops a random one).
pub fn put(host: &[u8], port: &[u8], target: Target) {
    // SAFETY: dup of a descriptor we own; the copy is owned by the pool.
    let fd = unsafe { libc::dup(target.stream.as_raw_fd()) };
    if fd < 0 {
        return;
    }
    let idle = Idle {
        // SAFETY: `fd` was just created by dup and belongs to nobody else.
        fd: unsafe { OwnedFd::from_raw_fd(fd) },
        buf: target.buf,
        last_dbid: target.last_dbid,
        used: Instant::now(),
    };
    // The glommio stream goes; the connection lives on in the copy.
    drop(target.stream);
    let name = pool_name(host, port);
    let start_reaper = {
        let mut p = pool();
        if !p.socks.contains_key(&name) && p.socks.len() >= MAX_SOCKETS {
            let victim = p.socks.keys().next().cloned();
            if let Some(v) = victim {
                p.socks.remove(&v);
            }
        }
        p.socks.insert(name, idle);
        !std::mem::replace(&mut p.reaper, true)
    };
    if start_reaper {
        crate::sys::exec::spawn(reap()).detach();
    }
}

/// Once a second, closes sockets unused for more than 10 s (Redis does
/// it from serverCron); ends when the pool is empty.
async fn reap() {
    loop {
        glommio::timer::sleep(Duration::from_secs(1)).await;
        let mut p = pool();
        p.socks.retain(|_, idle| idle.used.elapsed() <= IDLE_TTL);
        if p.socks.is_empty() {
            p.reaper = false;
            return;
        }
    }
}

fn pool_name(host: &[u8], port: &[u8]) -> String {
    format!(
        "{}:{}",
        String::from_utf8_lossy(host),
        String::from_utf8_lossy(port)
    )
}

/// Whether an I/O error was a timeout (Redis's `errno == ETIMEDOUT`,
/// which forbids the retry on a fresh connection).
pub fn timed_out(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::TimedOut
}

impl Target {
    /// Writes `data` in 64 KiB chunks, each within `timeout`.
    pub async fn write_all(&mut self, data: &[u8], timeout: Duration) -> io::Result<()> {
        self.stream
            .set_write_timeout(Some(timeout))
            .map_err(io::Error::from)?;
        for chunk in data.chunks(WRITE_CHUNK) {
            self.stream.write_all(chunk).await?;
        }
        self.stream.flush().await
    }

    /// One reply line without its CRLF, as Redis's connSyncReadLine: at
    /// most 1023 bytes; EOF is an error.
    pub async fn read_line(&mut self, timeout: Duration) -> io::Result<Vec<u8>> {
        self.stream
            .set_read_timeout(Some(timeout))
            .map_err(io::Error::from)?;
        loop {
            let limit = self.buf.len().min(MAX_LINE);
            if let Some(nl) = self.buf[..limit].iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=nl).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.buf.len() >= MAX_LINE {
                return Ok(self.buf.drain(..MAX_LINE).collect());
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::atoi_port;

    #[test]
    fn port_as_atoi() {
        assert_eq!(atoi_port(b"6379"), 6379);
        assert_eq!(atoi_port(b" 12x"), 12);
        assert_eq!(atoi_port(b"abc"), 0);
        assert_eq!(atoi_port(b""), 0);
    }
}
