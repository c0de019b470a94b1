//! Buffers of one size (16 KiB) carved from anonymous memory maps, for
//! connections' query buffers. A fresh mapping reads as zeros with no
//! page behind it, so a buffer costs only the pages reads have written:
//! one page for a connection of small requests, as a jemalloc buffer
//! costs Redis. A zero-filled heap buffer had all four pages resident in
//! every connection that ever sent a command.
//!
//! Freed buffers go to one process-wide free list (taken and given only
//! when a connection first reads, or gives its buffer back after idling,
//! never per request). Past [`RESIDENT_MAX`] of them, a freed buffer's
//! pages go back to the kernel (`MADV_DONTNEED`); it reads as zeros again
//! and stays listed for reuse. Mappings are never unmapped.
//!
//! `used_memory` counts a buffer while it is handed out, as it counted
//! the heap buffer it replaces.

use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::Mutex;

/// Bytes of one buffer (Redis's PROTO_IOBUF_LEN).
pub const CHUNK: usize = 16 * 1024;
/// Buffers per mapping: 2 MiB maps.
const PER_MAP: usize = 128;
/// Freed buffers kept with their pages resident, for quick reuse.
const RESIDENT_MAX: usize = 256;

/// Free buffers' addresses.
struct FreeList {
    /// Pages possibly resident: reused first.
    resident: Vec<usize>,
    /// Pages given back to the kernel, or never touched.
    released: Vec<usize>,
}

impl FreeList {
    const fn new() -> FreeList {
        FreeList {
            resident: Vec::new(),
            released: Vec::new(),
        }
    }

    /// A free buffer's address, the most recently freed resident one first.
    fn pop(&mut self) -> Option<usize> {
        self.resident.pop().or_else(|| self.released.pop())
    }

    /// Lists a freed buffer as resident; false when enough are, and its
    /// pages must go back to the kernel before it is listed as released.
    fn keep_resident(&mut self, addr: usize) -> bool {
        let keep = self.resident.len() < RESIDENT_MAX;
        if keep {
            self.resident.push(addr);
        }
        keep
    }
}

static FREE: Mutex<FreeList> = Mutex::new(FreeList::new());

fn free_list() -> std::sync::MutexGuard<'static, FreeList> {
    // Nothing under the lock can leave the lists inconsistent.
    FREE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One [`CHUNK`]-byte buffer, zero when first handed out from a new
/// mapping, otherwise holding whatever its last owner left.
pub struct MappedChunk(NonNull<u8>);

// A plain block of memory, owned alone.
unsafe impl Send for MappedChunk {}

impl MappedChunk {
    pub fn take() -> MappedChunk {
        let addr = {
            let mut free = free_list();
            match free.pop() {
                Some(addr) => addr,
                None => {
                    let base = map_buffers();
                    free.released.extend((1..PER_MAP).map(|i| base + i * CHUNK));
                    base
                }
            }
        };
        super::account_outside_heap(CHUNK as i64);
        MappedChunk(NonNull::new(addr as *mut u8).expect("mapped address"))
    }
}

impl Drop for MappedChunk {
    fn drop(&mut self) {
        super::account_outside_heap(-(CHUNK as i64));
        let addr = self.0.as_ptr() as usize;
        let kept = free_list().keep_resident(addr);
        if !kept {
            // SAFETY: the range is one whole buffer of a live private
            // anonymous mapping that nobody else references; after this it
            // reads as zeros.
            unsafe { libc::madvise(addr as *mut libc::c_void, CHUNK, libc::MADV_DONTNEED) };
            free_list().released.push(addr);
        }
    }
}

impl Deref for MappedChunk {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: CHUNK bytes of mapped memory owned by this handle; the
        // kernel zero-fills anonymous pages, so every byte is initialised.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr(), CHUNK) }
    }
}

impl DerefMut for MappedChunk {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and the handle is unique.
        unsafe { std::slice::from_raw_parts_mut(self.0.as_ptr(), CHUNK) }
    }
}

/// Maps `PER_MAP` buffers; returns the first's address.
fn map_buffers() -> usize {
    let len = PER_MAP * CHUNK;
    // SAFETY: a new private anonymous mapping; no existing memory is
    // touched.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        std::alloc::handle_alloc_error(std::alloc::Layout::from_size_align(len, 4096).unwrap());
    }
    // A huge page would make one connection's first read resident 2 MiB
    // (transparent huge pages set to "always"); failure changes nothing.
    // SAFETY: advice on the mapping just made.
    unsafe { libc::madvise(ptr, len, libc::MADV_NOHUGEPAGE) };
    ptr as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_is_writable_whole() {
        let mut a = MappedChunk::take();
        assert_eq!(a.len(), CHUNK);
        a[0] = 1;
        a[CHUNK - 1] = 2;
        assert_eq!((a[0], a[CHUNK - 1]), (1, 2));
    }

    /// On a list of its own: the process-wide one is shared with every
    /// test that reads into a query buffer at the same time (a freed
    /// buffer looked for among the next 64 taken was once not found).
    #[test]
    fn a_freed_buffer_is_handed_out_first_and_past_the_resident_cap_released() {
        let mut free = FreeList::new();
        free.released.extend([1, 2, 3].map(|i| i * CHUNK));
        assert!(free.keep_resident(7 * CHUNK));
        assert_eq!(free.pop(), Some(7 * CHUNK));
        for i in 0..RESIDENT_MAX {
            assert!(free.keep_resident((100 + i) * CHUNK));
        }
        assert!(!free.keep_resident(99 * CHUNK));
        assert_eq!(free.resident.len(), RESIDENT_MAX);
    }

    #[test]
    fn buffers_do_not_overlap() {
        let chunks: Vec<MappedChunk> = (0..(PER_MAP + 3)).map(|_| MappedChunk::take()).collect();
        let mut addrs: Vec<usize> = chunks.iter().map(|c| c.0.as_ptr() as usize).collect();
        addrs.sort();
        assert!(addrs.windows(2).all(|w| w[1] - w[0] >= CHUNK));
    }
}
