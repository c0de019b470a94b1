//! `cjson.encode`: a Lua value as JSON text, as lua-cjson writes it
//! (`/` escaped, numbers as `%.14g`, a table with only keys 1..n an
//! array unless excessively sparse, `{}` for an empty table).

use super::{config, raise, Config};
use mlua::ffi;
use std::os::raw::c_int;

pub(super) unsafe extern "C-unwind" fn encode(l: *mut ffi::lua_State) -> c_int {
    if ffi::lua_gettop(l) != 1 {
        ffi::luaL_argerror(l, 1, c"expected 1 argument".as_ptr());
    }
    let cfg = *config(l);
    let failed = {
        let mut out = Vec::new();
        match value(l, &cfg, &mut out) {
            Ok(()) => {
                ffi::lua_pushlstring(l, out.as_ptr().cast(), out.len());
                None
            }
            Err(msg) => Some(msg),
        }
    };
    match failed {
        None => 1,
        Some(msg) => raise(l, msg),
    }
}

unsafe fn type_name(l: *mut ffi::lua_State, idx: c_int) -> String {
    let name = ffi::lua_typename(l, ffi::lua_type(l, idx));
    std::ffi::CStr::from_ptr(name)
        .to_string_lossy()
        .into_owned()
}

unsafe fn exception(l: *mut ffi::lua_State, idx: c_int, reason: &str) -> String {
    format!("Cannot serialise {}: {reason}", type_name(l, idx))
}

/// A table being written.
enum Open {
    /// Element `i` of `len` was the last started.
    Array { i: i64, len: i64 },
    /// Its keys are walked with lua_next (the last key is on the stack).
    Object { first: bool },
}

/// Appends the value on top of the stack (left there). Iterative: nesting
/// is bounded by `encode_max_depth` and Lua's stack, not by this thread's
/// stack; the Lua stack holds what lua-cjson's recursion holds, so the
/// same table fails at the same depth.
unsafe fn value(l: *mut ffi::lua_State, cfg: &Config, out: &mut Vec<u8>) -> Result<(), String> {
    let mut open: Vec<Open> = Vec::new();
    let mut start = true;
    loop {
        if start {
            if let Some(table) = start_value(l, cfg, open.len() as i64 + 1, out)? {
                open.push(table);
            } else if open.is_empty() {
                return Ok(());
            } else {
                // A whole value inside a table: the table takes it.
                ffi::lua_settop(l, -2);
            }
        }
        // Advance the innermost table: its next value, or its end.
        let Some(table) = open.last_mut() else {
            return Ok(());
        };
        start = match table {
            Open::Array { i, len } => {
                *i += 1;
                if *i <= *len {
                    if *i > 1 {
                        out.push(b',');
                    }
                    ffi::lua_rawgeti(l, -1, *i as ffi::lua_Integer);
                    true
                } else {
                    out.push(b']');
                    false
                }
            }
            Open::Object { first } => {
                if ffi::lua_next(l, -2) != 0 {
                    if !*first {
                        out.push(b',');
                    }
                    *first = false;
                    match ffi::lua_type(l, -2) {
                        ffi::LUA_TNUMBER => {
                            out.push(b'"');
                            number(l, cfg, -2, out)?;
                            out.extend_from_slice(b"\":");
                        }
                        ffi::LUA_TSTRING => {
                            string(l, -2, out);
                            out.push(b':');
                        }
                        _ => return Err(exception(l, -2, "table key must be a number or string")),
                    }
                    true
                } else {
                    out.push(b'}');
                    false
                }
            }
        };
        if !start {
            // The table is whole: its parent takes it.
            open.pop();
            if open.is_empty() {
                return Ok(());
            }
            ffi::lua_settop(l, -2);
        }
    }
}

