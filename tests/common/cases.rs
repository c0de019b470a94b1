//! The tests/cases/*.txt reader shared by the differential and the
//! propagation tests: one command per line, redis-cli-like quoting, `#`
//! comments and blank lines ignored, `!` directives for the next command
//! (the format is described in tests/differential.rs).

use super::split;
use std::path::{Path, PathBuf};

/// A `!` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Directive {
    Sorted,
    SortedPairs,
    NoCompare,
    SleepMs(u64),
    Resp3,
}

/// What one meaningful line of a case file asks for.
#[derive(Clone, Debug)]
pub enum Step {
    Command(Vec<Vec<u8>>),
    Directive(Directive),
    /// A line that can't be understood (unknown directive, unbalanced
    /// quotes): the message says why.
    Bad(String),
}

/// One meaningful line: its 1-based number, its trimmed text, its step.
#[derive(Clone, Debug)]
pub struct Line {
    pub lineno: usize,
    pub shown: String,
    pub step: Step,
}

/// tests/cases/*.txt, sorted by name; `filter_var` names an environment
/// variable (`a,b`) that keeps only files whose name contains `a` or `b`;
/// it says so when none is left.
pub fn case_files(filter_var: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    if let Ok(filter) = std::env::var(filter_var) {
        let wanted: Vec<&str> = filter
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if !wanted.is_empty() {
            files.retain(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                wanted.iter().any(|w| name.contains(w))
            });
        }
    }
    if files.is_empty() {
        eprintln!(
            "no case files selected ({filter_var}={:?})",
            std::env::var(filter_var).ok()
        );
    }
    files
}

/// The file's name without its directory, for messages.
pub fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().to_string()
}

/// Every command and directive line of a case file, in order.
pub fn read_case(path: &Path) -> Vec<Line> {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut out = Vec::new();
    for (i, raw_line) in text.split(|&c| c == b'\n').enumerate() {
        let line = raw_line.strip_suffix(b"\r").unwrap_or(raw_line);
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() || trimmed[0] == b'#' {
            continue;
        }
        let shown = String::from_utf8_lossy(trimmed).to_string();
        let step = if trimmed[0] == b'!' {
            directive(&trimmed[1..], &shown)
        } else {
            match split(trimmed) {
                None => Step::Bad(format!("unbalanced quotes in case line: {shown}")),
                Some(args) if args.is_empty() => continue,
                Some(args) => Step::Command(args),
            }
        };
        out.push(Line {
            lineno: i + 1,
            shown,
            step,
        });
    }
    out
}

fn directive(text: &[u8], shown: &str) -> Step {
    let words: Vec<&str> = std::str::from_utf8(text)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    Step::Directive(match words.as_slice() {
        ["sorted"] => Directive::Sorted,
        ["sortedpairs"] => Directive::SortedPairs,
        ["nocompare"] => Directive::NoCompare,
        ["resp3"] => Directive::Resp3,
        ["sleep", ms] => match ms.parse::<u64>() {
            Ok(ms) => Directive::SleepMs(ms),
            Err(_) => return Step::Bad(format!("bad directive {shown:?} (want !sleep <ms>)")),
        },
        _ => return Step::Bad(format!("unknown directive {shown:?}")),
    })
}
