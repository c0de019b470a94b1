//! The `bit` library scripts see (LuaBitOp 1.0.2, which Redis 7.0 links
//! into its Lua): 32-bit operations on Lua's doubles. Each function is a
//! C function, so a bad argument raises Lua's own `bad argument #n to
//! 'name' (number expected, got ...)`, named as the script called it.
//!
//! ```text
//! bit.band(1, 3) --> 1      bit.tohex(255, -4) --> "00FF"
//! bit.tobit(2^32 + 5) --> 5 bit.rol(0x12345678, 12) --> 1164411171
//! ```

use super::c_api::CFn;
use mlua::ffi;
use std::os::raw::c_int;

/// Installs the `bit` table as a global.
pub(super) fn install(lua: &mlua::Lua) -> mlua::Result<()> {
    let funcs: [(&str, CFn); 12] = [
        ("tobit", bit_tobit),
        ("bnot", bit_bnot),
        ("band", bit_band),
        ("bor", bit_bor),
        ("bxor", bit_bxor),
        ("lshift", bit_lshift),
        ("rshift", bit_rshift),
        ("arshift", bit_arshift),
        ("rol", bit_rol),
        ("ror", bit_ror),
        ("bswap", bit_bswap),
        ("tohex", bit_tohex),
    ];
    super::c_api::install_library(lua, "bit", &funcs).map(drop)
}

/// A double's low 32 bits after rounding (half to even): LuaBitOp adds
/// 2^52 + 2^51 so the integer lands in the mantissa's low word.
pub fn to_bits(n: f64) -> u32 {
    (n + 6_755_399_441_055_744.0).to_bits() as u32
}

/// Argument `idx` as 32 bits; anything but a number (or a numeric
/// string) raises Lua's type error.
unsafe fn arg(l: *mut ffi::lua_State, idx: c_int) -> u32 {
    let b = to_bits(ffi::lua_tonumber(l, idx));
    if b == 0 && ffi::lua_isnumber(l, idx) == 0 {
        ffi::luaL_typerror(l, idx, c"number".as_ptr());
    }
    b
}

unsafe fn ret(l: *mut ffi::lua_State, b: u32) -> c_int {
    ffi::lua_pushnumber(l, b as i32 as f64);
    1
}

unsafe extern "C-unwind" fn bit_tobit(l: *mut ffi::lua_State) -> c_int {
    ret(l, arg(l, 1))
}

unsafe extern "C-unwind" fn bit_bnot(l: *mut ffi::lua_State) -> c_int {
    ret(l, !arg(l, 1))
}

unsafe fn fold(l: *mut ffi::lua_State, op: fn(u32, u32) -> u32) -> c_int {
    let mut b = arg(l, 1);
    let mut i = ffi::lua_gettop(l);
    while i > 1 {
        b = op(b, arg(l, i));
        i -= 1;
    }
    ret(l, b)
}

unsafe extern "C-unwind" fn bit_band(l: *mut ffi::lua_State) -> c_int {
    fold(l, |a, b| a & b)
}

unsafe extern "C-unwind" fn bit_bor(l: *mut ffi::lua_State) -> c_int {
    fold(l, |a, b| a | b)
}

unsafe extern "C-unwind" fn bit_bxor(l: *mut ffi::lua_State) -> c_int {
    fold(l, |a, b| a ^ b)
}

/// A shift or rotation by the second argument's low 5 bits.
unsafe fn shift(l: *mut ffi::lua_State, op: fn(u32, u32) -> u32) -> c_int {
    let b = arg(l, 1);
    let n = arg(l, 2) & 31;
    ret(l, op(b, n))
}

unsafe extern "C-unwind" fn bit_lshift(l: *mut ffi::lua_State) -> c_int {
    shift(l, |b, n| b << n)
}

unsafe extern "C-unwind" fn bit_rshift(l: *mut ffi::lua_State) -> c_int {
    shift(l, |b, n| b >> n)
}

unsafe extern "C-unwind" fn bit_arshift(l: *mut ffi::lua_State) -> c_int {
    shift(l, |b, n| ((b as i32) >> n) as u32)
}

unsafe extern "C-unwind" fn bit_rol(l: *mut ffi::lua_State) -> c_int {
    shift(l, u32::rotate_left)
}

unsafe extern "C-unwind" fn bit_ror(l: *mut ffi::lua_State) -> c_int {
    shift(l, u32::rotate_right)
}

unsafe extern "C-unwind" fn bit_bswap(l: *mut ffi::lua_State) -> c_int {
    ret(l, arg(l, 1).swap_bytes())
}

unsafe extern "C-unwind" fn bit_tohex(l: *mut ffi::lua_State) -> c_int {
    let b = arg(l, 1);
    let n = if ffi::lua_isnone(l, 2) != 0 {
        8
    } else {
        arg(l, 2) as i32
    };
    let text = hex(b, n);
    ffi::lua_pushlstring(l, text.as_ptr().cast(), text.len());
    1
}

/// `bit.tohex`'s text: the low `n` hex digits, upper case when `n` is
/// negative, at most 8 (-2^31 counts as 2^31 - 1, the CVE-2024-31449
/// fix Debian's 7.0.15 carries).
pub fn hex(mut b: u32, n: i32) -> Vec<u8> {
    let digits: &[u8; 16] = if n < 0 {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let n = n.saturating_abs().min(8) as usize;
    let mut buf = vec![0u8; n];
    for slot in buf.iter_mut().rev() {
        *slot = digits[(b & 15) as usize];
        b >>= 4;
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_become_32_bits_as_luabitop_makes_them() {
        assert_eq!(to_bits(1.5) as i32, 2);
        assert_eq!(to_bits(2.5) as i32, 2);
        assert_eq!(to_bits(-1.0) as i32, -1);
        assert_eq!(to_bits(4_294_967_301.0), 5);
    }

    #[test]
    fn tohex_widths_and_case() {
        assert_eq!(hex(u32::MAX, 8), b"ffffffff");
        assert_eq!(hex(255, -4), b"00FF");
        assert_eq!(hex(1, 20), b"00000001");
        assert_eq!(hex(65535, i32::MIN), b"0000FFFF");
        assert_eq!(hex(7, 0), b"");
    }
}
