//! A connection's query buffer, kept as Redis 7.0 keeps its own: a
//! client that sent something holds its 16 KiB read buffer (or the bigger
//! one a big argument needed) between requests, and the shard's cron
//! (client_mem.rs, as Redis's clientsCronResizeQueryBuffer) gives it back
//! once the client has been idle for more than 2 s, or shrinks a big one
//! to the recent peak. A connection that holds none waits without one.
//! The 16 KiB buffers are mapped chunks (alloc/mapped.rs), resident only
//! where reads wrote, so a connection of small requests holds one page.
//! A buffer grows only as bytes arrive (doubling, and
//! never past what the pending request still needs), never to a length a
//! client merely announced.

use crate::alloc::mapped::MappedChunk;
use futures::AsyncRead;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::Poll;

/// Size of a chunk and of one read (Redis's PROTO_IOBUF_LEN).
pub const CHUNK: usize = crate::alloc::mapped::CHUNK;
/// The most a connection that has not authenticated may have buffered:
/// one bulk at Redis's unauthenticated limit (16 KiB) plus the headers of
/// a short AUTH or HELLO.
pub const MAX_UNAUTH_QUERY: usize = 20 * 1024;

/// The storage a resize to `target` bytes keeps: nothing for 0, else at
/// least a chunk (what one read takes).
pub fn kept_size(target: usize) -> usize {
    if target == 0 {
        0
    } else {
        target.max(CHUNK)
    }
}

/// Why a read did not add bytes.
pub enum ReadEnd {
    /// The peer closed or the socket failed.
    Closed,
    /// The buffer is at its limit and holds no complete request.
    Full,
}

/// A query buffer's memory: none, a mapped chunk (only the pages reads
/// wrote are resident: alloc/mapped.rs), or a heap vector for a buffer
/// past a chunk (a big argument, whose bytes will all be written).
enum Storage {
    None,
    Chunk(MappedChunk),
    Heap(Vec<u8>),
}

impl Storage {
    fn bytes_mut(&mut self) -> &mut [u8] {
        match self {
            Storage::None => &mut [],
            Storage::Chunk(c) => c,
            Storage::Heap(v) => v,
        }
    }

    /// Storage of `len` bytes starting with `old`.
    fn holding(len: usize, old: &[u8]) -> Storage {
        if len <= CHUNK {
            let mut chunk = MappedChunk::take();
            chunk[..old.len()].copy_from_slice(old);
            Storage::Chunk(chunk)
        } else {
            let mut heap = Vec::with_capacity(len);
            heap.extend_from_slice(old);
            heap.resize(len, 0);
            Storage::Heap(heap)
        }
    }
}

/// The bytes received and not yet consumed, at the front of `buf`.
pub struct QueryBuf {
    buf: Storage,
    /// `buf`'s bytes, kept beside it so the per-request paths (reads,
    /// parsing, consuming) take no branch on the kind of storage.
    base: NonNull<u8>,
    cap: usize,
    filled: usize,
    /// Holds no buffer between reads (a new connection, or one the cron
    /// found idle): a wait for input gives back the buffer it took.
    parked: bool,
}

impl Default for QueryBuf {
    fn default() -> Self {
        QueryBuf {
            buf: Storage::None,
            base: NonNull::dangling(),
            cap: 0,
            filled: 0,
            parked: true,
        }
    }
}

impl QueryBuf {
    pub fn data(&self) -> &[u8] {
        // SAFETY: `base`/`cap` describe `buf`'s initialised bytes (set by
        // `refresh` after every change of them), and `filled <= cap`.
        unsafe { std::slice::from_raw_parts(self.base.as_ptr(), self.filled) }
    }

    /// `buf`'s bytes `from..to`, writable.
    fn bytes_mut(&mut self, from: usize, to: usize) -> &mut [u8] {
        assert!(from <= to && to <= self.cap);
        // SAFETY: as in `data`, and `&mut self` makes the borrow unique.
        unsafe { std::slice::from_raw_parts_mut(self.base.as_ptr().add(from), to - from) }
    }

    /// Takes `storage` as the buffer.
    fn set(&mut self, storage: Storage) {
        self.buf = storage;
        self.refresh();
    }

    /// Notes where `buf`'s bytes are now.
    fn refresh(&mut self) {
        let bytes = self.buf.bytes_mut();
        self.cap = bytes.len();
        self.base = NonNull::new(bytes.as_mut_ptr()).unwrap_or(NonNull::dangling());
    }

    pub fn len(&self) -> usize {
        self.filled
    }