/// Writes a scalar on top of the stack (None), or opens the table there
/// at nesting `depth`.
unsafe fn start_value(
    l: *mut ffi::lua_State,
    cfg: &Config,
    depth: i64,
    out: &mut Vec<u8>,
) -> Result<Option<Open>, String> {
    match ffi::lua_type(l, -1) {
        ffi::LUA_TSTRING => string(l, -1, out),
        ffi::LUA_TNUMBER => number(l, cfg, -1, out)?,
        ffi::LUA_TBOOLEAN => {
            let b = ffi::lua_toboolean(l, -1) != 0;
            out.extend_from_slice(if b { b"true" } else { b"false" });
        }
        ffi::LUA_TTABLE => {
            if depth > cfg.encode_max_depth || ffi::lua_checkstack(l, 3) == 0 {
                return Err(format!("Cannot serialise, excessive nesting ({depth})"));
            }
            return Ok(Some(match array_length(l, cfg)? {
                Some(len) if len > 0 => {
                    out.push(b'[');
                    Open::Array { i: 0, len }
                }
                _ => {
                    out.push(b'{');
                    ffi::lua_pushnil(l);
                    Open::Object { first: true }
                }
            }));
        }
        ffi::LUA_TNIL => out.extend_from_slice(b"null"),
        ffi::LUA_TLIGHTUSERDATA if ffi::lua_touserdata(l, -1).is_null() => {
            out.extend_from_slice(b"null")
        }
        _ => return Err(exception(l, -1, "type not supported")),
    }
    Ok(None)
}

/// The array length of the table on top, or None when it is an object
/// (a key other than an integer >= 1, or too sparse with conversion on).
unsafe fn array_length(l: *mut ffi::lua_State, cfg: &Config) -> Result<Option<i64>, String> {
    let (mut max, mut items) = (0f64, 0i64);
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        let k = ffi::lua_tonumber(l, -2);
        if ffi::lua_type(l, -2) == ffi::LUA_TNUMBER && k != 0.0 && k.floor() == k && k >= 1.0 {
            max = max.max(k);
            items += 1;
            ffi::lua_settop(l, -2);
            continue;
        }
        ffi::lua_settop(l, -3);
        return Ok(None);
    }
    let ratio = cfg.sparse_ratio as f64;
    if cfg.sparse_ratio > 0 && max > items as f64 * ratio && max > cfg.sparse_safe as f64 {
        if !cfg.sparse_convert {
            return Err(exception(l, -1, "excessively sparse array"));
        }
        return Ok(None);
    }
    Ok(Some(max as i64))
}

unsafe fn number(
    l: *mut ffi::lua_State,
    cfg: &Config,
    idx: c_int,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let n = ffi::lua_tonumber(l, idx);
    match cfg.encode_invalid_numbers {
        0 if !n.is_finite() => return Err(exception(l, idx, "must not be NaN or Inf")),
        1 if n.is_nan() => {
            out.extend_from_slice(b"nan");
            return Ok(());
        }
        2 if !n.is_finite() => {
            out.extend_from_slice(b"null");
            return Ok(());
        }
        _ => {}
    }
    let text = crate::resp::fmt_g(n, cfg.number_precision as usize);
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

/// The string at `idx`, quoted and escaped (never converting a number
/// key in place: only called for strings).
unsafe fn string(l: *mut ffi::lua_State, idx: c_int, out: &mut Vec<u8>) {
    let mut len = 0usize;
    let p = ffi::lua_tolstring(l, idx, &mut len);
    let bytes = std::slice::from_raw_parts(p as *const u8, len);
    escape(bytes, out);
}

/// lua-cjson's char2escape: controls as `\uXXXX` (but `\b \t \n \f \r`),
/// `"`, `\`, `/` and DEL escaped; every other byte as it is.
pub fn escape(bytes: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    for &b in bytes {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            8 => out.extend_from_slice(b"\\b"),
            9 => out.extend_from_slice(b"\\t"),
            10 => out.extend_from_slice(b"\\n"),
            12 => out.extend_from_slice(b"\\f"),
            13 => out.extend_from_slice(b"\\r"),
            0..=31 | 127 => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 15) as usize]);
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_as_lua_cjson() {
        let mut out = Vec::new();
        super::escape(b"a/\"\\\x01\x0b\x7f\n\xc3\xa9", &mut out);
        assert_eq!(out, b"\"a\\/\\\"\\\\\\u0001\\u000b\\u007f\\n\xc3\xa9\"");
    }
}
