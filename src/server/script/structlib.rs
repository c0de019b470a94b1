//! The `struct` library scripts see (Roberto Ierusalimschy's struct, as
//! Redis 7.0 links it): `struct.pack(fmt, ...)`, `struct.unpack(fmt, s,
//! [pos])`, `struct.size(fmt)`, each a C function.
//!
//! ```text
//! struct.pack('>I2', 258)           --> "\1\2"
//! struct.unpack('<h', '\255\255')   --> -1, 3
//! struct.size('!4bi')               --> 8
//! ```
//!
//! Formats: `> < !n` (endianness, alignment), `b B h H l L T i[n] I[n]`
//! (integers, n up to 32 bytes), `f d`, `x` (padding), `c[n]` (chars;
//! `c0` takes its size from the argument or the previous result), `s`
//! (zero-terminated), spaces ignored. Errors are Lua's (luaL_error,
//! luaL_argerror) raised with nothing live that has a destructor.

use super::c_api::CFn;
use mlua::ffi;
use std::os::raw::{c_char, c_int};

const MAX_INT_SIZE: usize = 32;
/// Alignment of a double on x86-64 (the C struct { char; double }).
const MAX_ALIGN: usize = 8;

/// Installs the `struct` table as a global.
pub(super) fn install(lua: &mlua::Lua) -> mlua::Result<()> {
    let funcs: [(&str, CFn); 3] = [("pack", pack), ("unpack", unpack), ("size", size)];
    super::c_api::install_library(lua, "struct", &funcs).map(drop)
}

struct Header {
    little: bool,
    align: usize,
}

impl Header {
    fn new() -> Header {
        Header {
            little: cfg!(target_endian = "little"),
            align: 1,
        }
    }
}

/// luaL_error with a formatted message, from a fixed buffer (nothing to
/// drop when it jumps).
unsafe fn error(l: *mut ffi::lua_State, args: std::fmt::Arguments) -> ! {
    let mut buf = [0u8; 96];
    let mut w: &mut [u8] = &mut buf[..95];
    let _ = std::io::Write::write_fmt(&mut w, args);
    ffi::luaL_error(l, c"%s".as_ptr(), buf.as_ptr() as *const c_char);
    unreachable!("luaL_error does not return")
}

/// The format text (NUL-terminated, as a Lua string is) and a cursor.
struct Fmt {
    p: *const u8,
}

impl Fmt {
    unsafe fn peek(&self) -> u8 {
        *self.p
    }

    unsafe fn next(&mut self) -> u8 {
        let c = *self.p;
        self.p = self.p.add(1);
        c
    }

    /// A size after an option, or `default`.
    unsafe fn number(&mut self, l: *mut ffi::lua_State, default: usize) -> usize {
        if !self.peek().is_ascii_digit() {
            return default;
        }
        let mut a: i64 = 0;
        while self.peek().is_ascii_digit() {
            let d = (self.next() - b'0') as i64;
            if a > i32::MAX as i64 / 10 || a * 10 > i32::MAX as i64 - d {
                error(l, format_args!("integral size overflow"));
            }
            a = a * 10 + d;
        }
        a as usize
    }
}

/// The size of option `opt` (reading its number), 0 for options that
/// take no room or alignment.
unsafe fn opt_size(l: *mut ffi::lua_State, opt: u8, fmt: &mut Fmt) -> usize {
    match opt {
        b'B' | b'b' => 1,
        b'H' | b'h' => 2,
        b'L' | b'l' | b'T' | b'd' => 8,
        b'f' => 4,
        b'x' => 1,
        b'c' => fmt.number(l, 1),
        b'i' | b'I' => {
            let size = fmt.number(l, 4);
            if size > MAX_INT_SIZE {
                error(
                    l,
                    format_args!("integral size {size} is larger than limit of {MAX_INT_SIZE}"),
                );
            }
            size
        }
        _ => 0,
    }
}

fn to_align(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    (size - (len & (size - 1))) & (size - 1)
}

/// The options that set the header (or spaces); anything else is an
/// invalid option.
unsafe fn control(l: *mut ffi::lua_State, opt: u8, fmt: &mut Fmt, h: &mut Header) {
    match opt {
        b' ' => {}
        b'>' => h.little = false,
        b'<' => h.little = true,
        b'!' => {
            let a = fmt.number(l, MAX_ALIGN);
            if !a.is_power_of_two() {
                error(l, format_args!("alignment {a} is not a power of 2"));
            }
            h.align = a;
        }
        _ => {
            let mut buf = [0u8; 32];
            let mut w: &mut [u8] = &mut buf[..31];
            let _ = std::io::Write::write_fmt(
                &mut w,
                format_args!("invalid format option '{}'", opt as char),
            );
            ffi::luaL_argerror(l, 1, buf.as_ptr() as *const c_char);
        }
    }
}

