//! APPEND STRLEN GETRANGE SUBSTR SETRANGE: reading and writing parts of a
//! string.

use super::super::util::{arg_i64, NOT_INTEGER, WRONGTYPE};
use super::super::{Class, Ctx};
use super::{check_string_length, read_str};
use crate::store::Value;

/// What a write to an existing key came to.
enum Edit {
    /// The key is missing.
    Missing,
    /// Done; the string's new length.
    Len(usize),
    /// Refused; the error to reply.
    Error(&'static str),
}

const TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

/// Runs `f` on the string at `key` (looked up for writing), or reports
/// the key missing or of the wrong type.
fn edit(ctx: &mut Ctx, key: &[u8], f: impl FnOnce(&mut Value) -> Edit) -> Edit {
    match ctx.lookup_write(key) {
        None => Edit::Missing,
        Some(e) if e.value.as_str().is_none() => Edit::Error(WRONGTYPE),
        Some(e) => f(&mut e.value),
    }
}

/// APPEND key value
pub fn append(ctx: &mut Ctx, args: &[&[u8]]) {
    let (key, tail) = (args[1], args[2]);
    let max = ctx.limits.proto_max_bulk_len;
    let res = edit(ctx, key, |v| {
        let total = v.as_str().map_or(0, <[u8]>::len) + tail.len();
        if total as u64 > max {
            return Edit::Error(TOO_BIG);
        }
        let raw = v.as_raw_mut().expect("a string");
        raw.extend_from_slice(tail);
        Edit::Len(raw.len())
    });
    let len = match res {
        Edit::Error(e) => return ctx.out.error(e),
        Edit::Len(n) => n,
        Edit::Missing => {
            let lru = ctx.lru;
            ctx.db().set(key, Value::from_bytes(tail), lru);
            tail.len()
        }
    };
    ctx.dirty += 1;
    ctx.notify(Class::String, "append", key);
    ctx.out.int(len as i64);
}

/// STRLEN key
pub fn strlen(ctx: &mut Ctx, args: &[&[u8]]) {
    match read_str(ctx, args[1]) {
        (Err(()), _) => {}
        (Ok(s), out) => out.int(s.map_or(0, <[u8]>::len) as i64),
    }
}

/// The byte range `[start, end]` of a string of `len` bytes that
/// GETRANGE returns, with negative indexes from the end; None when empty.
pub(crate) fn substring_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let len = len as i64;
    let start = if start < 0 {
        (start + len).max(0)
    } else {
        start
    };
    let end = if end < 0 { (end + len).max(0) } else { end }.min(len - 1);
    (start <= end && len > 0).then_some((start as usize, end as usize))
}

/// GETRANGE key start end (and the deprecated SUBSTR key start end)
pub fn getrange(ctx: &mut Ctx, args: &[&[u8]]) {
    let (Some(start), Some(end)) = (arg_i64(args[2]), arg_i64(args[3])) else {
        return ctx.out.error(NOT_INTEGER);
    };
    match read_str(ctx, args[1]) {
        (Err(()), _) => {}
        (Ok(s), out) => {
            let s = s.unwrap_or_default();
            match substring_range(start, end, s.len()) {
                Some((a, b)) => out.bulk(&s[a..=b]),
                None => out.bulk(b""),
            }
        }
    }
}

/// SETRANGE key offset value
pub fn setrange(ctx: &mut Ctx, args: &[&[u8]]) {
    let (key, value) = (args[1], args[3]);
    let Some(offset) = arg_i64(args[2]) else {
        return ctx.out.error(NOT_INTEGER);
    };
    if offset < 0 {
        return ctx.out.error("ERR offset is out of range");
    }
    let offset = offset as u64;
    let end = offset.saturating_add(value.len() as u64);
    let max = ctx.limits.proto_max_bulk_len;
    let res = edit(ctx, key, |v| {
        let len = v.as_str().map_or(0, <[u8]>::len);
        if value.is_empty() {
            return Edit::Len(len);
        }
        if end > max {
            return Edit::Error(TOO_BIG);
        }
        let raw = v.as_raw_mut().expect("a string");
        write_at(raw, offset as usize, value);
        Edit::Len(raw.len())
    });
    let len = match res {
        Edit::Error(e) => return ctx.out.error(e),
        Edit::Len(n) => n,
        Edit::Missing if value.is_empty() => return ctx.out.int(0),
        Edit::Missing => {
            if !check_string_length(ctx, end) {
                return;
            }
            let mut raw = Vec::new();
            write_at(&mut raw, offset as usize, value);
            let lru = ctx.lru;
            ctx.db()
                .set(key, Value::Raw(crate::store::PackedBox::new(raw)), lru);
            end as usize
        }
    };
    if !value.is_empty() {
        ctx.dirty += 1;
        ctx.notify(Class::String, "setrange", key);
    }
    ctx.out.int(len as i64);
}

/// Copies `value` into `buf` at `offset`, zero-padding as needed.
fn write_at(buf: &mut Vec<u8>, offset: usize, value: &[u8]) {
    let end = offset + value.len();
    if buf.len() < end {
        buf.resize(end, 0);
    }
    buf[offset..end].copy_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::substring_range;

    #[test]
    fn getrange_indexes_like_redis() {
        assert_eq!(substring_range(0, -1, 5), Some((0, 4)));
        assert_eq!(substring_range(-1, -5, 5), None);
        assert_eq!(substring_range(-100, -200, 5), None);
        assert_eq!(substring_range(0, -100, 5), Some((0, 0)));
        assert_eq!(substring_range(5, 10, 5), None);
        assert_eq!(substring_range(0, 0, 0), None);
        assert_eq!(substring_range(i64::MIN, i64::MAX, 5), Some((0, 4)));
    }
}
