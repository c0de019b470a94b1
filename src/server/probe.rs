//! Start-up checks and process-level events: is io_uring usable here,
//! what to tell the user when it is not, and signals.

use super::shared::Shared;
use crate::config::keys as conf;
use std::sync::Arc;

/// Fails with one line naming the cause and the fix when io_uring cannot
/// be used (blocked by seccomp, disabled by sysctl, too old a kernel).
/// Locked memory is checked apart, against the executors' need
/// (sys/memlock.rs).
pub fn check_io_uring() -> Result<(), String> {
    // io_uring_setup with a tiny ring: success proves the syscall is allowed.
    let mut params = [0u8; 120];
    // SAFETY: the kernel writes at most sizeof(io_uring_params) = 120 bytes.
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 2u32, params.as_mut_ptr()) };
    if fd < 0 {
        let err = std::io::Error::last_os_error();
        let fix = match err.raw_os_error() {
            Some(libc::EPERM) => SECCOMP_FIX,
            Some(libc::ENOSYS) => "this kernel has no io_uring: Shardis needs Linux 5.8 or newer",
            Some(libc::ENOMEM) => {
                let fix = crate::sys::memlock::fix_unknown_need();
                return Err(format!("io_uring unavailable ({err}): the locked memory limit is used up (io_uring rings count against it, summed over every process of this user): {fix}"));
            }
            _ => "io_uring could not be set up",
        };
        return Err(format!("io_uring unavailable ({err}): {fix}"));
    }
    // SAFETY: closing the fd we just opened.
    unsafe { libc::close(fd as i32) };
    Ok(())
}

/// What unblocks io_uring where a seccomp profile or a sysctl blocks it:
/// Docker 25 and newer and Kubernetes' RuntimeDefault profile do.
const SECCOMP_FIX: &str = "io_uring is blocked by a seccomp profile (Docker >= 25's default, Kubernetes' RuntimeDefault) or by sysctl kernel.io_uring_disabled: allow it with conf/seccomp-io-uring.json (docker run --security-opt seccomp=conf/seccomp-io-uring.json; Compose: security_opt: [seccomp=./conf/seccomp-io-uring.json]; Kubernetes: securityContext.seccompProfile {type: Localhost, localhostProfile: seccomp-io-uring.json}), or set kernel.io_uring_disabled=0";

/// Waits for SIGTERM/SIGINT and shuts down as Redis does: after the
/// replicas caught up (shutdown.rs); a second SIGINT meanwhile exits at
/// once. A shutdown that fails (the final save) leaves the server up.
pub fn wait_for_signals(shared: Arc<Shared>) {
    loop {
        // SAFETY: standard sigwait pattern; signals were blocked in main
        // before any thread started, so every thread inherits the mask.
        let sig = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigaddset(&mut set, libc::SIGINT);
            let mut sig = 0;
            libc::sigwait(&set, &mut sig);
            sig
        };
        if sig == libc::SIGINT && shared.shutdown.signalled() {
            crate::warning!("You insist... exiting now.");
            // A save cut short leaves no temp file (the working
            // directory is `dir`), as Redis's rdbRemoveTempFile.
            let pid = std::process::id();
            let _ = std::fs::remove_file(format!("temp-{pid}.rdb"));
            let _ = std::fs::remove_file(format!("temp-bgsave-{pid}.rdb"));
            crate::sys::socket::stop_listening();
            std::process::exit(1);
        }
        let name = if sig == libc::SIGINT {
            "SIGINT"
        } else {
            "SIGTERM"
        };
        crate::warning!("Received {name} scheduling shutdown...");
        shared.shutdown.set_signalled();
        // Cluster mode: a master hands its slots to a replica first
        // (handover.rs); SIGINT and SHUTDOWN do not.
        if sig == libc::SIGTERM {
            super::handover::before_exit(&shared);
        }
        // Redis acts on the signal in its cron: DEBUG PAUSE-CRON holds
        // it back, and SHUTDOWN ABORT may cancel it meanwhile.
        while super::shutdown::CRON_PAUSED.load(std::sync::atomic::Ordering::Relaxed)
            && shared.shutdown.signalled()
        {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let setting = if sig == libc::SIGINT {
            crate::config::keys::SHUTDOWN_ON_SIGINT
        } else {
            crate::config::keys::SHUTDOWN_ON_SIGTERM
        };
        let flags = super::shutdown::Flags::from_setting(&shared.read_config(|c| c.text(setting)));
        super::shutdown::on_signal(&shared, flags);
    }
}

/// Blocks SIGTERM/SIGINT in the calling thread (call before spawning).
pub fn block_signals() {
    // SAFETY: manipulating this thread's signal mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        // A file over RLIMIT_FSIZE must be a failed write (EFBIG, reported
        // as MISCONF), not the death of the process.
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// Ends the process: the AOF is flushed and synced, an RDB saved when
/// asked (by the caller, shutdown.rs), the pidfile and unix socket removed.
pub fn shutdown(shared: &Shared) -> ! {
    use std::sync::atomic::Ordering;
    shared.shutting_down.store(true, Ordering::SeqCst);
    // AOF: everything accepted reaches the file and the disk first.
    if shared.aof.enabled() {
        crate::notice!("Calling fsync() on the AOF file.");
        if let Err(e) = shared.aof.seal_for_exit() {
            crate::warning!("{e}");
        }
    }
    // The pidfile and the unix socket go, as Redis removes them.
    for file in [conf::PIDFILE, conf::UNIXSOCKET] {
        let path = shared.read_config(|c| c.text(file));
        if !path.is_empty() {
            let _ = std::fs::remove_file(&path);
        }
    }
    crate::notice!("Shardis is now ready to exit, bye bye...");
    crate::sys::socket::stop_listening();
    std::process::exit(0)
}

/// Detaches from the terminal as redis-server's `daemonize yes` does.
pub fn daemonize() -> std::io::Result<()> {
    // SAFETY: fork before any thread exists; the parent exits at once.
    unsafe {
        match libc::fork() {
            -1 => return Err(std::io::Error::last_os_error()),
            0 => {}
            _ => libc::_exit(0),
        }
        libc::setsid();
        let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if fd >= 0 {
            libc::dup2(fd, 0);
            libc::dup2(fd, 1);
            libc::dup2(fd, 2);
            if fd > 2 {
                libc::close(fd);
            }
        }
    }
    Ok(())
}
