//! `cjson.decode`: JSON text as Lua values, as lua-cjson reads it
//! (numbers through C's strtod, `null` as `cjson.null`, a NUL byte ends
//! the text, errors naming the expected token and the character).

use super::{config, raise, Config};
use mlua::ffi;
use std::os::raw::{c_char, c_int};

extern "C" {
    fn strtod(s: *const c_char, end: *mut *mut c_char) -> f64;
}

enum Token {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str(Vec<u8>),
    Number(f64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    /// What was wrong, at `Parser::error_at`.
    Error(&'static str),
}

impl Token {
    /// lua-cjson's json_token_type_name.
    fn name(&self) -> &'static str {
        match self {
            Token::ObjBegin => "T_OBJ_BEGIN",
            Token::ObjEnd => "T_OBJ_END",
            Token::ArrBegin => "T_ARR_BEGIN",
            Token::ArrEnd => "T_ARR_END",
            Token::Str(_) => "T_STRING",
            Token::Number(_) => "T_NUMBER",
            Token::Bool(_) => "T_BOOLEAN",
            Token::Null => "T_NULL",
            Token::Colon => "T_COLON",
            Token::Comma => "T_COMMA",
            Token::End => "T_END",
            Token::Error(what) => what,
        }
    }
}

struct Parser {
    /// The text, NUL-terminated (a Lua string always is).
    data: *const u8,
    len: usize,
    pos: usize,
    /// Where the last token started (or its error was found).
    token_at: usize,
    depth: i64,
    cfg: Config,
}

pub(super) unsafe extern "C-unwind" fn decode(l: *mut ffi::lua_State) -> c_int {
    if ffi::lua_gettop(l) != 1 {
        ffi::luaL_argerror(l, 1, c"expected 1 argument".as_ptr());
    }
    let cfg = *config(l);
    let mut len = 0usize;
    let data = ffi::luaL_checklstring(l, 1, &mut len) as *const u8;
    if len >= 2 && (*data == 0 || *data.add(1) == 0) {
        return raise(l, "JSON parser does not support UTF-16 or UTF-32".into());
    }
    let mut p = Parser {
        data,
        len,
        pos: 0,
        token_at: 0,
        depth: 0,
        cfg,
    };
    let failed = p.document(l).err();
    match failed {
        None => 1,
        Some(msg) => raise(l, msg),
    }
}

impl Parser {
    /// The byte at `i`; 0 past the end (the terminating NUL).
    fn at(&self, i: usize) -> u8 {
        if i < self.len {
            // SAFETY: within the Lua string.
            unsafe { *self.data.add(i) }
        } else {
            0
        }
    }

    fn starts_with(&self, word: &[u8]) -> bool {
        word.iter()
            .enumerate()
            .all(|(i, &c)| self.at(self.pos + i) == c)
    }

    /// The whole text: one value, then its end. Iterative (nesting is
    /// bounded by `decode_max_depth` and Lua's stack, not by this
    /// thread's stack); the Lua stack holds what lua-cjson's recursion
    /// holds, so the same text fails at the same depth.
    unsafe fn document(&mut self, l: *mut ffi::lua_State) -> Result<(), String> {
        // The tables being filled: an array's next index, or None for an
        // object (its key pushed).
        let mut open: Vec<Option<ffi::lua_Integer>> = Vec::new();
        let mut token = self.next_token();
        loop {
            if let Some(table) = self.start_value(l, token)? {
                let first = self.next_token();
                let empty = match table {
                    Some(_) => matches!(first, Token::ArrEnd),
                    None => matches!(first, Token::ObjEnd),
                };
                if !empty {
                    open.push(table);
                    token = match table {
                        Some(_) => first,
                        None => self.object_key(l, first)?,
                    };
                    continue;
                }
                self.depth -= 1;
            }
            // A whole value is on top: it goes into the tables it closes.
            loop {
                let Some(table) = open.last_mut() else {
                    return match self.next_token() {
                        Token::End => Ok(()),
                        t => Err(self.expected("the end", &t)),
                    };
                };
                match table {
                    Some(i) => {
                        ffi::lua_rawseti(l, -2, *i);
                        *i += 1;
                        match self.next_token() {
                            Token::ArrEnd => {}
                            Token::Comma => {
                                token = self.next_token();
                                break;
                            }
                            t => return Err(self.expected("comma or array end", &t)),
                        }
                    }
                    None => {
                        ffi::lua_rawset(l, -3);
                        match self.next_token() {
                            Token::ObjEnd => {}
                            Token::Comma => {
                                let key = self.next_token();
                                token = self.object_key(l, key)?;
                                break;
                            }
                            t => return Err(self.expected("comma or object end", &t)),
                        }
                    }
                }
                // The table is whole.
                self.depth -= 1;
                open.pop();
            }
        }
    }

