//! Redis's `sdscatrepr`: a byte string quoted the way Redis prints one in
//! MONITOR, CONFIG REWRITE, the AOF manifest and its config errors.

/// Appends `a` to `s` quoted: C escapes, `\xNN` for bytes outside
/// printable ASCII.
pub fn repr(s: &mut Vec<u8>, a: &[u8]) {
    s.push(b'"');
    for &c in a {
        match c {
            b'\\' | b'"' => s.extend_from_slice(&[b'\\', c]),
            b'\n' => s.extend_from_slice(b"\\n"),
            b'\r' => s.extend_from_slice(b"\\r"),
            b'\t' => s.extend_from_slice(b"\\t"),
            7 => s.extend_from_slice(b"\\a"),
            8 => s.extend_from_slice(b"\\b"),
            0x20..=0x7e => s.push(c),
            _ => s.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    s.push(b'"');
}

/// [`repr`] of `a` as a string (the quoted form is ASCII).
pub fn repr_string(a: &[u8]) -> String {
    let mut s = Vec::with_capacity(a.len() + 2);
    repr(&mut s, a);
    String::from_utf8(s).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_like_sdscatrepr() {
        let mut s = Vec::new();
        super::repr(&mut s, b"a\"b\\c\n\x01\xff \x07");
        assert_eq!(s, b"\"a\\\"b\\\\c\\n\\x01\\xff \\a\"");
        assert_eq!(super::repr_string(b"my file"), "\"my file\"");
    }
}
