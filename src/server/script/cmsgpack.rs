//! The `cmsgpack` library scripts see (lua-cmsgpack 0.4.0, as Redis 7.0
//! links it): `pack(...)`, `unpack(s)`, `unpack_one(s, [offset])`,
//! `unpack_limit(s, limit, [offset])`, each a C function.
//!
//! ```text
//! cmsgpack.pack(0.1)              --> cb 3f b9 99 99 99 99 99 9a
//! cmsgpack.pack({1, 2}, "x")      --> 92 01 02 a1 78
//! cmsgpack.unpack_one(s, 0)       --> next offset (-1 at the end), value
//! ```
//!
//! Tables nest at most 16 deep when packed (deeper ones, and circular
//! references, pack as nil); a table with keys 1..n packs as an array,
//! any other as a map. Errors are raised from the top-level functions
//! once every Rust value is dropped (a Lua error is a longjmp).

use super::c_api::{c_long_long, raise, raise_plain, CFn};
use mlua::ffi;
use std::os::raw::c_int;

const MAX_NESTING: i32 = 16;

/// Installs the `cmsgpack` table as a global.
pub(super) fn install(lua: &mlua::Lua) -> mlua::Result<()> {
    let funcs: [(&str, CFn); 4] = [
        ("pack", pack),
        ("unpack", unpack),
        ("unpack_one", unpack_one),
        ("unpack_limit", unpack_limit),
    ];
    let table = super::c_api::install_library(lua, "cmsgpack", &funcs)?;
    table.set("_NAME", "cmsgpack")?;
    table.set("_VERSION", "lua-cmsgpack 0.4.0")?;
    table.set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    table.set("_DESCRIPTION", "MessagePack C implementation for Lua")
}

// ---- packing ----

unsafe extern "C-unwind" fn pack(l: *mut ffi::lua_State) -> c_int {
    let nargs = ffi::lua_gettop(l);
    if nargs == 0 {
        return ffi::luaL_argerror(l, 0, c"MessagePack pack needs input.".as_ptr());
    }
    if ffi::lua_checkstack(l, nargs) == 0 {
        return ffi::luaL_argerror(l, 0, c"Too many arguments for MessagePack pack.".as_ptr());
    }
    let failed = {
        let mut out = Vec::new();
        let packed = (1..=nargs).try_for_each(|i| {
            ffi::lua_pushvalue(l, i);
            encode(l, &mut out, 0)
        });
        if packed.is_ok() {
            ffi::lua_pushlstring(l, out.as_ptr().cast(), out.len());
        }
        packed.err()
    };
    match failed {
        None => 1,
        Some(msg) => raise(l, msg.into()),
    }
}

/// Room for `n` more values on the Lua stack, or luaL_checkstack's error.
unsafe fn room(l: *mut ffi::lua_State, n: c_int, what: &'static str) -> Result<(), &'static str> {
    if ffi::lua_checkstack(l, n) == 0 {
        return Err(what);
    }
    Ok(())
}

/// Encodes and pops the value on top of the stack.
unsafe fn encode(
    l: *mut ffi::lua_State,
    out: &mut Vec<u8>,
    level: i32,
) -> Result<(), &'static str> {
    let mut t = ffi::lua_type(l, -1);
    if t == ffi::LUA_TTABLE && level == MAX_NESTING {
        t = ffi::LUA_TNIL;
    }
    match t {
        ffi::LUA_TSTRING => {
            let mut len = 0usize;
            let p = ffi::lua_tolstring(l, -1, &mut len);
            bytes(out, std::slice::from_raw_parts(p as *const u8, len));
        }
        ffi::LUA_TBOOLEAN => out.push(if ffi::lua_toboolean(l, -1) != 0 {
            0xc3
        } else {
            0xc2
        }),
        ffi::LUA_TNUMBER => {
            let n = ffi::lua_tonumber(l, -1);
            if !n.is_infinite() && c_long_long(n) as f64 == n {
                int(out, c_long_long(n));
            } else {
                double(out, n);
            }
        }
        ffi::LUA_TTABLE => {
            if is_array(l)? {
                array(l, out, level)?;
            } else {
                map(l, out, level)?;
            }
        }
        _ => out.push(0xc0),
    }
    ffi::lua_settop(l, -2);
    Ok(())
}

