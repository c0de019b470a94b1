//! The C library's text for an OS error, as Redis prints
//! `strerror(errno)` (Rust's Display adds " (os error N)").

pub fn strerror(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        // SAFETY: strerror returns a valid NUL-terminated string that
        // stays valid until the next call on this thread; it is copied now.
        Some(n) => unsafe { std::ffi::CStr::from_ptr(libc::strerror(n)) }
            .to_string_lossy()
            .into_owned(),
        None => e.to_string(),
    }
}
