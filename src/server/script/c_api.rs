//! Helpers for the libraries written as Lua C functions (bit, cjson,
//! cmsgpack, unpack): raising errors as lua_error does, and C's number
//! conversions as Redis's x86-64 build computes them.

use mlua::ffi;
use std::os::raw::c_int;

/// A Lua C function.
pub type CFn = unsafe extern "C-unwind" fn(*mut ffi::lua_State) -> c_int;

/// A table of C functions, installed as the global `name` (the prelude
/// makes scripts' view of it read-only); returned for further fields.
pub fn install_library(
    lua: &mlua::Lua,
    name: &str,
    funcs: &[(&str, CFn)],
) -> mlua::Result<mlua::Table> {
    let table = lua.create_table()?;
    for &(fname, f) in funcs {
        // SAFETY: the library's functions read their arguments and push
        // results; their errors are raised as this module describes.
        table.set(fname, unsafe { lua.create_c_function(f)? })?;
    }
    lua.globals().set(name, table.clone())?;
    Ok(table)
}

/// Raises `msg` after the calling script's position, as luaL_error does.
/// The message is on the Lua stack before the String drops (a Lua error
/// is a longjmp: nothing with a destructor may be live in this frame).
/// The function's stack is emptied first: the error may be that it is
/// full.
pub unsafe fn raise(l: *mut ffi::lua_State, msg: String) -> c_int {
    ffi::lua_settop(l, 0);
    ffi::luaL_where(l, 1);
    ffi::lua_pushlstring(l, msg.as_ptr().cast(), msg.len());
    drop(msg);
    ffi::lua_concat(l, 2);
    ffi::lua_error(l)
}

/// Raises `msg` as it is (as the Lua core's own errors raised inside a C
/// function: "table index is nil").
pub unsafe fn raise_plain(l: *mut ffi::lua_State, msg: &'static str) -> c_int {
    ffi::lua_settop(l, 0);
    ffi::lua_pushlstring(l, msg.as_ptr().cast(), msg.len());
    ffi::lua_error(l)
}

/// C's `(long long)` of a double as x86-64 computes it: out of range,
/// infinite or NaN gives the minimum.
pub fn c_long_long(n: f64) -> i64 {
    if n.is_nan() || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_long_as_x86() {
        use super::c_long_long;
        assert_eq!(c_long_long(2f64.powi(63)), i64::MIN);
        assert_eq!(c_long_long(-(2f64.powi(63))), i64::MIN);
        assert_eq!(c_long_long(f64::NAN), i64::MIN);
        assert_eq!(c_long_long(f64::INFINITY), i64::MIN);
        assert_eq!(c_long_long(-3.9), -3);
        assert_eq!(c_long_long(2f64.powi(62)), 1 << 62);
    }
}