/// Keys 1..n and nothing else (an empty table included).
unsafe fn is_array(l: *mut ffi::lua_State) -> Result<bool, &'static str> {
    room(l, 2, "stack overflow (in function table_is_an_array)")?;
    let top = ffi::lua_gettop(l);
    let (mut count, mut max) = (0i64, 0i64);
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        ffi::lua_settop(l, -2);
        let n = ffi::lua_tonumber(l, -1);
        // C's `(int)n == n`, x86-64: out of int range is INT_MIN.
        let as_int = if n.is_nan() || !(-2_147_483_648.0..2_147_483_648.0).contains(&n) {
            i32::MIN
        } else {
            n as i32
        };
        if ffi::lua_type(l, -1) != ffi::LUA_TNUMBER || n <= 0.0 || as_int as f64 != n {
            ffi::lua_settop(l, top);
            return Ok(false);
        }
        max = max.max(n as i64);
        count += 1;
    }
    ffi::lua_settop(l, top);
    Ok(max == count)
}

unsafe fn array(l: *mut ffi::lua_State, out: &mut Vec<u8>, level: i32) -> Result<(), &'static str> {
    room(
        l,
        1,
        "stack overflow (in function mp_encode_lua_table_as_array)",
    )?;
    let len = ffi::lua_objlen(l, -1);
    header(out, len as u64, 0x90, 0xdc);
    // Raw reads (lua-cmsgpack's lua_gettable would run an __index
    // metamethod, whose error could not unwind through this frame).
    for j in 1..=len {
        ffi::lua_rawgeti(l, -1, j as ffi::lua_Integer);
        encode(l, out, level + 1)?;
    }
    Ok(())
}

unsafe fn map(l: *mut ffi::lua_State, out: &mut Vec<u8>, level: i32) -> Result<(), &'static str> {
    room(
        l,
        3,
        "stack overflow (in function mp_encode_lua_table_as_map)",
    )?;
    let mut len = 0u64;
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        ffi::lua_settop(l, -2);
        len += 1;
    }
    header(out, len, 0x80, 0xde);
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        ffi::lua_pushvalue(l, -2);
        encode(l, out, level + 1)?;
        encode(l, out, level + 1)?;
    }
    Ok(())
}

