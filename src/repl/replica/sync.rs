//! What a replica reads from its master, without I/O: reply lines, the
//! PSYNC answer, the RDB transfer (`$<len>` or `$EOF:<mark>` framing) and
//! the limits of the command stream. link.rs feeds these from the socket;
//! the fuzz target `repl_stream` feeds them arbitrary bytes.

use crate::resp::Limits;

/// Cuts one line off `buf`: the line without its `\r\n` (or `\n`) and the
/// bytes it took; `None` until a `\n` arrives.
pub fn take_line(buf: &[u8]) -> Option<(&[u8], usize)> {
    let i = memchr::memchr(b'\n', buf)?;
    let line = &buf[..i];
    Some((line.strip_suffix(b"\r").unwrap_or(line), i + 1))
}

/// The master's answer to PSYNC.
#[derive(Debug, PartialEq, Eq)]
pub enum PsyncReply {
    /// `+FULLRESYNC <replid> <offset>`: an RDB transfer follows.
    FullResync { replid: String, offset: i64 },
    /// `+CONTINUE [<new replid>]`: the stream resumes (empty: same id).
    Continue { new_id: String },
}

impl PsyncReply {
    /// Parses the reply line; the error is the log line Redis writes.
    pub fn parse(reply: &[u8]) -> Result<PsyncReply, String> {
        if let Some(rest) = reply.strip_prefix(b"+FULLRESYNC") {
            let text = String::from_utf8_lossy(rest);
            let mut parts = text.split_whitespace();
            let bad = || "Master replied with wrong +FULLRESYNC syntax.".to_string();
            let (Some(replid), Some(offset)) = (parts.next(), parts.next()) else {
                return Err(bad());
            };
            let offset = offset.parse().map_err(|_| bad())?;
            Ok(PsyncReply::FullResync {
                replid: replid.to_string(),
                offset,
            })
        } else if let Some(rest) = reply.strip_prefix(b"+CONTINUE") {
            Ok(PsyncReply::Continue {
                new_id: String::from_utf8_lossy(rest).trim().to_string(),
            })
        } else {
            Err(format!(
                "Unexpected reply to PSYNC from master: {}",
                String::from_utf8_lossy(reply)
            ))
        }
    }
}

/// An RDB transfer being received.
pub struct Transfer {
    framing: Framing,
    rdb: Vec<u8>,
    done: bool,
}

enum Framing {
    /// `$<size>`: exactly `size` bytes.
    Bulk(usize),
    /// `$EOF:<40 bytes>`: everything until the stream ends with the mark.
    Eof(Vec<u8>),
}

impl Transfer {
    /// Starts from the reply line that announces the transfer.
    pub fn start(header: &[u8]) -> Result<Transfer, String> {
        if header.first() == Some(&b'-') {
            return Err(format!(
                "MASTER aborted replication with an error: {}",
                String::from_utf8_lossy(&header[1..])
            ));
        }
        if header.first() != Some(&b'$') {
            return Err(format!(
                "Bad protocol from MASTER, the first byte is not '$' (we received '{}'), are you sure the host and port are right?",
                String::from_utf8_lossy(header)
            ));
        }
        let framing = if let Some(mark) = header.strip_prefix(b"$EOF:") {
            if mark.len() != 40 {
                return Err("Bad EOF mark from MASTER".into());
            }
            Framing::Eof(mark.to_vec())
        } else {
            let size = std::str::from_utf8(&header[1..])
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or("Bad bulk length from MASTER")?;
            Framing::Bulk(size)
        };
        let done = matches!(framing, Framing::Bulk(0));
        Ok(Transfer {
            framing,
            rdb: Vec::new(),
            done,
        })
    }

    /// The announced size, `None` for an EOF-marked transfer.
    pub fn size(&self) -> Option<usize> {
        match self.framing {
            Framing::Bulk(n) => Some(n),
            Framing::Eof(_) => None,
        }
    }

    /// Bytes of the RDB received so far.
    pub fn received(&self) -> usize {
        self.rdb.len()
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Takes what `data` holds of the transfer; returns the bytes used.
    /// An EOF-marked transfer uses them all (the master sends nothing
    /// after the mark before the replica's ACK).
    pub fn feed(&mut self, data: &[u8]) -> usize {
        if self.done {
            return 0;
        }
        match &self.framing {
            Framing::Bulk(size) => {
                // Grown by what arrives, never by what the header claims:
                // a `$` length of gigabytes must not be allocated up front.
                let take = (size - self.rdb.len()).min(data.len());
                self.rdb.extend_from_slice(&data[..take]);
                self.done = self.rdb.len() == *size;
                take
            }
            Framing::Eof(mark) => {
                self.rdb.extend_from_slice(data);
                if self.rdb.ends_with(mark) {
                    self.rdb.truncate(self.rdb.len() - mark.len());
                    self.done = true;
                }
                data.len()
            }
        }
    }

    /// The RDB, once [`is_done`](Self::is_done).
    pub fn into_rdb(self) -> Vec<u8> {
        self.rdb
    }

    /// Bytes reserved for the RDB (for tests of the allocation bound).
    pub fn capacity(&self) -> usize {
        self.rdb.capacity()
    }
}

/// How the command stream is parsed: authenticated, and no bulk-length
/// limit (the master already accepted what it sends).
pub fn stream_limits() -> Limits {
    Limits {
        max_bulk_len: usize::MAX,
        authenticated: true,
        ..Limits::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bulk_length_of_gigabytes_is_not_reserved() {
        let mut t = Transfer::start(b"$1099511627776").unwrap();
        assert_eq!(t.feed(b"REDIS0010"), 9);
        assert!(!t.is_done());
        assert!(t.capacity() < 1 << 20, "reserved {}", t.capacity());
    }

    #[test]
    fn bulk_transfer_stops_at_its_size() {
        let mut t = Transfer::start(b"$5").unwrap();
        assert_eq!(t.feed(b"abc"), 3);
        assert_eq!(t.feed(b"de*1\r\n"), 2);
        assert!(t.is_done());
        assert_eq!(t.into_rdb(), b"abcde");
        assert!(Transfer::start(b"$0").unwrap().is_done());
        assert!(Transfer::start(b"$-1").is_err());
        assert!(Transfer::start(b"+OK").is_err());
    }

    #[test]
    fn eof_marked_transfer_ends_at_the_mark() {
        let mark = [b'm'; 40];
        let mut header = b"$EOF:".to_vec();
        header.extend_from_slice(&mark);
        let mut t = Transfer::start(&header).unwrap();
        t.feed(b"REDIS");
        t.feed(&mark[..10]);
        assert!(!t.is_done());
        t.feed(&mark[10..]);
        assert!(t.is_done());
        assert_eq!(t.into_rdb(), b"REDIS");
        assert!(Transfer::start(b"$EOF:short").is_err());
    }

    #[test]
    fn psync_replies() {
        assert_eq!(
            PsyncReply::parse(b"+FULLRESYNC abc 42").unwrap(),
            PsyncReply::FullResync {
                replid: "abc".into(),
                offset: 42
            }
        );
        assert!(PsyncReply::parse(b"+FULLRESYNC abc").is_err());
        assert_eq!(
            PsyncReply::parse(b"+CONTINUE").unwrap(),
            PsyncReply::Continue { new_id: "".into() }
        );
        assert!(PsyncReply::parse(b"-ERR").is_err());
        assert_eq!(take_line(b"+OK\r\nx"), Some((&b"+OK"[..], 5)));
        assert_eq!(take_line(b"+OK"), None);
    }
}
