//! A shard's data, reachable from every shard thread under a lock.
//!
//! The owning shard's thread uses its data as through a `RefCell`
//! (`borrow`, `borrow_mut`, nested borrows allowed as the cell allows
//! them); the lock it takes is uncontended unless another thread runs a
//! multi-shard command on this data right now (server/direct.rs), which
//! holds it only for a synchronous step of microseconds. Another thread
//! never waits for the lock synchronously: it tries, and backs off
//! asynchronously when it fails, so a thread holding locks never waits
//! for anything and the locks cannot deadlock.
//!
//! The lock is re-entrant per thread: code on the owning thread that
//! borrows while another borrow of the same thread is alive works as with
//! a `RefCell` (whose own checks still catch a `borrow_mut` beside a
//! `borrow`).

use std::cell::{Cell, Ref, RefCell, RefMut};
use std::sync::atomic::{AtomicU64, Ordering};

thread_local! {
    static TOKEN: u64 = {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        NEXT.fetch_add(1, Ordering::Relaxed)
    };
}

fn token() -> u64 {
    TOKEN.with(|t| *t)
}

pub struct ShardLock<T> {
    /// The holding thread's token; 0 when free.
    owner: AtomicU64,
    /// Nested acquisitions by the holder (touched only by the holder).
    depth: Cell<u32>,
    cell: RefCell<T>,
}

// SAFETY: `depth` and `cell` are touched only by the thread that holds
// `owner`, which hands them over with Release/Acquire on `owner`; `T`
// itself must be Send to move between threads that way.
unsafe impl<T: Send> Sync for ShardLock<T> {}
unsafe impl<T: Send> Send for ShardLock<T> {}

impl<T> ShardLock<T> {
    pub fn new(value: T) -> ShardLock<T> {
        ShardLock {
            owner: AtomicU64::new(0),
            depth: Cell::new(0),
            cell: RefCell::new(value),
        }
    }

    /// Takes the lock, or returns false when another thread holds it.
    pub fn try_acquire(&self) -> bool {
        let me = token();
        if self.owner.load(Ordering::Relaxed) == me {
            self.depth.set(self.depth.get() + 1);
            return true;
        }
        if self
            .owner
            .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            self.depth.set(1);
            true
        } else {
            false
        }
    }

    /// Takes the lock, waiting (yielding the CPU) while another thread
    /// holds it: that thread is inside a synchronous step. Give it back
    /// with [`ShardLock::release`].
    pub fn acquire(&self) {
        let mut spins = 0u32;
        while !self.try_acquire() {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Gives back one acquisition ([`ShardLock::try_acquire`]).
    pub fn release(&self) {
        debug_assert_eq!(self.owner.load(Ordering::Relaxed), token());
        let d = self.depth.get() - 1;
        self.depth.set(d);
        if d == 0 {
            self.owner.store(0, Ordering::Release);
        }
    }

    /// Lets go of this thread's hold however deep (0 if it holds none);
    /// [`ShardLock::unpark`] takes it back. No borrow may be alive.
    pub fn park(&self) -> u32 {
        if !self.held_here() {
            return 0;
        }
        let depth = self.depth.replace(0);
        self.owner.store(0, Ordering::Release);
        depth
    }

    /// Takes back a hold [`ShardLock::park`] let go of.
    pub fn unpark(&self, depth: u32) {
        if depth > 0 {
            self.acquire();
            self.depth.set(depth);
        }
    }

    /// Whether another thread holds the lock.
    pub fn held_elsewhere(&self) -> bool {
        let owner = self.owner.load(Ordering::Relaxed);
        owner != 0 && owner != token()
    }

    /// Whether this thread holds the lock.
    pub fn held_here(&self) -> bool {
        self.owner.load(Ordering::Relaxed) == token()
    }

    pub fn borrow(&self) -> LockRef<'_, T> {
        self.acquire();
        LockRef {
            r: Some(self.cell.borrow()),
            lock: self,
        }
    }

    pub fn borrow_mut(&self) -> LockRefMut<'_, T> {
        self.acquire();
        LockRefMut {
            r: Some(self.cell.borrow_mut()),
            lock: self,
        }
    }

    /// Mutable access for a thread that took the lock with
    /// [`ShardLock::try_acquire`] (and releases it itself).
    pub fn borrow_mut_held(&self) -> RefMut<'_, T> {
        assert!(self.held_here(), "the lock is not held by this thread");
        self.cell.borrow_mut()
    }
}

pub struct LockRef<'a, T> {
    r: Option<Ref<'a, T>>,
    lock: &'a ShardLock<T>,
}

impl<T> std::ops::Deref for LockRef<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.r.as_ref().expect("live borrow")
    }
}

impl<T> Drop for LockRef<'_, T> {
    fn drop(&mut self) {
        self.r = None;
        self.lock.release();
    }
}

pub struct LockRefMut<'a, T> {
    r: Option<RefMut<'a, T>>,
    lock: &'a ShardLock<T>,
}

impl<T> std::ops::Deref for LockRefMut<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.r.as_ref().expect("live borrow")
    }
}

impl<T> std::ops::DerefMut for LockRefMut<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.r.as_mut().expect("live borrow")
    }
}

impl<T> Drop for LockRefMut<'_, T> {
    fn drop(&mut self) {
        self.r = None;
        self.lock.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn nested_borrows_on_one_thread_and_exclusion_across_threads() {
        let lock = Arc::new(ShardLock::new(0u64));
        {
            let a = lock.borrow();
            let b = lock.borrow();
            assert_eq!(*a + *b, 0);
        }
        assert!(lock.try_acquire());
        let other = lock.clone();
        let refused = std::thread::spawn(move || other.try_acquire())
            .join()
            .unwrap();
        assert!(!refused, "held by this thread");
        lock.release();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let l = lock.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        *l.borrow_mut() += 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*lock.borrow(), 40_000);
    }
}
