//! The `cjson` library scripts see (lua-cjson 2.1.0, as Redis 7.0 links
//! it): `cjson.encode`, `cjson.decode`, `cjson.null` and the settings
//! functions, each a C function whose settings live in a userdata
//! upvalue, as lua-cjson keeps them (per module table: `cjson.new()`
//! makes another).
//!
//! ```text
//! cjson.encode({1, "a/b", {x = true}}) --> [1,"a\/b",{"x":true}]
//! cjson.decode('{"k": [0.5, null]}')   --> {k = {0.5, cjson.null}}
//! ```
//!
//! Errors are Lua errors with lua-cjson's texts; they are raised from the
//! top-level C function only, once every Rust value is dropped (a Lua
//! error is a longjmp).

mod decode;
mod encode;

use super::c_api::{raise, CFn};

use mlua::ffi;
use std::os::raw::{c_char, c_int};

/// One module table's settings (lua-cjson's json_config_t).
#[derive(Clone, Copy)]
pub struct Config {
    pub sparse_convert: bool,
    pub sparse_ratio: i64,
    pub sparse_safe: i64,
    pub encode_max_depth: i64,
    pub decode_max_depth: i64,
    /// 0: refuse NaN and Inf; 1: encode them; 2: encode them as null.
    pub encode_invalid_numbers: i64,
    pub number_precision: i64,
    pub keep_buffer: bool,
    pub decode_invalid_numbers: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            number_precision: 14,
            keep_buffer: true,
            decode_invalid_numbers: true,
        }
    }
}

/// Installs the `cjson` table as a global (the prelude makes scripts'
/// view of it read-only).
pub(super) fn install(lua: &mlua::Lua) -> mlua::Result<()> {
    // SAFETY: `new_module` only builds a table on the Lua stack.
    let open = unsafe { lua.create_c_function(new_module)? };
    let table: mlua::Table = open.call(())?;
    lua.globals().set("cjson", table)
}

/// `cjson.new()`: a module table with settings of its own.
unsafe extern "C-unwind" fn new_module(l: *mut ffi::lua_State) -> c_int {
    let funcs: [(&std::ffi::CStr, CFn); 9] = [
        (c"encode", encode::encode),
        (c"decode", decode::decode),
        (c"encode_sparse_array", encode_sparse_array),
        (c"encode_max_depth", encode_max_depth),
        (c"decode_max_depth", decode_max_depth),
        (c"encode_number_precision", encode_number_precision),
        (c"encode_keep_buffer", encode_keep_buffer),
        (c"encode_invalid_numbers", encode_invalid_numbers),
        (c"decode_invalid_numbers", decode_invalid_numbers),
    ];
    ffi::lua_newtable(l);
    let cfg = ffi::lua_newuserdata(l, std::mem::size_of::<Config>()) as *mut Config;
    cfg.write(Config::default());
    for (name, f) in funcs {
        ffi::lua_pushvalue(l, -1);
        ffi::lua_pushcclosure(l, f, 1);
        ffi::lua_setfield(l, -3, name.as_ptr());
    }
    ffi::lua_settop(l, -2);
    ffi::lua_pushcclosure(l, new_module, 0);
    ffi::lua_setfield(l, -2, c"new".as_ptr());
    ffi::lua_pushlightuserdata(l, std::ptr::null_mut());
    ffi::lua_setfield(l, -2, c"null".as_ptr());
    ffi::lua_pushstring(l, c"cjson".as_ptr());
    ffi::lua_setfield(l, -2, c"_NAME".as_ptr());
    ffi::lua_pushstring(l, c"2.1.0".as_ptr());
    ffi::lua_setfield(l, -2, c"_VERSION".as_ptr());
    1
}

/// The calling closure's settings.
unsafe fn config(l: *mut ffi::lua_State) -> *mut Config {
    ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)) as *mut Config
}

/// lua-cjson's json_arg_init: at most `args` arguments, padded with nil.
unsafe fn arg_init(l: *mut ffi::lua_State, args: c_int) -> *mut Config {
    if ffi::lua_gettop(l) > args {
        ffi::luaL_argerror(l, args + 1, c"found too many arguments".as_ptr());
    }
    while ffi::lua_gettop(l) < args {
        ffi::lua_pushnil(l);
    }
    config(l)
}

