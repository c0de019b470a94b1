//! Replies the socket has not taken yet, oldest first (Redis's reply
//! list). A connection keeps reading and serving while they wait, as
//! Redis does: a client that pipelines without reading (or reads only
//! once it has written everything) is not deadlocked against the server,
//! and what waits for it counts as its output buffer (`omem`,
//! client eviction, `used_memory`) under its output limits.
//!
//! [`Pumping`] is the connection's socket as the reader sees it: each
//! time it is polled for input it first hands the socket what it takes
//! of the waiting replies, so one wait covers both directions.

use super::clients::ClientInfo;
use super::stream::ClientStream;
use futures::{AsyncRead, AsyncWrite};
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Replies appended to the last waiting buffer up to this size (Redis's
/// PROTO_REPLY_CHUNK_BYTES).
const TAIL_CHUNK: usize = 16 * 1024;
/// Queue slots an empty queue may keep.
const QUEUE_KEPT: usize = 16;

#[derive(Default)]
pub struct Unsent {
    bufs: VecDeque<Vec<u8>>,
    /// Bytes of the front buffer already written.
    head_sent: usize,
    bytes: usize,
}

impl Unsent {
    /// Bytes waiting.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    /// Queues `buf[from..]` behind what waits.
    pub fn push(&mut self, mut buf: Vec<u8>, from: usize) {
        if from >= buf.len() {
            return;
        }
        // A vector grown by doubling may hold twice its bytes; what waits
        // (and counts as the client's memory) keeps only its bytes.
        if buf.capacity() - buf.len() > buf.len() / 4 {
            buf.shrink_to_fit();
        }
        if self.bufs.is_empty() {
            self.head_sent = from;
        } else if from > 0 {
            self.bytes += buf.len() - from;
            self.bufs.push_back(buf[from..].to_vec());
            return;
        }
        self.bytes += buf.len() - from;
        self.bufs.push_back(buf);
    }

    /// Queues `buf` behind what waits: appended to the last waiting
    /// buffer while that stays within a chunk (as Redis appends to its
    /// reply list's tail node), else as a buffer of its own. Many small
    /// batches queued while the client does not read then cost a buffer
    /// per 16 KiB, not a vector (and a queue slot) each.
    pub fn queue(&mut self, buf: Vec<u8>) {
        if let Some(back) = self.bufs.back_mut() {
            if back.len() + buf.len() <= TAIL_CHUNK {
                back.extend_from_slice(&buf);
                self.bytes += buf.len();
                return;
            }
        }
        self.push(buf, 0);
    }

    /// Writes until everything is out (Ready(Ok)), the socket is full
    /// (Pending, woken when it has room) or it fails.
    pub fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        stream: &mut ClientStream,
    ) -> Poll<io::Result<()>> {
        while let Some(front) = self.bufs.front() {
            match Pin::new(&mut *stream).poll_write(cx, &front[self.head_sent..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.head_sent += n;
                    self.bytes -= n;
                    if self.head_sent == front.len() {
                        self.bufs.pop_front();
                        self.head_sent = 0;
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        // Drained: a queue that held many buffers gives its slots back.
        if self.bufs.capacity() > QUEUE_KEPT {
            self.bufs = VecDeque::new();
        }
        Poll::Ready(Ok(()))
    }

    /// Writes what the socket takes now, without waiting.
    pub fn send_now(&mut self, stream: &mut ClientStream) -> io::Result<()> {
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        match self.poll_send(&mut cx, stream) {
            Poll::Ready(r) => r,
            Poll::Pending => Ok(()),
        }
    }

    /// Waits until everything is written.
    pub async fn flush(&mut self, stream: &mut ClientStream) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_send(cx, stream)).await
    }
}

/// The socket read with the waiting replies pumped out on every poll; a
/// write error ends the read as an error.
pub struct Pumping<'a> {
    pub stream: &'a mut ClientStream,
    pub unsent: &'a mut Unsent,
    /// Whose figures follow the waiting bytes (`omem`).
    pub info: &'a ClientInfo,
}

impl AsyncRead for Pumping<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        if !me.unsent.is_empty() {
            let sent = me.unsent.poll_send(cx, me.stream);
            me.info.mem.obuf.set(me.unsent.bytes());
            if let Poll::Ready(Err(e)) = sent {
                return Poll::Ready(Err(e));
            }
        }
        Pin::new(&mut *me.stream).poll_read(cx, buf)
    }
}

/// Writes what the socket takes of `bytes` now, without waiting; the
/// count written.
pub fn write_now(stream: &mut ClientStream, bytes: &[u8]) -> io::Result<usize> {
    let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    let mut done = 0;
    while done < bytes.len() {
        match Pin::new(&mut *stream).poll_write(&mut cx, &bytes[done..]) {
            Poll::Ready(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
            Poll::Ready(Ok(n)) => done += n,
            Poll::Ready(Err(e)) => return Err(e),
            Poll::Pending => break,
        }
    }
    Ok(done)
}