    /// Bytes of storage held.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Reads once from `stream` into the buffer, which may hold at most
    /// `limit` bytes; `need` is the parser's hint for the pending request
    /// (bytes it needs in all). A parked buffer waits without storage.
    pub async fn read_from<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
        need: usize,
        limit: usize,
    ) -> Result<usize, ReadEnd> {
        if self.filled >= limit {
            return Err(ReadEnd::Full);
        }
        std::future::poll_fn(|cx| {
            if self.filled == self.cap {
                self.make_room(need, limit);
            }
            let end = self.cap.min(limit);
            let window = self.bytes_mut(self.filled, end);
            match Pin::new(&mut *stream).poll_read(cx, window) {
                Poll::Pending => {
                    // glommio waits with a readiness poll, not a read into
                    // our memory: an empty buffer can go back meanwhile.
                    if self.parked {
                        self.release_if_empty();
                    }
                    Poll::Pending
                }
                Poll::Ready(Ok(n)) if n > 0 => {
                    self.filled += n;
                    self.parked = false;
                    Poll::Ready(Ok(n))
                }
                Poll::Ready(_) => Poll::Ready(Err(ReadEnd::Closed)),
            }
        })
        .await
    }

    /// Takes a chunk for an empty buffer, else grows a full one.
    #[cold]
    fn make_room(&mut self, need: usize, limit: usize) {
        if self.cap == 0 {
            self.set(Storage::Chunk(MappedChunk::take()));
        } else {
            self.grow(need, limit);
        }
    }

    /// Doubles the buffer, but not past `limit`, nor past what the
    /// pending request needs when the parser knows (else by a chunk). A
    /// big argument's buffer so ends at its request's size whatever the
    /// reads were, as Redis sizes its query buffer to a big argument: its
    /// memory (`tot-mem`) does not depend on how the bytes arrived.
    fn grow(&mut self, need: usize, limit: usize) {
        let len = self.capacity();
        let want = crate::resp::size_to_hold(need, len).unwrap_or(len + CHUNK);
        let target = (len * 2).min(want).min(limit.max(len));
        self.resize(target);
    }

    /// Storage of `len` bytes (at least what is held), contents kept.
    fn resize(&mut self, len: usize) {
        debug_assert!(len >= self.filled);
        let current = self.capacity();
        match &mut self.buf {
            Storage::Heap(v) if len > CHUNK => {
                if len > v.len() {
                    v.reserve_exact(len - v.len());
                    v.resize(len, 0);
                } else {
                    v.truncate(len);
                    v.shrink_to_fit();
                }
                self.refresh();
            }
            _ if len == current => {}
            _ => {
                let moved = Storage::holding(len, self.data());
                self.set(moved);
            }
        }
    }

    /// Makes room for `bytes` in all at once (a partly received request
    /// that announced its size); only while some of it is held.
    pub fn reserve(&mut self, bytes: usize) {
        if self.filled > 0 && bytes > self.capacity() {
            self.resize(bytes);
        }
    }

    /// Appends bytes read elsewhere (while a command was blocked).
    pub fn append(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.parked = false;
        let end = self.filled + bytes.len();
        if end > self.capacity() {
            self.resize(kept_size(end));
        }
        self.bytes_mut(self.filled, end).copy_from_slice(bytes);
        self.filled = end;
    }

    /// Drops the first `n` bytes; the storage stays for the next
    /// requests (the cron resizes it: [`QueryBuf::shrink_to`]).
    pub fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.filled);
        if n > 0 {
            let filled = self.filled;
            self.bytes_mut(0, filled).copy_within(n..filled, 0);
            self.filled -= n;
        }
    }

    /// The cron's resize (client_mem.rs): to `target` bytes, never below
    /// what is held nor below a chunk unless nothing is held: a `target`
    /// of 0 with nothing held gives the buffer back, and the connection
    /// waits without one until input arrives.
    pub fn shrink_to(&mut self, target: usize) {
        let want = kept_size(target.max(self.filled));
        if want == 0 {
            self.release_if_empty();
            self.parked = true;
        } else if want < self.capacity() {
            self.resize(want);
        }
    }

    fn release_if_empty(&mut self) {
        if self.filled == 0 && self.cap > 0 {
            self.set(Storage::None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out `data` in pieces of at most `step` bytes.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl AsyncRead for Trickle<'_> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            out: &mut [u8],
        ) -> Poll<std::io::Result<usize>> {
            let n = self.step.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Poll::Ready(Ok(n))
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        futures::executor::block_on(f)
    }

    #[test]
    fn grows_with_data_not_with_claims() {
        let data = vec![7u8; 100 * 1024];
        let mut src = Trickle {
            data: &data,
            step: 1024 * 1024,
        };
        let mut q = QueryBuf::default();
        // The parser says 512 MiB are needed; only what arrives is held.
        let claim = 512 << 20;
        while q.len() < data.len() {
            block_on(q.read_from(&mut src, claim, 1 << 30))
                .ok()
                .unwrap();
        }
        assert_eq!(q.len(), data.len());
        assert!(q.capacity() <= 2 * data.len(), "{}", q.capacity());
        let big = q.capacity();
        q.consume(q.len() - 10);
        assert_eq!(q.capacity(), big, "kept until the cron resizes it");
        q.shrink_to(10);
        assert_eq!(q.capacity(), CHUNK, "a small remainder moves to a chunk");
        q.consume(10);
        assert_eq!(q.capacity(), CHUNK, "an empty buffer is kept");
        q.shrink_to(0);
        assert_eq!(q.capacity(), 0, "until the cron gives it back");
    }

    #[test]
    fn growth_stops_at_what_the_request_needs_and_at_the_limit() {
        let data = vec![1u8; 64 * 1024];
        let mut src = Trickle {
            data: &data,
            step: usize::MAX,
        };
        let mut q = QueryBuf::default();
        let need = 40_000;
        let mut capacities = Vec::new();
        for _ in 0..3 {
            block_on(q.read_from(&mut src, need, 1 << 30)).ok().unwrap();
            capacities.push(q.capacity());
        }
        assert_eq!(capacities, [CHUNK, 2 * CHUNK, need]);
        let mut src = Trickle {
            data: &data,
            step: usize::MAX,
        };
        let mut q = QueryBuf::default();
        let limit = MAX_UNAUTH_QUERY;
        let mut reads = 0;
        while block_on(q.read_from(&mut src, usize::MAX, limit)).is_ok() {
            reads += 1;
        }
        assert!(reads >= 1);
        assert_eq!(q.len(), limit);
        assert!(q.capacity() <= limit + CHUNK);
    }
}
