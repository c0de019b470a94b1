//! Freeing big values off the shard threads, as Redis's lazyfree: UNLINK,
//! FLUSHALL/FLUSHDB ASYNC and the `lazyfree-lazy-*` options hand a value
//! whose freeing takes many steps to one background thread, so the shard
//! goes on serving while millions of elements are released.
//!
//! The thread runs in SCHED_IDLE: freeing is never urgent, and on a core
//! shared with a shard it must not take a scheduler slice from it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::OnceLock;

/// Redis's LAZYFREE_THRESHOLD: values that take more allocations than
/// this to free go to the background; smaller ones are freed at once.
pub const THRESHOLD: usize = 64;

/// What to drop, and how many objects it counts as.
type Garbage = (Box<dyn Send>, u64);

static WORKER: OnceLock<Option<Sender<Garbage>>> = OnceLock::new();
/// INFO `lazyfree_pending_objects` and `lazyfreed_objects`.
static PENDING: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);

fn worker() -> Option<&'static Sender<Garbage>> {
    WORKER
        .get_or_init(|| {
            let (tx, rx) = channel::<Garbage>();
            std::thread::Builder::new()
                .name("lazyfree".into())
                .spawn(move || {
                    crate::sys::cpus::lower_to_idle_priority();
                    for (garbage, objects) in rx {
                        drop(garbage);
                        PENDING.fetch_sub(objects, Ordering::Relaxed);
                        FREED.fetch_add(objects, Ordering::Relaxed);
                    }
                })
                .ok()
                .map(|_| tx)
        })
        .as_ref()
}

/// Frees `garbage` on the background thread, counted as `objects` (a
/// flushed database counts its keys, as Redis's); frees it here if no
/// thread could be started.
pub fn free_later(garbage: impl Send + 'static, objects: u64) {
    let Some(tx) = worker() else {
        return;
    };
    PENDING.fetch_add(objects, Ordering::Relaxed);
    if let Err(back) = tx.send((Box::new(garbage), objects)) {
        PENDING.fetch_sub(objects, Ordering::Relaxed);
        drop(back);
    }
}

/// Frees a removed value in the background when that is worth it
/// (`effort` above [`THRESHOLD`]), else here.
pub fn free_value(value: super::Value) {
    if value.free_effort() > THRESHOLD {
        free_later(value, 1);
    }
}

/// Removes a big file (a full sync's RDB) without freeing its blocks
/// here: the name goes at once, while a descriptor still holds the file,
/// and that last descriptor is closed on the background thread, where the
/// file system frees the blocks and drops the cached pages (tens of
/// milliseconds for a few hundred MB, all of it a stall on a shard), as
/// Redis's `bg_unlink`. A file that cannot be opened is removed here.
pub fn remove_file_later(path: &std::path::Path) {
    let held = std::fs::File::open(path);
    let _ = std::fs::remove_file(path);
    if let Ok(file) = held {
        free_later(file, 0);
    }
}

pub fn pending() -> u64 {
    PENDING.load(Ordering::Relaxed)
}

pub fn freed() -> u64 {
    FREED.load(Ordering::Relaxed)
}

/// CONFIG RESETSTAT.
pub fn reset_stats() {
    FREED.store(0, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_values_are_freed_on_the_worker() {
        let before = freed();
        let mut set = super::super::Set::new_for(b"x");
        for i in 0..1000 {
            set.add(format!("member:{i}").as_bytes(), 512);
        }
        let value = super::super::Value::Set(crate::store::PackedBox::new(set));
        assert!(value.free_effort() > THRESHOLD);
        free_value(value);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while freed() == before {
            assert!(std::time::Instant::now() < deadline);
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        free_value(super::super::Value::from_bytes(b"small"));
        assert_eq!(pending(), 0);
    }

    /// The name goes at once; the descriptor that kept the blocks is
    /// closed by the worker, so none of ours points at the file after.
    #[test]
    fn a_removed_file_is_closed_on_the_worker() {
        let dir = std::env::temp_dir().join(format!("lazyfree-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("big.rdb");
        std::fs::write(&path, vec![7u8; 1 << 20]).unwrap();
        remove_file_later(&path);
        assert!(
            !path.exists(),
            "the name is removed before the call returns"
        );
        let ours = || {
            std::fs::read_dir("/proc/self/fd")
                .unwrap()
                .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
                .any(|target| {
                    // "<path> (deleted)": compared as text, not by component.
                    target
                        .to_string_lossy()
                        .starts_with(&*path.to_string_lossy())
                })
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while ours() {
            assert!(std::time::Instant::now() < deadline, "still held after 5 s");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let _ = std::fs::remove_dir(&dir);
    }
}
