//! Splitting an inline command line into arguments, with the quoting
//! rules of Redis's `sdssplitargs`: "double quotes" understand
//! `\n \r \t \b \a \\ \" \xHH`, 'single quotes' understand `\'`, and a
//! closing quote must be followed by a space or the end of the line.
//! Redis works on C strings: a NUL byte ends the line.

/// The arguments of `text` as strings (invalid UTF-8 replaced), or None
/// on unbalanced quotes.
pub fn split_words(text: &str) -> Option<Vec<String>> {
    let (mut scratch, mut ranges) = (Vec::new(), Vec::new());
    split_inline(text.as_bytes(), &mut scratch, &mut ranges).then(|| {
        ranges
            .iter()
            .map(|&(s, e)| String::from_utf8_lossy(&scratch[s..e]).into_owned())
            .collect()
    })
}

/// Appends the unescaped arguments of `line` to `out`, recording each
/// argument's range in `ranges`. Returns false on unbalanced quotes.
pub fn split_inline(line: &[u8], out: &mut Vec<u8>, ranges: &mut Vec<(usize, usize)>) -> bool {
    let line = match memchr::memchr(0, line) {
        Some(nul) => &line[..nul],
        None => line,
    };
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && is_c_space(line[i]) {
            i += 1;
        }
        if i >= n {
            return true;
        }
        let start = out.len();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            if in_double {
                if i >= n {
                    return false;
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && is_hex(line[i + 2])
                    && is_hex(line[i + 3])
                {
                    out.push(hex_val(line[i + 2]) * 16 + hex_val(line[i + 3]));
                    i += 3;
                } else if c == b'\\' && i + 1 < n {
                    i += 1;
                    out.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    if i + 1 < n && !is_c_space(line[i + 1]) {
                        return false;
                    }
                    i += 1;
                    break;
                } else {
                    out.push(c);
                }
                i += 1;
            } else if in_single {
                if i >= n {
                    return false;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    out.push(b'\'');
                    i += 1;
                } else if c == b'\'' {
                    if i + 1 < n && !is_c_space(line[i + 1]) {
                        return false;
                    }
                    i += 1;
                    break;
                } else {
                    out.push(c);
                }
                i += 1;
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' => break,
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    c => out.push(c),
                }
                i += 1;
            }
        }
        ranges.push((start, out.len()));
    }
}

/// C's `isspace`: also vertical tab and form feed.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::split_inline;

    fn split(line: &[u8]) -> Option<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        let mut ranges = Vec::new();
        split_inline(line, &mut out, &mut ranges)
            .then(|| ranges.iter().map(|&(s, e)| out[s..e].to_vec()).collect())
    }

    #[test]
    fn c_string_rules() {
        // Leading vertical tab / form feed are spaces; inside a word they
        // are data, as in sdssplitargs.
        assert_eq!(split(b"\x0bGET\x0ck"), Some(vec![b"GET\x0ck".to_vec()]));
        // A NUL ends the line.
        assert_eq!(split(b"a\x00b c"), Some(vec![b"a".to_vec()]));
        assert_eq!(split(b"\x00"), Some(vec![]));
        // A closing quote must be followed by a space.
        assert_eq!(split(b"a \"b\"c"), None);
        assert_eq!(split(b"'x'\x0b"), Some(vec![b"x".to_vec()]));
        assert_eq!(split(b"\"\\x4g\""), Some(vec![b"x4g".to_vec()]));
    }
}
