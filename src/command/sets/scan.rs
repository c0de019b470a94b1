//! SSCAN, and the COUNT/MATCH options and replies it shares with HSCAN.

use super::access::lookup;
use crate::command::scan::parse_cursor;
use crate::command::util::{arg_i64, is, NOT_INTEGER, SYNTAX, WRONGTYPE};
use crate::command::Ctx;
use crate::resp::Out;
use crate::store::Value;

/// Options of SSCAN/HSCAN after the cursor: COUNT and MATCH (Redis's
/// `scanGenericCommand` for a key's value: TYPE is a syntax error).
pub(crate) struct ScanOpts {
    pub count: usize,
    pub pattern: Option<Vec<u8>>,
}

pub(crate) fn parse_scan_opts(out: &mut Out, args: &[&[u8]]) -> Option<ScanOpts> {
    let mut opts = ScanOpts {
        count: 10,
        pattern: None,
    };
    let mut i = 0;
    while i < args.len() {
        let more = i + 1 < args.len();
        if is(args[i], "count") && more {
            match arg_i64(args[i + 1]) {
                None => {
                    out.error(NOT_INTEGER);
                    return None;
                }
                Some(n) if n < 1 => {
                    out.error(SYNTAX);
                    return None;
                }
                Some(n) => opts.count = usize::try_from(n).unwrap_or(usize::MAX),
            }
        } else if is(args[i], "match") && more {
            let p = args[i + 1];
            opts.pattern = (p != b"*").then(|| p.to_vec());
        } else {
            out.error(SYNTAX);
            return None;
        }
        i += 2;
    }
    Some(opts)
}

impl ScanOpts {
    pub fn keep(&self, item: &[u8]) -> bool {
        self.pattern
            .as_deref()
            .is_none_or(|p| crate::glob::matches(p, item, false))
    }
}

/// `*2 <cursor> *N items`
pub(crate) fn reply_scan(out: &mut Out, cursor: u64, items: &[Vec<u8>]) {
    out.array(2);
    out.bulk(cursor.to_string().as_bytes());
    out.array(items.len());
    for it in items {
        out.bulk(it);
    }
}

/// The empty scan reply for a missing key.
pub(crate) fn reply_empty_scan(out: &mut Out) {
    out.array(2);
    out.bulk(b"0");
    out.array(0);
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
pub(super) fn sscan(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(cursor) = parse_cursor(args[2]) else {
        return ctx.out.error("ERR invalid cursor");
    };
    let (out, e) = lookup(ctx, args[1], true);
    let s = match e.map(|e| &e.value) {
        None => return reply_empty_scan(out),
        Some(Value::Set(s)) => s,
        Some(_) => return out.error(WRONGTYPE),
    };
    let Some(opts) = parse_scan_opts(out, &args[3..]) else {
        return;
    };
    let mut items = Vec::new();
    let next = s.scan(cursor, opts.count, |m| {
        let b = m.to_vec();
        if opts.keep(&b) {
            items.push(b);
        }
    });
    reply_scan(out, next, &items);
}