fn put_int(out: &mut Vec<u8>, n: f64, little: bool, size: usize) {
    // C's (unsigned long)(long)n for negatives, (unsigned long)n else.
    let mut value = if n < 0.0 {
        super::c_api::c_long_long(n) as u64
    } else if n >= 18_446_744_073_709_551_616.0 || n.is_nan() {
        0x8000_0000_0000_0000
    } else {
        n as u64
    };
    let mut buf = [0u8; MAX_INT_SIZE];
    for i in 0..size {
        let at = if little { i } else { size - 1 - i };
        buf[at] = value as u8;
        value = value.checked_shr(8).unwrap_or(0);
    }
    out.extend_from_slice(&buf[..size]);
}

unsafe extern "C-unwind" fn pack(l: *mut ffi::lua_State) -> c_int {
    // As lua_struct's mark after the arguments (pushed once the format
    // is checked): one missing argument reads as nil.
    ffi::luaL_checklstring(l, 1, std::ptr::null_mut());
    ffi::lua_pushnil(l);
    // A first pass checks every argument (its errors may jump); the
    // second, which cannot fail, builds the string.
    pack_pass(l, None);
    let mut out = Vec::new();
    pack_pass(l, Some(&mut out));
    ffi::lua_pushlstring(l, out.as_ptr().cast(), out.len());
    1
}

unsafe fn pack_pass(l: *mut ffi::lua_State, mut out: Option<&mut Vec<u8>>) {
    let mut fmt = Fmt {
        p: ffi::luaL_checklstring(l, 1, std::ptr::null_mut()) as *const u8,
    };
    let mut h = Header::new();
    let mut arg: c_int = 2;
    let mut total = 0usize;
    while fmt.peek() != 0 {
        let opt = fmt.next();
        let mut size = opt_size(l, opt, &mut fmt);
        let pad = to_align(total, &h, opt, size);
        total += pad;
        if let Some(o) = out.as_deref_mut() {
            o.extend(std::iter::repeat_n(0u8, pad));
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = ffi::luaL_checknumber(l, arg);
                arg += 1;
                if let Some(o) = out.as_deref_mut() {
                    put_int(o, n, h.little, size);
                }
            }
            b'x' => {
                if let Some(o) = out.as_deref_mut() {
                    o.push(0);
                }
            }
            b'f' | b'd' => {
                let n = ffi::luaL_checknumber(l, arg);
                arg += 1;
                if let Some(o) = out.as_deref_mut() {
                    match (opt, h.little) {
                        (b'f', true) => o.extend_from_slice(&(n as f32).to_le_bytes()),
                        (b'f', false) => o.extend_from_slice(&(n as f32).to_be_bytes()),
                        (_, true) => o.extend_from_slice(&n.to_le_bytes()),
                        (_, false) => o.extend_from_slice(&n.to_be_bytes()),
                    }
                }
            }
            b'c' | b's' => {
                let mut len = 0usize;
                let s = ffi::luaL_checklstring(l, arg, &mut len) as *const u8;
                arg += 1;
                if size == 0 {
                    size = len;
                }
                if len < size {
                    ffi::luaL_argerror(l, arg, c"string too short".as_ptr());
                }
                if let Some(o) = out.as_deref_mut() {
                    o.extend_from_slice(std::slice::from_raw_parts(s, size));
                    if opt == b's' {
                        o.push(0);
                    }
                }
                if opt == b's' {
                    size += 1;
                }
            }
            _ => control(l, opt, &mut fmt, &mut h),
        }
        total += size;
    }
}

fn get_int(b: &[u8], little: bool, signed: bool) -> f64 {
    let size = b.len();
    let mut v: u64 = 0;
    for i in 0..size {
        let byte = if little { b[size - 1 - i] } else { b[i] };
        v = v.checked_shl(8).unwrap_or(0) | byte as u64;
    }
    if !signed {
        return v as f64;
    }
    // Sign extension from the size's top bit (64 bits and more: none).
    let mask = u64::MAX.checked_shl((size * 8 - 1) as u32).unwrap_or(0);
    if v & mask != 0 {
        v |= mask;
    }
    v as i64 as f64
}

