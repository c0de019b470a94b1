//! The process title (what `ps` and /proc/PID/cmdline show), set the
//! way Redis's setproctitle.c does on Linux: the title is written over
//! the memory of the original arguments and, past them, of the
//! environment strings, which are first copied elsewhere.
//!
//! glibc hands `argc, argv, envp` to every `.init_array` function; that
//! is how the original argument block is found.

use std::ffi::{c_char, c_int, CStr, CString};
use std::sync::atomic::{AtomicIsize, AtomicPtr, Ordering};
use std::sync::Mutex;

static ARGC: AtomicIsize = AtomicIsize::new(0);
static ARGV: AtomicPtr<*mut c_char> = AtomicPtr::new(std::ptr::null_mut());

#[used]
#[link_section = ".init_array"]
static CAPTURE: extern "C" fn(c_int, *mut *mut c_char, *mut *mut c_char) = capture;

extern "C" fn capture(argc: c_int, argv: *mut *mut c_char, _envp: *mut *mut c_char) {
    ARGC.store(argc as isize, Ordering::Relaxed);
    ARGV.store(argv, Ordering::Relaxed);
}

/// The writable block: from argv[0] to the end of the last string
/// contiguous with it (arguments, then environment).
struct Area {
    base: usize,
    end: usize,
}

static AREA: Mutex<Option<Area>> = Mutex::new(None);
static ARGV0: Mutex<String> = Mutex::new(String::new());

/// The name the process was started with (Redis's `exec_argv[0]`).
pub fn argv0() -> String {
    ARGV0.lock().unwrap().clone()
}

/// Makes the title settable: copies the environment and the arguments
/// after the first out of the block the title will be written over.
/// Call once, first thing in `main`, while the process has one thread.
pub fn init() {
    let argv = ARGV.load(Ordering::Relaxed);
    let argc = ARGC.load(Ordering::Relaxed);
    if argv.is_null() || argc < 1 {
        return;
    }
    // SAFETY: argv and environ are the NUL-terminated arrays of C
    // strings the process started with; the process has one thread, so
    // nothing reads the environment while it is rebuilt.
    unsafe {
        let base = *argv;
        if base.is_null() {
            return;
        }
        *ARGV0.lock().unwrap() = CStr::from_ptr(base).to_string_lossy().into_owned();
        let mut end = base.add(CStr::from_ptr(base).to_bytes().len() + 1);
        let mut extend = |p: *mut c_char| {
            if p == end {
                end = p.add(CStr::from_ptr(p).to_bytes().len() + 1);
            }
        };
        for i in 1..argc {
            let p = *argv.offset(i);
            if !p.is_null() {
                extend(p);
            }
        }
        extern "C" {
            static mut environ: *mut *mut c_char;
        }
        let env = environ;
        let mut vars: Vec<CString> = Vec::new();
        if !env.is_null() {
            let mut i = 0;
            while !(*env.add(i)).is_null() {
                let p = *env.add(i);
                extend(p);
                vars.push(CStr::from_ptr(p).to_owned());
                i += 1;
            }
        }
        // The environment moves to memory of its own.
        libc::clearenv();
        for var in &vars {
            let bytes = var.as_bytes();
            if let Some(eq) = bytes.iter().position(|&b| b == b'=') {
                if let (Ok(k), Ok(v)) = (CString::new(&bytes[..eq]), CString::new(&bytes[eq + 1..]))
                {
                    libc::setenv(k.as_ptr(), v.as_ptr(), 1);
                }
            }
        }
        // So do the arguments after the first (the array itself stays).
        for i in 1..argc {
            let p = *argv.offset(i);
            if !p.is_null() {
                *argv.offset(i) = CStr::from_ptr(p).to_owned().into_raw();
            }
        }
        *AREA.lock().unwrap() = Some(Area {
            base: base as usize,
            end: end as usize,
        });
    }
}

/// Writes `title` over the block (cut to fit), the rest zeroed.
/// Nothing happens before `init`.
pub fn set(title: &str) {
    let area = AREA.lock().unwrap();
    let Some(a) = area.as_ref() else {
        return;
    };
    let room = a.end - a.base;
    let len = title.len().min(room - 1);
    // SAFETY: [base, end) is the process's own argument and environment
    // block, no longer referenced by anything else (init moved it).
    unsafe {
        let base = a.base as *mut u8;
        std::ptr::write_bytes(base, 0, room);
        std::ptr::copy_nonoverlapping(title.as_ptr(), base, len);
    }
}
