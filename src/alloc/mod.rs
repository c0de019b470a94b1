//! The process's allocated bytes, as Redis's `used_memory` (zmalloc's
//! count): what `maxmemory` is checked against and INFO reports.
//!
//! Every allocation goes through [`Counting`], a thin wrapper over the
//! system allocator. Each thread adds its allocations to a slot of its own
//! (one cache line, written only by that thread, so the hot path takes no
//! lock and no shared line), and a reader sums the slots: the total is
//! exact from any thread at any time. (A tally each thread published only
//! every 64 KiB left INFO and the eviction check of different shards up to
//! a few hundred KiB apart at shards 4, past the few KiB Redis's tests set
//! `maxmemory` above `used_memory`.) Bytes freed on another thread than
//! the one that allocated them (values handed across the shard mesh)
//! simply count negative there: only the sum matters.
//!
//! Each thread also counts its allocation calls ([`thread_allocations`],
//! `DEBUG ALLOC-COUNT`): tests/alloc_free.rs checks with it that pipelined
//! GET and SET hits allocate nothing.

pub mod mapped;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};

/// The system allocator, counted.
pub struct Counting;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// One thread's net allocated bytes, alone on its cache line.
#[repr(align(64))]
struct Slot(AtomicI64);

/// Threads with a slot of their own: the shards and the few service
/// threads. Slots are never given back (a slot keeps its thread's net
/// bytes, part of the total, after the thread ends); threads past the
/// last slot count straight into [`SHARED`].
const SLOT_COUNT: usize = 256;

static SLOTS: [Slot; SLOT_COUNT] = [const { Slot(AtomicI64::new(0)) }; SLOT_COUNT];

/// How many slots were handed out (may run past [`SLOT_COUNT`]).
static CLAIMED: AtomicUsize = AtomicUsize::new(0);

/// Bytes of threads without a slot, and of a thread's last frees once
/// its thread-locals are gone.
static SHARED: AtomicI64 = AtomicI64::new(0);

/// A thread's slot before its first allocation.
const UNCLAIMED: usize = usize::MAX;

thread_local! {
    // Const-initialised and without a destructor: usable inside the
    // allocator at any point of a thread's life.
    static SLOT: Cell<usize> = const { Cell::new(UNCLAIMED) };
    // Heap calls (alloc, alloc_zeroed, realloc) made by this thread.
    static CALLS: Cell<u64> = const { Cell::new(0) };
}

#[inline]
fn count_call() {
    let _ = CALLS.try_with(|c| c.set(c.get() + 1));
}

/// How many allocations (alloc, alloc_zeroed and realloc calls) this
/// thread has made since it started: what `DEBUG ALLOC-COUNT` reports
/// for a connection's shard thread, so a test can check that a request
/// path allocates nothing.
pub fn thread_allocations() -> u64 {
    CALLS.try_with(|c| c.get()).unwrap_or(0)
}

/// Counts `delta` bytes obtained outside the heap (negative when given
/// back), as an allocation of this thread: [`mapped`]'s buffers.
pub fn account_outside_heap(delta: i64) {
    account(delta);
}

#[inline]
fn account(delta: i64) {
    let slot = SLOT
        .try_with(|s| {
            if s.get() == UNCLAIMED {
                s.set(CLAIMED.fetch_add(1, Ordering::Relaxed));
            }
            s.get()
        })
        .unwrap_or(UNCLAIMED);
    match SLOTS.get(slot) {
        // Only this thread writes its slot: a plain load and store.
        Some(Slot(n)) => n.store(n.load(Ordering::Relaxed) + delta, Ordering::Relaxed),
        None => {
            SHARED.fetch_add(delta, Ordering::Relaxed);
        }
    }
}