/// A float (4 bytes) or double (8) in the given byte order.
fn get_float(b: &[u8], little: bool) -> f64 {
    let mut be = [0u8; 8];
    let be = &mut be[..b.len()];
    be.copy_from_slice(b);
    if little {
        be.reverse();
    }
    match be.len() {
        4 => f32::from_be_bytes(be.try_into().expect("4 bytes")) as f64,
        _ => f64::from_be_bytes(be.try_into().expect("8 bytes")),
    }
}

unsafe extern "C-unwind" fn unpack(l: *mut ffi::lua_State) -> c_int {
    let mut fmt = Fmt {
        p: ffi::luaL_checklstring(l, 1, std::ptr::null_mut()) as *const u8,
    };
    let mut ld = 0usize;
    let data = ffi::luaL_checklstring(l, 2, &mut ld) as *const u8;
    let pos = ffi::luaL_optinteger(l, 3, 1) as usize;
    if pos == 0 {
        ffi::luaL_argerror(l, 3, c"offset must be 1 or greater".as_ptr());
    }
    let mut pos = pos - 1;
    let mut n: c_int = 0;
    let mut h = Header::new();
    while fmt.peek() != 0 {
        let opt = fmt.next();
        let mut size = opt_size(l, opt, &mut fmt);
        pos = pos.wrapping_add(to_align(pos, &h, opt, size));
        if size > ld || pos > ld - size {
            ffi::luaL_argerror(l, 2, c"data string too short".as_ptr());
        }
        ffi::luaL_checkstack(l, 2, c"too many results".as_ptr());
        let at = data.add(pos);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let b = std::slice::from_raw_parts(at, size);
                ffi::lua_pushnumber(l, get_int(b, h.little, opt.is_ascii_lowercase()));
                n += 1;
            }
            b'x' => {}
            b'f' | b'd' => {
                let b = std::slice::from_raw_parts(at, size);
                ffi::lua_pushnumber(l, get_float(b, h.little));
                n += 1;
            }
            b'c' => {
                if size == 0 {
                    if n == 0 || ffi::lua_isnumber(l, -1) == 0 {
                        error(l, format_args!("format 'c0' needs a previous size"));
                    }
                    size = ffi::lua_tonumber(l, -1) as usize;
                    ffi::lua_settop(l, -2);
                    n -= 1;
                    if size > ld || pos > ld - size {
                        ffi::luaL_argerror(l, 2, c"data string too short".as_ptr());
                    }
                }
                ffi::lua_pushlstring(l, at.cast(), size);
                n += 1;
            }
            b's' => {
                let rest = std::slice::from_raw_parts(at, ld - pos);
                let Some(end) = rest.iter().position(|&b| b == 0) else {
                    error(l, format_args!("unfinished string in data"));
                };
                size = end + 1;
                ffi::lua_pushlstring(l, at.cast(), end);
                n += 1;
            }
            _ => control(l, opt, &mut fmt, &mut h),
        }
        pos += size;
    }
    ffi::lua_pushinteger(l, (pos + 1) as ffi::lua_Integer);
    n + 1
}

unsafe extern "C-unwind" fn size(l: *mut ffi::lua_State) -> c_int {
    let mut fmt = Fmt {
        p: ffi::luaL_checklstring(l, 1, std::ptr::null_mut()) as *const u8,
    };
    let mut h = Header::new();
    let mut pos = 0usize;
    while fmt.peek() != 0 {
        let opt = fmt.next();
        let size = opt_size(l, opt, &mut fmt);
        pos += to_align(pos, &h, opt, size);
        if opt == b's' {
            ffi::luaL_argerror(l, 1, c"option 's' has no fixed size".as_ptr());
        } else if opt == b'c' && size == 0 {
            ffi::luaL_argerror(l, 1, c"option 'c0' has no fixed size".as_ptr());
        }
        if !opt.is_ascii_alphanumeric() {
            control(l, opt, &mut fmt, &mut h);
        }
        pos += size;
    }
    ffi::lua_pushinteger(l, pos as ffi::lua_Integer);
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip_in_both_orders() {
        let mut out = Vec::new();
        put_int(&mut out, 258.0, false, 2);
        put_int(&mut out, -1.0, true, 4);
        assert_eq!(out, [1, 2, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(get_int(&out[..2], false, false), 258.0);
        assert_eq!(get_int(&out[2..], true, true), -1.0);
        assert_eq!(get_int(&out[2..], true, false), 4_294_967_295.0);
    }
}
