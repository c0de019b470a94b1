//! LCS: the longest common subsequence of two strings.

use super::super::util::{arg_i64, NOT_INTEGER, SYNTAX};
use super::super::Ctx;
use super::{opt, read_str};

/// One run of matching bytes: `a[a0..=a1]` equals `b[b0..=b1]`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Match {
    pub a: (usize, usize),
    pub b: (usize, usize),
}

impl Match {
    fn len(&self) -> usize {
        self.a.1 - self.a.0 + 1
    }
}

/// The LCS of `a` and `b` with its matching runs, found as Redis does
/// (the same dynamic-programming table and walk back from the end, so
/// ties resolve the same way). Runs come last-first, as Redis emits them.
pub(crate) fn lcs_table_walk(a: &[u8], b: &[u8], want_runs: bool) -> (Vec<u8>, Vec<Match>) {
    let w = b.len() + 1;
    let mut t = vec![0u32; (a.len() + 1) * w];
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            t[i * w + j] = if a[i - 1] == b[j - 1] {
                t[(i - 1) * w + j - 1] + 1
            } else {
                t[(i - 1) * w + j].max(t[i * w + j - 1])
            };
        }
    }
    let total = t[a.len() * w + b.len()] as usize;
    let mut out = vec![0u8; total];
    let mut runs = Vec::new();
    let mut cur: Option<Match> = None;
    let (mut i, mut j, mut k) = (a.len(), b.len(), total);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            out[k - 1] = a[i - 1];
            match &mut cur {
                None => {
                    cur = Some(Match {
                        a: (i - 1, i - 1),
                        b: (j - 1, j - 1),
                    })
                }
                Some(m) if m.a.0 == i && m.b.0 == j => {
                    m.a.0 -= 1;
                    m.b.0 -= 1;
                }
                Some(_) => emit = true,
            }
            if cur.as_ref().is_some_and(|m| m.a.0 == 0 || m.b.0 == 0) {
                emit = true;
            }
            k -= 1;
            i -= 1;
            j -= 1;
        } else {
            if t[(i - 1) * w + j] > t[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            emit = cur.is_some();
        }
        if emit {
            if let Some(m) = cur.take() {
                if want_runs {
                    runs.push(m);
                }
            }
        }
    }
    (out, runs)
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]
pub fn lcs(ctx: &mut Ctx, args: &[&[u8]]) {
    let (Ok(a), Ok(b)) = (fetch(ctx, args[1]), fetch(ctx, args[2])) else {
        return ctx
            .out
            .error("ERR The specified keys must contain string values");
    };
    let (mut len, mut idx, mut withmatchlen, mut minmatchlen) = (false, false, false, 0i64);
    let mut j = 3;
    while j < args.len() {
        let a = args[j];
        let more = j + 1 < args.len();
        if opt(a, "idx") {
            idx = true;
        } else if opt(a, "len") {
            len = true;
        } else if opt(a, "withmatchlen") {
            withmatchlen = true;
        } else if opt(a, "minmatchlen") && more {
            let Some(n) = arg_i64(args[j + 1]) else {
                return ctx.out.error(NOT_INTEGER);
            };
            minmatchlen = n.max(0);
            j += 1;
        } else {
            return ctx.out.error(SYNTAX);
        }
        j += 1;
    }
    if len && idx {
        return ctx
            .out
            .error("ERR If you want both the length and indexes, please just use IDX.");
    }
    let table_bytes = (a.len() as u64 + 1) * (b.len() as u64 + 1) * 4;
    if table_bytes > ctx.limits.proto_max_bulk_len {
        return ctx
            .out
            .error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
    }
    let (common, runs) = lcs_table_walk(&a, &b, idx);
    let out = &mut *ctx.out;
    if idx {
        let shown: Vec<&Match> = runs
            .iter()
            .filter(|m| minmatchlen == 0 || m.len() as i64 >= minmatchlen)
            .collect();
        out.map(2);
        out.bulk(b"matches");
        out.array(shown.len());
        for m in shown {
            out.array(2 + withmatchlen as usize);
            for (x, y) in [m.a, m.b] {
                out.array(2);
                out.int(x as i64);
                out.int(y as i64);
            }
            if withmatchlen {
                out.int(m.len() as i64);
            }
        }
        out.bulk(b"len");
        out.int(common.len() as i64);
    } else if len {
        out.int(common.len() as i64);
    } else {
        out.bulk(&common);
    }
}

/// The string at `key` (empty when missing); Err(()) for another type,
/// with nothing replied yet.
fn fetch(ctx: &mut Ctx, key: &[u8]) -> Result<Vec<u8>, ()> {
    let mark = ctx.out.buf.len();
    let (found, out) = read_str(ctx, key);
    // read_str replied WRONGTYPE; LCS has its own error instead.
    out.buf.truncate(mark);
    found.map(|s| s.map(<[u8]>::to_vec).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_runs_like_redis() {
        let (s, runs) = lcs_table_walk(b"ohmytext", b"mynewtext", true);
        assert_eq!(s, b"mytext");
        assert_eq!(
            runs,
            vec![
                Match {
                    a: (4, 7),
                    b: (5, 8)
                },
                Match {
                    a: (2, 3),
                    b: (0, 1)
                }
            ]
        );
        let (s, runs) = lcs_table_walk(b"", b"abc", true);
        assert!(s.is_empty() && runs.is_empty());
    }
}
