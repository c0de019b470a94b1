//! The AOF manifest (`<appendfilename>.manifest` in `appenddirname`): which
//! files make up the log, in Redis 7.0's text format.
//!
//! ```text
//! file appendonly.aof.1.base.rdb seq 1 type b
//! file appendonly.aof.1.incr.aof seq 1 type i
//! ```
//!
//! The base comes first (at most one), then history files (`h`, waiting
//! to be deleted), then the incr files in order.

use std::fmt::Write as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Base,
    History,
    Incr,
}

impl FileKind {
    fn letter(self) -> char {
        match self {
            FileKind::Base => 'b',
            FileKind::History => 'h',
            FileKind::Incr => 'i',
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AofFile {
    pub name: String,
    pub seq: u64,
    pub kind: FileKind,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<AofFile>,
    pub history: Vec<AofFile>,
    pub incrs: Vec<AofFile>,
    /// The last base and incr sequence numbers given out (Redis's
    /// curr_base_file_seq / curr_incr_file_seq): numbering goes on from
    /// them even after the files that bore them are gone.
    pub base_seq: u64,
    pub incr_seq: u64,
}

/// Redis's limit on one manifest line.
const MAX_LINE: usize = 1024;

impl Manifest {
    /// Parses a manifest as Redis's `aofLoadManifestFromFile` does; the
    /// error is the reason Redis gives.
    pub fn parse(text: &[u8]) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        if text.is_empty() {
            return Err("Found an empty AOF manifest".into());
        }
        let mut last_incr_seq = 0u64;
        for raw in text.split_inclusive(|&c| c == b'\n') {
            if raw.len() > MAX_LINE {
                return Err("The AOF manifest file contains too long line".into());
            }
            let line = raw.strip_suffix(b"\n").unwrap_or(raw);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.first() == Some(&b'#') {
                continue;
            }
            if raw.last() != Some(&b'\n') {
                return Err("The AOF manifest file is invalid format".into());
            }
            let (mut buf, mut ranges) = (Vec::new(), Vec::new());
            if !crate::resp::split_args(line, &mut buf, &mut ranges) {
                return Err("Invalid AOF manifest file format".into());
            }
            let args: Vec<&[u8]> = ranges.iter().map(|&(s, e)| &buf[s..e]).collect();
            if args.len() < 6 || !args.len().is_multiple_of(2) {
                return Err("Invalid AOF manifest file format".into());
            }
            let (mut name, mut seq, mut kind) = (None, None, None);
            for pair in args.chunks(2) {
                let key = String::from_utf8_lossy(pair[0]).to_ascii_lowercase();
                let val = String::from_utf8_lossy(pair[1]).into_owned();
                match key.as_str() {
                    // A name is a path: one that is not UTF-8 would be
                    // mangled here and name another file (or none).
                    "file" => match std::str::from_utf8(pair[1]) {
                        Ok(n) => name = Some(n.to_string()),
                        Err(_) => return Err("Invalid AOF manifest file format".into()),
                    },
                    "seq" => seq = val.parse::<u64>().ok(),
                    "type" => {
                        kind = match val.as_str() {
                            "b" => Some(FileKind::Base),
                            "h" => Some(FileKind::History),
                            "i" => Some(FileKind::Incr),
                            _ => return Err(format!("Unknown AOF file type: {val}")),
                        }
                    }
                    // Unknown keys: ignored, for forward compatibility.
                    _ => {}
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err("Invalid AOF manifest file format".into());
            };
            if seq == 0 {
                return Err("Invalid AOF manifest file format".into());
            }
            let file = AofFile { name, seq, kind };
            match kind {
                FileKind::Base => {
                    if m.base.is_some() {
                        return Err("Found duplicate base file information".into());
                    }
                    m.base = Some(file);
                    m.base_seq = seq;
                }
                FileKind::History => m.history.push(file),
                FileKind::Incr => {
                    if seq <= last_incr_seq {
                        return Err("Found a non-monotonic sequence number".into());
                    }
                    last_incr_seq = seq;
                    m.incr_seq = seq;
                    m.incrs.push(file);
                }
            }
        }
        if m.base.is_none() && m.incrs.is_empty() && m.history.is_empty() {
            return Err("Found an empty AOF manifest".into());
        }
        Ok(m)
    }

    /// The manifest's text, as Redis writes it.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let files = self.base.iter().chain(&self.history).chain(&self.incrs);
        for f in files {
            let _ = writeln!(
                s,
                "file {} seq {} type {}",
                quote_if_needed(&f.name),
                f.seq,
                f.kind.letter()
            );
        }
        s
    }

    /// Gives out the next base sequence number.
    pub fn new_base_seq(&mut self) -> u64 {
        self.base_seq += 1;
        self.base_seq
    }

    /// Gives out the next incr sequence number.
    pub fn new_incr_seq(&mut self) -> u64 {
        self.incr_seq += 1;
        self.incr_seq
    }
}

/// A file name as `sdscatrepr` would print it when it needs quoting.
fn quote_if_needed(name: &str) -> String {
    let plain = name
        .bytes()
        .all(|c| c.is_ascii_graphic() && c != b'"' && c != b'\'' && c != b'\\');
    if plain {
        return name.to_string();
    }
    crate::resp::repr_string(name.as_bytes())
}

/// `<name>.<seq>.base.rdb` / `.base.aof`, `<name>.<seq>.incr.aof`.
pub fn base_name(appendfilename: &str, seq: u64, rdb: bool) -> String {
    let ext = if rdb { "rdb" } else { "aof" };
    format!("{appendfilename}.{seq}.base.{ext}")
}

pub fn incr_name(appendfilename: &str, seq: u64) -> String {
    format!("{appendfilename}.{seq}.incr.aof")
}

pub fn manifest_name(appendfilename: &str) -> String {
    format!("{appendfilename}.manifest")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A manifest as redis-server 7.0.15 wrote it after one BGREWRITEAOF.
    const REDIS_7_0: &str = "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n";

    #[test]
    fn parses_and_renders_redis_manifest() {
        let m = Manifest::parse(REDIS_7_0.as_bytes()).unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.2.base.rdb");
        assert_eq!(m.incrs.len(), 1);
        assert_eq!(m.render(), REDIS_7_0);
        let mut m = m;
        assert_eq!(m.new_base_seq(), 3);
        assert_eq!(m.new_incr_seq(), 3);
    }

    /// Numbering goes on after the files that bore the last numbers
    /// became history (a rewrite with the AOF off), as Redis's counters.
    #[test]
    fn sequence_numbers_outlive_their_files() {
        let mut m = Manifest::parse(REDIS_7_0.as_bytes()).unwrap();
        m.history.append(&mut m.incrs);
        m.history.extend(m.base.take());
        assert_eq!(m.new_base_seq(), 3);
        assert_eq!(m.new_incr_seq(), 3);
        assert_eq!(m.new_incr_seq(), 4);
    }

    #[test]
    fn keys_in_any_order_comments_and_unknown_keys() {
        let text = b"# comment\nseq 1 type b file x.rdb future yes\nTYPE i FILE y.aof SEQ 4\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.base.unwrap().name, "x.rdb");
        assert_eq!(m.incrs[0].seq, 4);
    }

    #[test]
    fn refuses_what_redis_refuses() {
        for bad in [
            &b""[..],
            b"file a seq 1\n",
            b"file a seq 0 type b\n",
            b"file a seq 1 type x\n",
            b"file a seq 1 type b\nfile b seq 2 type b\n",
            b"file a seq 2 type i\nfile b seq 2 type i\n",
            b"file a seq 1 type b",
        ] {
            assert!(
                Manifest::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn quotes_names_with_spaces() {
        let m = Manifest {
            base: Some(AofFile {
                name: "my file.rdb".into(),
                seq: 1,
                kind: FileKind::Base,
            }),
            base_seq: 1,
            ..Manifest::default()
        };
        let text = m.render();
        assert_eq!(text, "file \"my file.rdb\" seq 1 type b\n");
        assert_eq!(Manifest::parse(text.as_bytes()).unwrap(), m);
    }

    #[test]
    fn refuses_a_name_that_is_not_utf8() {
        // Found by fuzz/aof_load: the name used to be mangled into
        // U+FFFD, naming a file that does not exist.
        let text = b"file \"appe\\x9cnd.aof\" seq 1 type b\nfile appe\x9cnd.aof seq 1 type i\n";
        assert_eq!(
            Manifest::parse(text),
            Err("Invalid AOF manifest file format".into())
        );
    }
}
