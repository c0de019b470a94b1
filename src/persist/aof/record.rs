//! Write records: commands in the RESP form the AOF and the replication
//! stream share.
//!
//! ```text
//! *3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n
//! ```

use crate::resp::push_i64;

/// Appends `args` as one RESP array of bulk strings.
pub fn encode_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    out.push(b'*');
    push_i64(out, args.len() as i64);
    out.extend_from_slice(b"\r\n");
    for a in args {
        let a = a.as_ref();
        out.push(b'$');
        push_i64(out, a.len() as i64);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// `SELECT <db>` as a record.
pub fn encode_select(out: &mut Vec<u8>, db: usize) {
    encode_command(out, &[b"SELECT".as_slice(), db.to_string().as_bytes()]);
}

/// Records gathered before they reach the log (a transaction's commands,
/// wrapped in MULTI/EXEC when appended): encoded commands, each with the
/// database it ran in (None: any, e.g. MULTI).
#[derive(Default, Debug)]
pub struct Records {
    pub bytes: Vec<u8>,
    /// (database, end of the command in `bytes`).
    pub items: Vec<(Option<usize>, usize)>,
    /// Where the next commands go (a script's redis.set_repl).
    pub targets: Targets,
    /// The commands (by index in `items`) that go to one target only.
    one_target: Vec<(usize, Targets)>,
}

/// Where a command propagates: the AOF, the replicas (Redis's
/// PROPAGATE_AOF and PROPAGATE_REPL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Targets {
    pub aof: bool,
    pub replicas: bool,
}

impl Targets {
    pub const ALL: Targets = Targets {
        aof: true,
        replicas: true,
    };
}

impl Default for Targets {
    fn default() -> Targets {
        Targets::ALL
    }
}

impl Records {
    pub fn push<A: AsRef<[u8]>>(&mut self, db: Option<usize>, args: &[A]) {
        if self.note_targets() {
            encode_command(&mut self.bytes, args);
            self.items.push((db, self.bytes.len()));
        }
    }

    /// Appends commands already encoded (`encoded` may hold several).
    pub fn push_encoded(&mut self, db: Option<usize>, encoded: &[u8]) {
        if self.note_targets() {
            self.bytes.extend_from_slice(encoded);
            self.items.push((db, self.bytes.len()));
        }
    }

    /// Notes the targets of the command about to be pushed; false when it
    /// goes nowhere (and is not gathered).
    fn note_targets(&mut self) -> bool {
        let t = self.targets;
        if t != Targets::ALL {
            if !t.aof && !t.replicas {
                return false;
            }
            self.one_target.push((self.items.len(), t));
        }
        true
    }

    pub fn append(&mut self, other: Records) {
        let base = self.bytes.len();
        let first = self.items.len();
        self.bytes.extend_from_slice(&other.bytes);
        self.items
            .extend(other.items.into_iter().map(|(db, end)| (db, end + base)));
        self.one_target
            .extend(other.one_target.into_iter().map(|(i, t)| (i + first, t)));
    }

    /// Each command bound for the AOF (`aof`) or the replicas, with its
    /// database and bytes, in order.
    pub fn iter_to(&self, aof: bool) -> impl Iterator<Item = (Option<usize>, &[u8])> {
        let mut limited = self.one_target.iter().peekable();
        self.iter().enumerate().filter_map(move |(i, item)| {
            match limited.next_if(|&&(at, _)| at == i) {
                Some((_, t)) if !(if aof { t.aof } else { t.replicas }) => None,
                _ => Some(item),
            }
        })
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether more than one command was gathered (Redis wraps a
    /// transaction's propagation in MULTI/EXEC only then: a single
    /// command is atomic by itself).
    pub fn several(&self) -> bool {
        match self.items.as_slice() {
            [] => false,
            [_] => command_len(&self.bytes).is_some_and(|n| n < self.bytes.len()),
            _ => true,
        }
    }

    /// The database of the first command that names one.
    pub fn first_db(&self) -> Option<usize> {
        self.items.iter().find_map(|&(db, _)| db)
    }

    /// Each command's database and bytes, in order.
    pub fn iter(&self) -> impl Iterator<Item = (Option<usize>, &[u8])> {
        let mut start = 0;
        self.items.iter().map(move |&(db, end)| {
            let s = start;
            start = end;
            (db, &self.bytes[s..end])
        })
    }
}

/// The length of the first encoded command (`*N` then N bulk strings)
/// in `bytes`; None if it is not one.
fn command_len(bytes: &[u8]) -> Option<usize> {
    // A `<tag><number>\r\n` line at `at`: the number and where it ends.
    let line = |at: usize, tag: u8| -> Option<(usize, usize)> {
        if bytes.get(at) != Some(&tag) {
            return None;
        }
        let end = at + bytes[at..].windows(2).position(|w| w == b"\r\n")?;
        let n = std::str::from_utf8(&bytes[at + 1..end])
            .ok()?
            .parse()
            .ok()?;
        Some((n, end + 2))
    };
    let (count, mut at) = line(0, b'*')?;
    for _ in 0..count {
        let (len, start) = line(at, b'$')?;
        at = start + len + 2;
    }
    (at <= bytes.len()).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_resp_arrays() {
        let mut out = Vec::new();
        encode_command(&mut out, &["SET", "k", "vv"]);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nvv\r\n");
        out.clear();
        encode_select(&mut out, 12);
        assert_eq!(out, b"*2\r\n$6\r\nSELECT\r\n$2\r\n12\r\n");
    }

    #[test]
    fn records_keep_their_databases() {
        let mut r = Records::default();
        r.push(Some(1), &["DEL", "a"]);
        let mut other = Records::default();
        other.push(None, &["MULTI"]);
        r.append(other);
        let got: Vec<_> = r.iter().collect();
        assert_eq!(got[0], (Some(1), &b"*2\r\n$3\r\nDEL\r\n$1\r\na\r\n"[..]));
        assert_eq!(got[1], (None, &b"*1\r\n$5\r\nMULTI\r\n"[..]));
    }
}