    fn expected(&self, what: &str, found: &Token) -> String {
        format!(
            "Expected {what} but found {} at character {}",
            found.name(),
            self.token_at + 1
        )
    }

    /// Pushes a scalar (None), or an empty table with what fills it (an
    /// array's first index, or None for an object).
    unsafe fn start_value(
        &mut self,
        l: *mut ffi::lua_State,
        token: Token,
    ) -> Result<Option<Option<ffi::lua_Integer>>, String> {
        match token {
            Token::Str(s) => {
                ffi::lua_pushlstring(l, s.as_ptr().cast(), s.len());
            }
            Token::Number(n) => ffi::lua_pushnumber(l, n),
            Token::Bool(b) => ffi::lua_pushboolean(l, b as c_int),
            Token::Null => ffi::lua_pushlightuserdata(l, std::ptr::null_mut()),
            Token::ObjBegin => {
                self.descend(l, 3)?;
                ffi::lua_newtable(l);
                return Ok(Some(None));
            }
            Token::ArrBegin => {
                self.descend(l, 2)?;
                ffi::lua_newtable(l);
                return Ok(Some(Some(1)));
            }
            t => return Err(self.expected("value", &t)),
        }
        Ok(None)
    }

    /// An object's key (pushed) and its colon: the token of its value.
    unsafe fn object_key(&mut self, l: *mut ffi::lua_State, key: Token) -> Result<Token, String> {
        let Token::Str(key) = key else {
            return Err(self.expected("object key string", &key));
        };
        ffi::lua_pushlstring(l, key.as_ptr().cast(), key.len());
        drop(key);
        let colon = self.next_token();
        if !matches!(colon, Token::Colon) {
            return Err(self.expected("colon", &colon));
        }
        Ok(self.next_token())
    }

    unsafe fn descend(&mut self, l: *mut ffi::lua_State, slots: c_int) -> Result<(), String> {
        self.depth += 1;
        if self.depth <= self.cfg.decode_max_depth && ffi::lua_checkstack(l, slots) != 0 {
            return Ok(());
        }
        Err(format!(
            "Found too many nested data structures ({}) at character {}",
            self.depth, self.pos
        ))
    }

    fn error(&mut self, what: &'static str) -> Token {
        self.token_at = self.pos;
        Token::Error(what)
    }

    fn next_token(&mut self) -> Token {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        self.token_at = self.pos;
        let c = self.at(self.pos);
        let single = match c {
            b'{' => Some(Token::ObjBegin),
            b'}' => Some(Token::ObjEnd),
            b'[' => Some(Token::ArrBegin),
            b']' => Some(Token::ArrEnd),
            b',' => Some(Token::Comma),
            b':' => Some(Token::Colon),
            _ => None,
        };
        if let Some(t) = single {
            self.pos += 1;
            return t;
        }
        match c {
            0 => Token::End,
            b'"' => self.string(),
            b'-' | b'0'..=b'9' => {
                if !self.cfg.decode_invalid_numbers && self.invalid_number() {
                    return self.error("invalid number");
                }
                self.number()
            }
            b't' if self.starts_with(b"true") => {
                self.pos += 4;
                Token::Bool(true)
            }
            b'f' if self.starts_with(b"false") => {
                self.pos += 5;
                Token::Bool(false)
            }
            b'n' if self.starts_with(b"null") => {
                self.pos += 4;
                Token::Null
            }
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'+' => {
                if self.cfg.decode_invalid_numbers && self.invalid_number() {
                    return self.number();
                }
                self.error("invalid token")
            }
            _ => self.error("invalid token"),
        }
    }

