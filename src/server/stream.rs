//! A client's socket: TCP, or the `unixsocket` (served by shard 0 only:
//! Linux spreads no AF_UNIX accepts over SO_REUSEPORT groups).
//! Connections, replicas fed over a client connection and the accept
//! loops all take this one type.

use futures::{AsyncRead, AsyncWrite};
use glommio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use std::io::Result;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

pub enum ClientStream {
    Tcp(TcpStream),
    /// A unix-socket client and the socket's path (its `addr` in CLIENT LIST).
    Unix(UnixStream, std::rc::Rc<str>),
}

impl ClientStream {
    /// `ip:port` of the peer, or `<unixsocket>:0` as Redis names it.
    pub fn peer_text(&self) -> String {
        match self {
            Self::Tcp(s) => s.peer_addr().map(|a| a.to_string()).unwrap_or_default(),
            Self::Unix(_, path) => format!("{path}:0"),
        }
    }

    /// `ip:port` of our end, or `<unixsocket>:0`.
    pub fn local_text(&self) -> String {
        match self {
            Self::Tcp(s) => s.local_addr().map(|a| a.to_string()).unwrap_or_default(),
            Self::Unix(_, path) => format!("{path}:0"),
        }
    }

    /// Whether the peer is on this machine (protected mode lets it in).
    pub fn is_local(&self) -> bool {
        match self {
            Self::Tcp(s) => s.peer_addr().map(|a| a.ip().is_loopback()).unwrap_or(true),
            Self::Unix(..) => true,
        }
    }

    pub fn is_unix(&self) -> bool {
        matches!(self, Self::Unix(..))
    }

    /// TCP_NODELAY (replies leave at once); nothing to do on a unix socket.
    pub fn set_nodelay(&self) {
        if let Self::Tcp(s) = self {
            let _ = s.set_nodelay(true);
        }
    }
}

impl AsRawFd for ClientStream {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Self::Tcp(s) => s.as_raw_fd(),
            Self::Unix(s, _) => s.as_raw_fd(),
        }
    }
}

impl AsyncRead for ClientStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Self::Unix(s, _) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Self::Unix(s, _) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_flush(cx),
            Self::Unix(s, _) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_close(cx),
            Self::Unix(s, _) => Pin::new(s).poll_close(cx),
        }
    }
}

/// A listening socket clients connect to.
pub enum ClientListener {
    /// With its descriptor (glommio's listener does not show it), which
    /// CONFIG SET port and bind stop.
    Tcp(TcpListener, RawFd),
    Unix(UnixListener, std::rc::Rc<str>),
}

impl ClientListener {
    /// A TCP listener on listening socket `fd`, made the calling
    /// executor's.
    pub fn tcp(fd: std::os::fd::OwnedFd) -> ClientListener {
        let raw = fd.as_raw_fd();
        ClientListener::Tcp(crate::sys::socket::tcp_listener(fd), raw)
    }

    /// The descriptor of a TCP listener.
    pub fn tcp_fd(&self) -> Option<RawFd> {
        match self {
            Self::Tcp(_, fd) => Some(*fd),
            Self::Unix(..) => None,
        }
    }

    pub async fn accept(&self) -> Result<ClientStream> {
        Ok(match self {
            Self::Tcp(l, _) => ClientStream::Tcp(l.accept().await?),
            Self::Unix(l, path) => ClientStream::Unix(l.accept().await?, path.clone()),
        })
    }
}
