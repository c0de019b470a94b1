//! The crash report (Redis 7.0's `sigsegvHandler`, `crash-log-enabled
//! yes`): on SIGSEGV, SIGBUS, SIGFPE, SIGILL or SIGABRT the log gets
//! "crashed by signal", the faulting address or the sender, and the
//! crashing thread's stack trace; then the signal is raised again with
//! its default action, so the exit status and any core dump are the
//! signal's. As Redis, the handler runs on the thread's own stack (a stack
//! overflow dies without a report) and allocates (it is crashing anyway).

const SIGNALS: [libc::c_int; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGABRT,
];

/// Installs the handler for the crash signals, once at start-up.
pub fn install() {
    // SAFETY: a plain sigaction with a handler of the SA_SIGINFO shape.
    unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        libc::sigemptyset(&mut act.sa_mask);
        act.sa_flags = libc::SA_NODEFER | libc::SA_RESETHAND | libc::SA_SIGINFO;
        let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) = on_crash;
        act.sa_sigaction = handler as usize;
        for sig in SIGNALS {
            libc::sigaction(sig, &act, std::ptr::null_mut());
        }
    }
}

const REPORT_START: &str = "\n\n=== SHARDIS BUG REPORT START: Cut & paste starting from here ===\n";
const REPORT_END: &str =
    "\n=== SHARDIS BUG REPORT END. Make sure to include from START to END. ===\n\n";

/// The crashing thread's stack trace, as a report section.
fn stack_trace() -> String {
    let thread = std::thread::current();
    format!(
        "\n------ STACK TRACE ------\n\nBacktrace (thread {}):\n{}\n",
        thread.name().unwrap_or("unnamed"),
        std::backtrace::Backtrace::force_capture()
    )
}

/// Redis's serverPanic: "Guru Meditation" with the message and the
/// caller's place, and the stack trace, in the log; then the crash
/// handlers are removed (no second report) and the process ends as
/// after any panic (main.rs: exit status 1 with `use-exit-on-panic`,
/// else SIGABRT).
#[track_caller]
pub fn server_panic(msg: &str) -> ! {
    use super::log::{crash_line, crash_raw};
    let at = std::panic::Location::caller();
    crash_raw(REPORT_START);
    crash_line("------------------------------------------------");
    crash_line("!!! Software Failure. Press left mouse button to continue");
    crash_line(&format!(
        "Guru Meditation: {msg} #{}:{}",
        at.file(),
        at.line()
    ));
    crash_raw(&stack_trace());
    crash_raw(REPORT_END);
    // SAFETY: restoring the default action of signals.
    unsafe {
        for sig in SIGNALS {
            libc::signal(sig, libc::SIG_DFL);
        }
    }
    panic!("{msg}");
}

extern "C" fn on_crash(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    use super::log::{crash_line, crash_raw};
    crash_raw(REPORT_START);
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let info = unsafe { &*info };
    crash_line(&format!(
        "Shardis {} crashed by signal: {sig}, si_code: {}",
        env!("CARGO_PKG_VERSION"),
        info.si_code
    ));
    if sig == libc::SIGSEGV || sig == libc::SIGBUS {
        // SAFETY: si_addr is set for these signals.
        crash_line(&format!("Accessing address: {:p}", unsafe {
            info.si_addr()
        }));
    }
    if info.si_code == libc::SI_USER {
        // SAFETY: si_pid and si_uid are set for a signal a process sent.
        let (pid, uid) = unsafe { (info.si_pid(), info.si_uid()) };
        if pid != -1 {
            crash_line(&format!("Killed by PID: {pid}, UID: {uid}"));
        }
    }
    crash_raw(&stack_trace());
    crash_raw(REPORT_END);
    // SA_RESETHAND restored the default action; SA_NODEFER lets it act now.
    // SAFETY: raising a signal on the current thread.
    unsafe {
        libc::raise(sig);
    }
}

/// DEBUG SEGFAULT: a write to a read-only page, as Redis 7.0's.
pub fn segfault() -> ! {
    // SAFETY: maps one fresh page; the write to it faults on purpose.
    unsafe {
        let page = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        ) as *mut u8;
        std::ptr::write_volatile(page, b'x');
    }
    std::process::abort()
}