/// An array or map header: fix (`fix | n`) up to 15, then 16 or 32 bits
/// (`wide`, `wide + 1`).
fn header(out: &mut Vec<u8>, n: u64, fix: u8, wide: u8) {
    if n <= 15 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(wide);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(wide + 1);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn bytes(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

fn double(out: &mut Vec<u8>, d: f64) {
    let f = d as f32;
    if d == f as f64 {
        out.push(0xca);
        out.extend_from_slice(&f.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&d.to_be_bytes());
    }
}

fn int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

// ---- unpacking ----

/// Why decoding stopped.
enum Fail {
    /// The input ends inside a value.
    Eof,
    BadFormat,
    /// A Lua error the C library would get from the Lua core (no
    /// position: "table index is nil").
    Lua(&'static str),
    /// luaL_checkstack's error (after the script's position).
    Stack(&'static str),
}

struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn left(&self) -> usize {
        self.s.len() - self.pos
    }

    fn need(&self, n: usize) -> Result<(), Fail> {
        if self.left() < n {
            Err(Fail::Eof)
        } else {
            Ok(())
        }
    }

    /// `n` bytes after the first `skip` of the value, consumed with them.
    fn take(&mut self, skip: usize, n: usize) -> Result<&[u8], Fail> {
        self.need(skip + n)?;
        let at = self.pos + skip;
        self.pos = at + n;
        Ok(&self.s[at..at + n])
    }

    fn uint(&mut self, width: usize) -> Result<u64, Fail> {
        let b = self.take(1, width)?;
        Ok(b.iter().fold(0u64, |acc, &x| acc << 8 | x as u64))
    }
}

unsafe extern "C-unwind" fn unpack(l: *mut ffi::lua_State) -> c_int {
    unpack_full(l, 0, 0)
}

unsafe extern "C-unwind" fn unpack_one(l: *mut ffi::lua_State) -> c_int {
    let offset = ffi::luaL_optinteger(l, 2, 0) as i64;
    ffi::lua_settop(l, 1);
    unpack_full(l, 1, offset)
}

unsafe extern "C-unwind" fn unpack_limit(l: *mut ffi::lua_State) -> c_int {
    let limit = ffi::luaL_checkinteger(l, 2) as i64;
    let offset = ffi::luaL_optinteger(l, 3, 0) as i64;
    ffi::lua_settop(l, 1);
    unpack_full(l, limit, offset)
}

unsafe fn unpack_full(l: *mut ffi::lua_State, limit: i64, offset: i64) -> c_int {
    let mut len = 0usize;
    let p = ffi::luaL_checklstring(l, 1, &mut len) as *const u8;
    if offset < 0 || limit < 0 {
        // (lua-cmsgpack prints the input's length as the limit.)
        return raise(
            l,
            format!(
                "Invalid request to unpack with offset of {} and limit of {}.",
                offset as i32, len as i32
            ),
        );
    }
    if offset as u64 > len as u64 {
        return raise(
            l,
            format!(
                "Start offset {} greater than input length {}.",
                offset as i32, len as i32
            ),
        );
    }
    let decode_all = limit == 0 && offset == 0;
    let limit = if decode_all { i32::MAX as i64 } else { limit };
    let s = std::slice::from_raw_parts(p, len);
    let mut c = Cursor {
        s,
        pos: offset as usize,
    };
    let mut count: c_int = 0;
    let mut failed = None;
    while c.left() > 0 && (count as i64) < limit {
        if let Err(f) = decode(l, &mut c) {
            failed = Some(f);
            break;
        }
        count += 1;
    }
    match failed {
        Some(Fail::Eof) => return raise(l, "Missing bytes in input.".into()),
        Some(Fail::BadFormat) => return raise(l, "Bad data format in input.".into()),
        Some(Fail::Lua(msg)) => return raise_plain(l, msg),
        Some(Fail::Stack(msg)) => return raise(l, msg.into()),
        None => {}
    }
    if !decode_all {
        let next = if c.left() == 0 { -1 } else { c.pos as i64 };
        ffi::lua_pushinteger(l, next as ffi::lua_Integer);
        ffi::lua_insert(l, 2);
        count += 1;
    }
    count
}

/// A table being filled while decoding.
enum Open {
    /// The element `next` of `len` is being read (its index is pushed).
    Array { next: u64, len: u64 },
    /// `pairs` pairs still to read; `keyed`: the key is pushed.
    Map { pairs: u64, keyed: bool },
}

/// Decodes one value at the cursor and pushes it. Iterative (nesting is
/// bounded by Lua's stack, ~4000 levels, not by this thread's stack);
/// the Lua stack holds what lua-cmsgpack's recursion holds, so the same
/// input fails at the same depth with the same error.
unsafe fn decode(l: *mut ffi::lua_State, c: &mut Cursor) -> Result<(), Fail> {
    let mut open: Vec<Open> = Vec::new();
    loop {
        if let Some(table) = start_value(l, c)? {
            open.push(table);
            continue;
        }
        // A whole value is on top: it goes into the tables it closes.
        loop {
            let Some(table) = open.last_mut() else {
                return Ok(());
            };
            match table {
                Open::Array { next, len } => {
                    ffi::lua_rawset(l, -3);
                    if *next == *len {
                        open.pop();
                        continue;
                    }
                    *next += 1;
                    ffi::lua_pushnumber(l, *next as f64);
                }
                Open::Map {
                    keyed: keyed @ false,
                    ..
                } => *keyed = true,
                Open::Map { pairs, keyed } => {
                    // What lua_settable would raise on these keys.
                    match ffi::lua_type(l, -2) {
                        ffi::LUA_TNIL => return Err(Fail::Lua("table index is nil")),
                        ffi::LUA_TNUMBER if ffi::lua_tonumber(l, -2).is_nan() => {
                            return Err(Fail::Lua("table index is NaN"))
                        }
                        _ => {}
                    }
                    ffi::lua_rawset(l, -3);
                    *pairs -= 1;
                    *keyed = false;
                    if *pairs == 0 {
                        open.pop();
                        continue;
                    }
                }
            }
            break;
        }
    }
}

/// Reads the start of a value: pushes a scalar or an empty table (None),
/// or pushes a table to fill (and an array's first index).
unsafe fn start_value(l: *mut ffi::lua_State, c: &mut Cursor) -> Result<Option<Open>, Fail> {
    c.need(1)?;
    if ffi::lua_checkstack(l, 1) == 0 {
        return Err(Fail::Stack(
            "stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)",
        ));
    }
    let b = c.s[c.pos];
    match b {
        0xcc..=0xcf => {
            let width = 1 << (b - 0xcc);
            // lua_pushunsigned: through lua_Integer, so 2^63 and more wrap.
            let v = c.uint(width)?;
            ffi::lua_pushnumber(l, v as i64 as f64);
        }
        0xd0 => {
            let v = c.uint(1)? as u8 as i8;
            ffi::lua_pushnumber(l, v as f64);
        }
        0xd1 => {
            let v = c.uint(2)? as u16 as i16;
            ffi::lua_pushnumber(l, v as f64);
        }
        0xd2 => {
            let v = c.uint(4)? as u32 as i32;
            ffi::lua_pushnumber(l, v as f64);
        }
        0xd3 => {
            let v = c.uint(8)? as i64;
            ffi::lua_pushnumber(l, v as f64);
        }
        0xc0 => {
            c.pos += 1;
            ffi::lua_pushnil(l);
        }
        0xc2 | 0xc3 => {
            c.pos += 1;
            ffi::lua_pushboolean(l, (b == 0xc3) as c_int);
        }
        0xca => {
            let v = f32::from_bits(c.uint(4)? as u32);
            ffi::lua_pushnumber(l, v as f64);
        }
        0xcb => {
            let v = f64::from_bits(c.uint(8)?);
            ffi::lua_pushnumber(l, v);
        }
        0xd9..=0xdb => {
            let width = 1 << (b - 0xd9);
            c.need(1 + width)?;
            let n = Cursor { s: c.s, pos: c.pos }.uint(width)? as usize;
            let s = c.take(1 + width, n)?;
            ffi::lua_pushlstring(l, s.as_ptr().cast(), s.len());
        }
        0xdc | 0xdd => {
            let n = c.uint(if b == 0xdc { 2 } else { 4 })?;
            return open_array(l, n);
        }
        0xde | 0xdf => {
            let n = c.uint(if b == 0xde { 2 } else { 4 })?;
            return Ok(open_map(l, n));
        }
        _ if b & 0x80 == 0 => {
            c.pos += 1;
            ffi::lua_pushnumber(l, b as f64);
        }
        _ if b & 0xe0 == 0xe0 => {
            c.pos += 1;
            ffi::lua_pushnumber(l, b as i8 as f64);
        }
        _ if b & 0xe0 == 0xa0 => {
            let s = c.take(1, (b & 0x1f) as usize)?;
            ffi::lua_pushlstring(l, s.as_ptr().cast(), s.len());
        }
        _ if b & 0xf0 == 0x90 => {
            c.pos += 1;
            return open_array(l, (b & 0xf) as u64);
        }
        _ if b & 0xf0 == 0x80 => {
            c.pos += 1;
            return Ok(open_map(l, (b & 0xf) as u64));
        }
        _ => return Err(Fail::BadFormat),
    }
    Ok(None)
}

unsafe fn open_array(l: *mut ffi::lua_State, len: u64) -> Result<Option<Open>, Fail> {
    ffi::lua_newtable(l);
    if ffi::lua_checkstack(l, 1) == 0 {
        return Err(Fail::Stack(
            "stack overflow (in function mp_decode_to_lua_array)",
        ));
    }
    if len == 0 {
        return Ok(None);
    }
    ffi::lua_pushnumber(l, 1.0);
    Ok(Some(Open::Array { next: 1, len }))
}

unsafe fn open_map(l: *mut ffi::lua_State, pairs: u64) -> Option<Open> {
    ffi::lua_newtable(l);
    (pairs > 0).then_some(Open::Map {
        pairs,
        keyed: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_pack_as_lua_cmsgpack_packs_them() {
        let mut out = Vec::new();
        double(&mut out, 0.1);
        assert_eq!(out, [0xcb, 0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a]);
        out.clear();
        int(&mut out, -1_099_511_627_776);
        assert_eq!(out, [0xd3, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0]);
        out.clear();
        int(&mut out, -5);
        int(&mut out, 200);
        assert_eq!(out, [0xfb, 0xcc, 200]);
    }
}
