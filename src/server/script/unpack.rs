//! `unpack` as Redis 7.0's Lua has it (luaB_unpack): a C function, so a
//! call counts only its own arguments against Lua's 8000 stack slots
//! (`unpack(t)` of 7999 elements fits), and a range whose size
//! overflows is refused, not walked.

use mlua::ffi;
use std::os::raw::c_int;

/// Replaces the global `unpack` (the prelude hands it to scripts).
pub(super) fn install(lua: &mlua::Lua) -> mlua::Result<()> {
    // SAFETY: `unpack` reads its arguments and pushes table elements.
    let f = unsafe { lua.create_c_function(unpack)? };
    lua.globals().set("unpack", f)
}

unsafe extern "C-unwind" fn unpack(l: *mut ffi::lua_State) -> c_int {
    ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
    // luaL_optint / luaL_checkint: the integer cut to C's int.
    let i = ffi::luaL_optinteger(l, 2, 1) as i32;
    let e = if ffi::lua_isnoneornil(l, 3) != 0 {
        ffi::lua_objlen(l, 1) as i32
    } else {
        ffi::luaL_checkinteger(l, 3) as i32
    };
    if i > e {
        return 0;
    }
    let n = e as i64 - i as i64 + 1;
    if n > c_int::MAX as i64 || ffi::lua_checkstack(l, n as c_int) == 0 {
        return ffi::luaL_error(l, c"too many results to unpack".as_ptr());
    }
    for k in i..=e {
        ffi::lua_rawgeti(l, 1, k as ffi::lua_Integer);
    }
    n as c_int
}