/// An integer setting: set from argument `idx` when given (within
/// `min..=max`), then pushed.
unsafe fn integer_option(
    l: *mut ffi::lua_State,
    idx: c_int,
    setting: &mut i64,
    min: i64,
    max: i64,
) {
    if ffi::lua_isnil(l, idx) == 0 {
        let value = ffi::luaL_checkinteger(l, idx) as i64;
        if value < min || value > max {
            // A fixed buffer: nothing to drop if the error jumps.
            let mut buf = [0u8; 64];
            let mut w: &mut [u8] = &mut buf[..63];
            let _ = std::io::Write::write_fmt(
                &mut w,
                format_args!("expected integer between {min} and {max}"),
            );
            ffi::luaL_argerror(l, 1, buf.as_ptr() as *const c_char);
        }
        *setting = value;
    }
    ffi::lua_pushinteger(l, *setting as ffi::lua_Integer);
}

/// An enumerated setting (`options`, or off/on): a boolean argument sets
/// 0 or 1; pushed back as a boolean when 0 or 1, else as its name.
unsafe fn enum_option(
    l: *mut ffi::lua_State,
    idx: c_int,
    setting: &mut i64,
    options: &[*const c_char],
) {
    if ffi::lua_isnil(l, idx) == 0 {
        *setting = if ffi::lua_isboolean(l, idx) != 0 {
            ffi::lua_toboolean(l, idx) as i64
        } else {
            ffi::luaL_checkoption(l, idx, std::ptr::null(), options.as_ptr()) as i64
        };
    }
    if *setting <= 1 {
        ffi::lua_pushboolean(l, *setting as c_int);
    } else {
        ffi::lua_pushstring(l, options[*setting as usize]);
    }
}

/// A boolean setting through `enum_option`.
unsafe fn bool_option(l: *mut ffi::lua_State, idx: c_int, setting: &mut bool) {
    let options = [c"off".as_ptr(), c"on".as_ptr(), std::ptr::null()];
    let mut v = *setting as i64;
    enum_option(l, idx, &mut v, &options);
    *setting = v != 0;
}

unsafe extern "C-unwind" fn encode_sparse_array(l: *mut ffi::lua_State) -> c_int {
    let cfg = &mut *arg_init(l, 3);
    bool_option(l, 1, &mut cfg.sparse_convert);
    integer_option(l, 2, &mut cfg.sparse_ratio, 0, i32::MAX as i64);
    integer_option(l, 3, &mut cfg.sparse_safe, 0, i32::MAX as i64);
    3
}

unsafe extern "C-unwind" fn encode_max_depth(l: *mut ffi::lua_State) -> c_int {
    let cfg = &mut *arg_init(l, 1);
    integer_option(l, 1, &mut cfg.encode_max_depth, 1, i32::MAX as i64);
    1
}

unsafe extern "C-unwind" fn decode_max_depth(l: *mut ffi::lua_State) -> c_int {
    let cfg = &mut *arg_init(l, 1);
    integer_option(l, 1, &mut cfg.decode_max_depth, 1, i32::MAX as i64);
    1
}

unsafe extern "C-unwind" fn encode_number_precision(l: *mut ffi::lua_State) -> c_int {
    let cfg = &mut *arg_init(l, 1);
    integer_option(l, 1, &mut cfg.number_precision, 1, 14);
    1
}

unsafe extern "C-unwind" fn encode_keep_buffer(l: *mut ffi::lua_State) -> c_int {
    let cfg = &mut *arg_init(l, 1);
    bool_option(l, 1, &mut cfg.keep_buffer);
    1
}

unsafe extern "C-unwind" fn encode_invalid_numbers(l: *mut ffi::lua_State) -> c_int {
    let cfg = &mut *arg_init(l, 1);
    let options = [
        c"off".as_ptr(),
        c"on".as_ptr(),
        c"null".as_ptr(),
        std::ptr::null(),
    ];
    enum_option(l, 1, &mut cfg.encode_invalid_numbers, &options);
    1
}

unsafe extern "C-unwind" fn decode_invalid_numbers(l: *mut ffi::lua_State) -> c_int {
    let cfg = &mut *arg_init(l, 1);
    bool_option(l, 1, &mut cfg.decode_invalid_numbers);
    1
}
