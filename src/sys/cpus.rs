//! How many cores this process may use: the affinity mask, further
//! limited by a cgroup CPU quota (containers), as the default for `shards`.

/// CPUs in this thread's affinity mask.
pub fn affinity_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
}

/// CPUs allowed by a cgroup v2 (`cpu.max`) or v1 (`cfs_quota_us`) quota.
pub fn cgroup_quota_cpus() -> Option<usize> {
    if let Ok(s) = std::fs::read_to_string("/sys/fs/cgroup/cpu.max") {
        let mut it = s.split_whitespace();
        let quota = it.next()?;
        let period: f64 = it.next()?.parse().ok()?;
        if quota == "max" {
            return None;
        }
        let q: f64 = quota.parse().ok()?;
        return Some(((q / period).ceil() as usize).max(1));
    }
    let q: i64 = std::fs::read_to_string("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let p: i64 = std::fs::read_to_string("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    if q <= 0 || p <= 0 {
        return None;
    }
    Some(((q as f64 / p as f64).ceil() as usize).max(1))
}

/// Cores this process may use.
pub fn usable_cpus() -> usize {
    let n = affinity_cpus().len().max(1);
    cgroup_quota_cpus().map_or(n, |q| q.min(n))
}

/// Default shard count: usable cores minus one for control, at least 1.
pub fn default_shards() -> usize {
    usable_cpus().saturating_sub(1).max(1)
}

/// Cores left to background work (the AOF writer, snapshot writers, lazy
/// freeing) when the shards are pinned: the usable cores no shard owns.
/// Empty when shards float (background threads float with them).
static CONTROL_CPUS: std::sync::OnceLock<Vec<usize>> = std::sync::OnceLock::new();

/// Records the control cores once the shards' placement is known.
pub fn set_control_cpus(cpus: Vec<usize>) {
    let _ = CONTROL_CPUS.set(cpus);
}

/// The control cores (empty: float).
pub fn control_cpus() -> Vec<usize> {
    CONTROL_CPUS.get().cloned().unwrap_or_default()
}

/// Spawns a background thread that runs on the control cores when there
/// are any, so file writes and fsyncs never take time from a pinned shard.
pub fn spawn_background<F>(name: &str, f: F) -> std::io::Result<std::thread::JoinHandle<()>>
where
    F: FnOnce() + Send + 'static,
{
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            if let Some(cpus) = CONTROL_CPUS.get().filter(|c| !c.is_empty()) {
                pin_current_thread(cpus);
            }
            f()
        })
}

fn pin_current_thread(cpus: &[usize]) {
    // SAFETY: cpu_set_t is plain data; sched_setaffinity(0) changes only
    // the calling thread's mask.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Lets a runnable foreground thread (a shard sharing this core) have the
/// core now. A SCHED_IDLE thread that the scheduler picks keeps the core
/// until the next tick (4 ms at HZ=250) even with a shard waiting, since
/// the shard was preempted rather than woken: bulk work calls this
/// between small pieces so a shard waits at most one piece.
pub fn yield_to_foreground() {
    // SAFETY: sched_yield takes no arguments and cannot fail on Linux.
    unsafe {
        libc::sched_yield();
    }
}

/// Puts the calling thread in SCHED_IDLE: it runs on whatever CPU time
/// nothing else wants, so a core it shares with a shard (or a client)
/// is not taken away for a scheduler slice of several milliseconds.
/// For bulk work whose pace does not matter (snapshot writing).
pub fn lower_to_idle_priority() {
    // SAFETY: sched_param is plain data; pid 0 means the calling thread.
    unsafe {
        let param: libc::sched_param = std::mem::zeroed();
        libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
    }
}
