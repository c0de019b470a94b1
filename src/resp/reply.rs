//! Reading replies back: the length of one complete RESP value, used to
//! split and merge replies that came from several shards, and by tests.

use memchr::memchr;

/// Length in bytes of the complete RESP2/RESP3 value at the start of
/// `buf`, or None if it is incomplete or malformed.
pub fn reply_len(buf: &[u8]) -> Option<usize> {
    let nl = memchr(b'\n', buf)?;
    let line = buf.get(1..nl.checked_sub(1)?)?;
    let head = nl + 1;
    match buf[0] {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(head),
        b'$' | b'=' | b'!' => {
            let n: i64 = std::str::from_utf8(line).ok()?.parse().ok()?;
            if n < 0 {
                return Some(head);
            }
            let end = head + n as usize + 2;
            (end <= buf.len()).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n: i64 = std::str::from_utf8(line).ok()?.parse().ok()?;
            if n < 0 {
                return Some(head);
            }
            let items = if matches!(buf[0], b'%' | b'|') {
                n * 2
            } else {
                n
            };
            let mut pos = head;
            for _ in 0..items {
                pos += reply_len(&buf[pos..])?;
            }
            Some(pos)
        }
        _ => None,
    }
}

/// Splits an array reply into its elements' byte slices.
pub fn array_items(buf: &[u8]) -> Option<Vec<&[u8]>> {
    let nl = memchr(b'\n', buf)?;
    if !matches!(buf[0], b'*' | b'~') {
        return None;
    }
    let n: usize = std::str::from_utf8(&buf[1..nl - 1]).ok()?.parse().ok()?;
    let mut pos = nl + 1;
    let mut items = Vec::with_capacity(n);
    for _ in 0..n {
        let len = reply_len(&buf[pos..])?;
        items.push(&buf[pos..pos + len]);
        pos += len;
    }
    Some(items)
}

/// The value of an integer reply `:<n>\r\n`.
pub fn int_value(buf: &[u8]) -> Option<i64> {
    if buf.first() != Some(&b':') {
        return None;
    }
    let nl = memchr(b'\r', buf)?;
    std::str::from_utf8(&buf[1..nl]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths() {
        assert_eq!(reply_len(b"+OK\r\nrest"), Some(5));
        assert_eq!(reply_len(b"$3\r\nabc\r\n"), Some(9));
        assert_eq!(reply_len(b"$3\r\nab"), None);
        assert_eq!(reply_len(b"*2\r\n$1\r\na\r\n$-1\r\n"), Some(16));
        assert_eq!(reply_len(b"%1\r\n+a\r\n:1\r\n"), Some(12));
        assert_eq!(
            array_items(b"*2\r\n:1\r\n$-1\r\n").unwrap(),
            vec![&b":1\r\n"[..], b"$-1\r\n"]
        );
        assert_eq!(int_value(b":-42\r\n"), Some(-42));
    }
}