    /// Forms strtod takes that JSON does not: `+`, hex, leading zeros,
    /// inf and nan.
    fn invalid_number(&self) -> bool {
        let mut p = self.pos;
        match self.at(p) {
            b'+' => return true,
            b'-' => p += 1,
            _ => {}
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return c2 | 0x20 == b'x' || c2.is_ascii_digit();
        }
        if c <= b'9' {
            return false;
        }
        let word = |w: &[u8]| (0..3).all(|i| self.at(p + i).to_ascii_lowercase() == w[i]);
        word(b"inf") || word(b"nan")
    }

    fn number(&mut self) -> Token {
        // SAFETY: the text is NUL-terminated; strtod stops at the NUL.
        let (n, used) = unsafe {
            let start = self.data.add(self.pos) as *const c_char;
            let mut end = start as *mut c_char;
            let n = strtod(start, &mut end);
            (n, end as usize - start as usize)
        };
        if used == 0 {
            return self.error("invalid number");
        }
        self.pos += used;
        Token::Number(n)
    }

    fn string(&mut self) -> Token {
        self.pos += 1;
        let mut s = Vec::new();
        loop {
            let c = self.at(self.pos);
            match c {
                b'"' => break,
                0 => return self.error("unexpected end of string"),
                b'\\' => {
                    let e = self.at(self.pos + 1);
                    let plain = match e {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 8,
                        b't' => b'\t',
                        b'n' => b'\n',
                        b'f' => 12,
                        b'r' => b'\r',
                        b'u' => {
                            if self.unicode_escape(&mut s) {
                                continue;
                            }
                            return self.error("invalid unicode escape code");
                        }
                        _ => return self.error("invalid escape code"),
                    };
                    s.push(plain);
                    self.pos += 2;
                }
                _ => {
                    s.push(c);
                    self.pos += 1;
                }
            }
        }
        self.pos += 1;
        Token::Str(s)
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        (0..4).try_fold(0u32, |acc, i| {
            let d = (self.at(at + i) as char).to_digit(16)?;
            Some(acc << 4 | d)
        })
    }

    /// `\uXXXX` (or a surrogate pair of them) at `pos`, appended as
    /// UTF-8; false when malformed.
    fn unicode_escape(&mut self, s: &mut Vec<u8>) -> bool {
        let Some(mut cp) = self.hex4(self.pos + 2) else {
            return false;
        };
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 {
                return false;
            }
            if self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.pos + 8) else {
                return false;
            };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        utf8(cp, s);
        self.pos += len;
        true
    }
}

/// A code point (at most 0x10FFFF here) as UTF-8, as lua-cjson writes
/// it (lone low surrogates included).
fn utf8(cp: u32, s: &mut Vec<u8>) {
    if cp <= 0x7F {
        s.push(cp as u8);
    } else if cp <= 0x7FF {
        s.extend_from_slice(&[(cp >> 6) as u8 | 0xC0, (cp & 0x3F) as u8 | 0x80]);
    } else if cp <= 0xFFFF {
        s.extend_from_slice(&[
            (cp >> 12) as u8 | 0xE0,
            ((cp >> 6) & 0x3F) as u8 | 0x80,
            (cp & 0x3F) as u8 | 0x80,
        ]);
    } else {
        s.extend_from_slice(&[
            (cp >> 18) as u8 | 0xF0,
            ((cp >> 12) & 0x3F) as u8 | 0x80,
            ((cp >> 6) & 0x3F) as u8 | 0x80,
            (cp & 0x3F) as u8 | 0x80,
        ]);
    }
}
