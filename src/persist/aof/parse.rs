//! Reading an AOF file's commands: RESP arrays of bulk strings, `#`
//! annotation lines between them. A file cut short (a crash mid-write)
//! is reported with the offset where its last complete command ends, so
//! the caller can truncate it there as `aof-load-truncated` allows.

/// Why reading stopped early.
#[derive(Debug, PartialEq, Eq)]
pub enum ParseStop {
    /// The file ends inside a command; `valid` bytes are whole commands.
    Truncated { valid: usize },
    /// Bytes that are not a command at `offset`.
    BadFormat { offset: usize },
}

/// Calls `on_command(offset, argv)` for each complete command of `bytes`.
/// `on_command` may stop reading with an error of its own.
pub fn for_each_command<E>(
    bytes: &[u8],
    mut on_command: impl FnMut(usize, &[&[u8]]) -> Result<(), E>,
) -> Result<Result<(), ParseStop>, E> {
    let mut pos = 0;
    let mut argv: Vec<&[u8]> = Vec::new();
    while pos < bytes.len() {
        let start = pos;
        if bytes[pos] == b'#' {
            // An annotation (`#TS:...`): skip the line.
            match memchr::memchr(b'\n', &bytes[pos..]) {
                Some(n) => {
                    pos += n + 1;
                    continue;
                }
                None => return Ok(Err(ParseStop::Truncated { valid: start })),
            }
        }
        match parse_one(bytes, pos, &mut argv) {
            Ok(next) => {
                on_command(start, &argv)?;
                pos = next;
            }
            Err(stop) => {
                return Ok(Err(match stop {
                    Stop::Short => ParseStop::Truncated { valid: start },
                    Stop::Bad => ParseStop::BadFormat { offset: start },
                }))
            }
        }
    }
    Ok(Ok(()))
}

enum Stop {
    Short,
    Bad,
}

/// Reads `<prefix><number>\r\n` at `pos`.
fn number_line(bytes: &[u8], pos: usize, prefix: u8) -> Result<(usize, usize), Stop> {
    let Some(&first) = bytes.get(pos) else {
        return Err(Stop::Short);
    };
    if first != prefix {
        return Err(Stop::Bad);
    }
    let Some(nl) = memchr::memchr(b'\n', &bytes[pos..]) else {
        return Err(Stop::Short);
    };
    let line = &bytes[pos + 1..pos + nl];
    let line = line.strip_suffix(b"\r").ok_or(Stop::Bad)?;
    let n = std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .ok_or(Stop::Bad)?;
    Ok((n, pos + nl + 1))
}

fn parse_one<'a>(bytes: &'a [u8], pos: usize, argv: &mut Vec<&'a [u8]>) -> Result<usize, Stop> {
    argv.clear();
    let (argc, mut pos) = number_line(bytes, pos, b'*')?;
    if argc == 0 {
        return Err(Stop::Bad);
    }
    for _ in 0..argc {
        let (len, at) = number_line(bytes, pos, b'$')?;
        // A length near usize::MAX must not wrap around: anything the
        // file cannot hold is a cut-off command, never an index.
        let end = at.checked_add(len).ok_or(Stop::Bad)?;
        if bytes.len() < 2 || end > bytes.len() - 2 {
            return Err(Stop::Short);
        }
        if &bytes[end..end + 2] != b"\r\n" {
            return Err(Stop::Bad);
        }
        argv.push(&bytes[at..end]);
        pos = end + 2;
    }
    Ok(pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(bytes: &[u8]) -> (Vec<Vec<String>>, Result<(), ParseStop>) {
        let mut got = Vec::new();
        let r = for_each_command::<()>(bytes, |_, argv| {
            got.push(
                argv.iter()
                    .map(|a| String::from_utf8_lossy(a).into())
                    .collect(),
            );
            Ok(())
        })
        .unwrap();
        (got, r)
    }

    #[test]
    fn reads_commands_and_annotations() {
        let (got, r) =
            collect(b"#TS:1700000000\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*1\r\n$4\r\nPING\r\n");
        assert_eq!(r, Ok(()));
        assert_eq!(got, vec![vec!["SELECT", "0"], vec!["PING"]]);
    }

    #[test]
    fn a_cut_tail_is_truncation_at_the_last_whole_command() {
        let whole = b"*1\r\n$4\r\nPING\r\n";
        for cut in 1..20 {
            let mut b = whole.to_vec();
            b.extend_from_slice(&b"*3\r\n$3\r\nset\r\n$1\r\nz\r\n$1\r\n1\r\n"[..cut]);
            let (got, r) = collect(&b);
            assert_eq!(got.len(), 1);
            assert_eq!(
                r,
                Err(ParseStop::Truncated { valid: whole.len() }),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn a_length_near_usize_max_is_a_cut_command_not_a_panic() {
        // `at + len` is exactly usize::MAX: `end + 2` used to wrap to 1.
        let head = b"*1\r\n$";
        let at = head.len() + 20 + 2;
        let len = usize::MAX - at;
        let mut b = head.to_vec();
        b.extend_from_slice(format!("{len}\r\n").as_bytes());
        assert_eq!(b.len(), at);
        let (_, r) = collect(&b);
        assert_eq!(r, Err(ParseStop::Truncated { valid: 0 }));
    }

    #[test]
    fn garbage_is_a_format_error_with_its_offset() {
        let (_, r) = collect(b"*1\r\n$4\r\nPING\r\nhello\r\n");
        assert_eq!(r, Err(ParseStop::BadFormat { offset: 14 }));
        let (_, r) = collect(b"*1\r\n$4\r\nPINGxx*1\r\n");
        assert_eq!(r, Err(ParseStop::BadFormat { offset: 0 }));
    }
}