/// This thread's net allocated bytes (what it allocated less what it
/// freed, wherever the memory came from): a shard measures what one of
/// its own steps freed by the change, which other threads' work at the
/// same time does not blur as it does [`used_bytes`].
pub fn thread_bytes() -> i64 {
    let slot = SLOT.try_with(|s| s.get()).unwrap_or(UNCLAIMED);
    match SLOTS.get(slot) {
        Some(Slot(n)) => n.load(Ordering::Relaxed),
        // No slot: only the shared count, which other threads move too.
        None => SHARED.load(Ordering::Relaxed),
    }
}

/// Net allocated bytes of every thread.
fn allocated() -> i64 {
    let claimed = CLAIMED.load(Ordering::Relaxed).min(SLOT_COUNT);
    SLOTS[..claimed]
        .iter()
        .map(|Slot(n)| n.load(Ordering::Relaxed))
        .sum::<i64>()
        + SHARED.load(Ordering::Relaxed)
}

/// Bytes of the keyspace's slot-table arrays (store/db.rs), left out of
/// the figures below. A database's array of empty tables (64 bytes per
/// slot, about 1 MB) is allocated at its first write; Redis's empty
/// dictionaries cost next to nothing, and counting the array would make
/// the first key look like a megabyte (past a `maxmemory` set a little
/// above `used_memory`, as Redis's tests do).
static OVERHEAD: AtomicI64 = AtomicI64::new(0);

/// Adds `delta` bytes of slot-table arrays (negative when freed).
pub fn note_overhead(delta: i64) {
    OVERHEAD.fetch_add(delta, Ordering::Relaxed);
}

/// `used_memory` when the server was up and before it loaded its data:
/// INFO `used_memory_startup` (Redis's initial_memory_usage).
static STARTUP: AtomicU64 = AtomicU64::new(0);

/// Records [`startup_bytes`]: called once, before the data load.
pub fn mark_startup() {
    STARTUP.store(used_bytes(), Ordering::Relaxed);
}

pub fn startup_bytes() -> u64 {
    STARTUP.load(Ordering::Relaxed)
}

/// Allocated bytes, process-wide, the same from every thread: INFO's
/// `used_memory` and the figure eviction decides on.
pub fn used_bytes() -> u64 {
    (allocated() - OVERHEAD.load(Ordering::Relaxed)).max(0) as u64
}

// SAFETY: every call is forwarded to `System` unchanged; only sizes of
// successful calls are counted.
unsafe impl GlobalAlloc for Counting {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        count_call();
        if !p.is_null() {
            account(layout.size() as i64);
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        count_call();
        if !p.is_null() {
            account(layout.size() as i64);
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        account(-(layout.size() as i64));
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        count_call();
        if !p.is_null() {
            account(new_size as i64 - layout.size() as i64);
        }
        p
    }
}

/// Makes every allocation of 128 KiB or more a mapping of its own, given
/// back to the kernel when freed. glibc's default raises that threshold
/// to the size of the last big block freed (up to 32 MiB), after which
/// big buffers come from the heap and their pages stay resident after
/// `free`: a client that sent a few large requests and left would keep
/// the node's RSS up for good.
pub fn return_big_frees_to_os() {
    // SAFETY: mallopt only changes allocator tuning parameters.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_what_is_allocated_and_freed() {
        let before = super::used_bytes();
        let big = vec![7u8; 64 << 20];
        let during = super::used_bytes();
        assert!(
            during >= before + (64 << 20) - (16 << 20),
            "{before} -> {during}"
        );
        drop(big);
        let after = super::used_bytes();
        assert!(after + (48 << 20) <= during, "{during} -> {after}");
    }

    #[test]
    fn counts_this_threads_allocations() {
        let before = super::thread_allocations();
        let v: Vec<Box<u64>> = (0..10).map(Box::new).collect();
        let after = super::thread_allocations();
        // Ten boxes and the vector (the test harness may add none here).
        assert_eq!(after - before, 11, "{before} -> {after}");
        drop(v);
        assert_eq!(super::thread_allocations(), after, "frees are not counted");
    }
}
