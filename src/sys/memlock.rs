//! Locked memory: what Shardis needs and how it fits the limit present at
//! start-up, so that containers start under Docker's default limit (and
//! nested or rootless Docker, which may not raise it) without `--ulimit`.
//!
//! What io_uring charges to RLIMIT_MEMLOCK:
//! - registered buffers: glommio registers its `io_memory` slab with each
//!   of an executor's three rings (3 x 64 KiB). Only glommio's DMA file
//!   reads and UDP sockets use them, and Shardis uses neither, so every
//!   executor is built with `io_memory(0)`: none registered
//!   (vendor/glommio/SHARDIS-PATCH.md).
//! - the rings' pages. Linux 5.12 to 6.x charged them to the memory cgroup
//!   instead, but before 5.12 and again on recent kernels (measured on 6.18:
//!   a 256-entry ring costs 7 pages) they count.
//!
//! The count is per user, not per process: every process and container of
//! the same uid without CAP_IPC_LOCK (the image runs as uid 999) shares one
//! limit's worth. So each process sizes its rings to a share of the limit.

use std::sync::atomic::{AtomicUsize, Ordering};

/// glommio `io_memory` for every executor (see the module comment).
pub const IO_MEMORY: usize = 0;

/// Ring depths tried, largest first: 256 keeps io_uring_enter calls rare
/// under load; 32 still batches a full pipeline of a few clients. Below
/// that a shard would make a system call every few requests.
const MAX_RING_DEPTH: usize = 256;
const MIN_RING_DEPTH: usize = 32;

/// The share of the limit one process aims for: the seed runs three nodes
/// per host as one uid, and the fourth share is headroom (rings freed by a
/// restart are uncharged asynchronously).
const PROCESSES_PER_LIMIT: u64 = 4;

static RING_DEPTH: AtomicUsize = AtomicUsize::new(MAX_RING_DEPTH);

/// The ring depth `plan` chose, for every executor.
pub fn ring_depth() -> usize {
    RING_DEPTH.load(Ordering::Relaxed)
}

/// Chooses the deepest rings whose pages for `executors` executors fit in
/// this process's share of the limit, or the shallowest that fit in the
/// whole limit; fails with one line naming the need and the fix when not
/// even those fit. Raises the soft limit to the hard one first, as
/// `ulimit -l $(ulimit -H -l)` would: that needs no privilege.
pub fn plan(executors: usize) -> Result<(), String> {
    if exempt() {
        return Ok(());
    }
    let limit = raise_soft_limit();
    let need = |depth: usize| executors as u64 * 3 * ring_bytes(depth);
    let mut depth = MAX_RING_DEPTH;
    while depth > MIN_RING_DEPTH && need(depth) > limit / PROCESSES_PER_LIMIT {
        depth /= 2;
    }
    if need(depth) > limit {
        let kib = need(depth).div_ceil(1024);
        return Err(format!(
            "locked memory limit is {} KiB but the io_uring rings of {executors} executors need {kib} KiB: {}",
            limit / 1024,
            fix(kib)
        ));
    }
    RING_DEPTH.store(depth, Ordering::Relaxed);
    Ok(())
}

/// What to do when the rings do not fit: what works everywhere is fewer
/// executors, or a finite limit the container runtime allows (nested and
/// rootless Docker refuse `memlock=-1`).
pub fn fix(kib: u64) -> String {
    format!("run fewer shards (--shards N), or raise the limit to {kib} KiB or more for every process of this user (ulimit -l {kib}; Docker: --ulimit memlock={bytes}; Compose: ulimits: memlock: {bytes})", bytes = kib * 1024)
}

/// `fix` when the charge that failed is unknown (another process of the
/// same user may hold it): twice the current limit, at least 8 MiB.
pub fn fix_unknown_need() -> String {
    fix((raise_soft_limit() / 1024).saturating_mul(2).max(8192))
}

/// Turns glommio's executor error into an actionable line: an executor
/// that cannot start is most often one whose rings the limit refused.
pub fn explain_executor_error(e: &str) -> String {
    if e.contains("Cannot allocate memory") {
        format!("could not start a shard executor ({e}): the locked memory limit is used up (io_uring rings count against it, summed over every process of this user): {}", fix_unknown_need())
    } else {
        format!("could not start a shard executor: {e}")
    }
}

/// Bytes one ring of `depth` entries charges: the shared rings (header,
/// 2 * depth CQEs of 16 bytes, the SQ index array) and the SQE array (64
/// bytes each), each rounded up to whole pages.
fn ring_bytes(depth: usize) -> u64 {
    let page = 4096u64;
    let d = depth as u64;
    let rings = 320 + 2 * d * 16 + d * 4;
    let sqes = d * 64;
    rings.div_ceil(page) * page + sqes.div_ceil(page) * page
}

/// io_uring charges nothing to a process with CAP_IPC_LOCK in the initial
/// user namespace (root on the host; not a container's root, which Docker
/// does not give that capability, nor a rootless one's).
fn exempt() -> bool {
    const CAP_IPC_LOCK: u32 = 14;
    let initial_ns = std::fs::read_to_string("/proc/self/uid_map")
        .is_ok_and(|m| m.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"]);
    let caps = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let hex = s
                .lines()
                .find_map(|l| l.strip_prefix("CapEff:"))?
                .trim()
                .to_owned();
            u64::from_str_radix(&hex, 16).ok()
        });
    initial_ns && caps.is_some_and(|c| c & (1 << CAP_IPC_LOCK) != 0)
}

/// Sets the soft RLIMIT_MEMLOCK to the hard one; returns the new soft limit.
fn raise_soft_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit on a struct we own.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) != 0 {
            return u64::MAX;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_MEMLOCK, &raised) == 0 {
                lim = raised;
            }
        }
        lim.rlim_cur
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_sizes_match_the_kernels_charge() {
        // Measured on Linux 6.18 by filling a limit with io_uring_setup:
        // 256 entries cost 7 pages, 32 entries 2 pages, 2 entries 2 pages.
        assert_eq!(ring_bytes(256), 7 * 4096);
        assert_eq!(ring_bytes(32), 2 * 4096);
        assert_eq!(ring_bytes(2), 2 * 4096);
    }
}
