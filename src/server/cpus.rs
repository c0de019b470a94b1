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
