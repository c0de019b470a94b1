//! SORT and SORT_RO: `SORT key [BY pattern] [LIMIT offset count]
//! [GET pattern ...] [ASC|DESC] [ALPHA] [STORE destination]`, as Redis
//! 7.0's sort.c behaves (option parsing, the direct loads for `BY nosort`,
//! numeric and ALPHA comparisons, STORE making a list).
//!
//! A shard command like any other: its keys are the sorted key and
//! STORE's destination (`sort_keys`, Redis's sortGetKeys), and the keys
//! BY/GET patterns name are found in the sorted value (`DataKeys`), so
//! with several shards the multi-shard path gathers them all and the
//! handler runs once on one keyspace, logged, WATCHed and notified as
//! every command is.

use super::spec::{
    Acl, BeginSearch, CommandSpec, DataKeys, FindKeys, Flags, Handler, KeyFlags, KeySpec,
};
use super::util::{arg_i64, is, NOT_INTEGER, SYNTAX, WRONGTYPE};
use super::{Class, Ctx};
use crate::resp::Out;
use crate::store::{Db, Value};
use std::cmp::Ordering;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "sort",
        arity: -2,
        flags: Flags::WRITE.with(Flags::DENYOOM).with(Flags::MOVABLEKEYS),
        acl: Acl::WRITE.with_bits(Acl::SET).with_bits(Acl::SORTEDSET).with_bits(Acl::LIST).with_bits(Acl::SLOW).with_bits(Acl::DANGEROUS),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }, KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Unknown, find: FindKeys::Unknown }, KeySpec { flags: KeyFlags::OW.with(KeyFlags::UPDATE), begin: BeginSearch::Unknown, find: FindKeys::Unknown }],
        handler: Handler::Shard(sort),
        key_finder: Some(sort_keys),
        data_keys: Some(DataKeys { used: sort_uses_keys, find: pattern_keys }),
        group: "generic",
        since: "1.0.0",
        summary: "Sort the elements in a list, set or sorted set",
        complexity: "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sort_ro",
        arity: -2,
        flags: Flags::READONLY.with(Flags::MOVABLEKEYS),
        acl: Acl::READ.with_bits(Acl::SET).with_bits(Acl::SORTEDSET).with_bits(Acl::LIST).with_bits(Acl::SLOW).with_bits(Acl::DANGEROUS),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }, KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Unknown, find: FindKeys::Unknown }],
        handler: Handler::Shard(sort_ro),
        data_keys: Some(DataKeys { used: sort_ro_uses_keys, find: pattern_keys }),
        group: "generic",
        since: "7.0.0",
        summary: "Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
        complexity: "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).",
        ..CommandSpec::DEFAULT
    },
];

const NOT_DOUBLE: &str = "ERR One or more scores can't be converted into double";
const BY_IN_CLUSTER: &str = "ERR BY option of SORT denied in Cluster mode.";
const GET_IN_CLUSTER: &str = "ERR GET option of SORT denied in Cluster mode.";
const BY_DENIED: &str = "ERR BY option of SORT denied due to insufficient ACL permissions.";
const GET_DENIED: &str = "ERR GET option of SORT denied due to insufficient ACL permissions.";

/// What may refuse BY and GET patterns (keys named by the data).
#[derive(Clone, Copy)]
struct PatternRules {
    /// Cluster mode: refused.
    cluster: bool,
    /// The user may read every key (Redis's
    /// ACLUserCheckCmdWithUnrestrictedKeyAccess); if not, refused.
    full_key_read: bool,
}

/// For looking at the options apart from running them.
const ANY_PATTERN: PatternRules = PatternRules {
    cluster: false,
    full_key_read: true,
};

/// SORT's options, parsed as Redis's `sortCommandGeneric` does.
#[derive(Clone, Debug, Default)]
struct SortOpts {
    desc: bool,
    alpha: bool,
    limit_start: i64,
    limit_count: i64,
    store: Option<Vec<u8>>,
    by: Option<Vec<u8>>,
    dontsort: bool,
    gets: Vec<Vec<u8>>,
}

/// The bytes C code sees: up to the first NUL.
fn c_str(a: &[u8]) -> &[u8] {
    match memchr::memchr(0, a) {
        Some(i) => &a[..i],
        None => a,
    }
}

fn parse(args: &[&[u8]], readonly: bool, rules: PatternRules) -> Result<SortOpts, &'static str> {
    let mut o = SortOpts {
        limit_count: -1,
        ..Default::default()
    };
    let argc = args.len();
    let mut j = 2;
    while j < argc {
        let left = argc - j - 1;
        let a = &args[j];
        if is(a, "asc") {
            o.desc = false;
        } else if is(a, "desc") {
            o.desc = true;
        } else if is(a, "alpha") {
            o.alpha = true;
        } else if is(a, "limit") && left >= 2 {
            match (arg_i64(args[j + 1]), arg_i64(args[j + 2])) {
                (Some(s), Some(c)) => (o.limit_start, o.limit_count) = (s, c),
                _ => return Err(NOT_INTEGER),
            }
            j += 2;
        } else if !readonly && is(a, "store") && left >= 1 {
            o.store = Some(args[j + 1].to_vec());
            j += 1;
        } else if is(a, "by") && left >= 1 {
            let p = args[j + 1];
            if !c_str(p).contains(&b'*') {
                o.dontsort = true;
            } else if rules.cluster {
                return Err(BY_IN_CLUSTER);
            } else if !rules.full_key_read {
                return Err(BY_DENIED);
            }
            o.by = Some(p.to_vec());
            j += 1;
        } else if is(a, "get") && left >= 1 {
            if rules.cluster {
                return Err(GET_IN_CLUSTER);
            }
            if !rules.full_key_read {
                return Err(GET_DENIED);
            }
            o.gets.push(args[j + 1].to_vec());
            j += 1;
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

/// What a BY/GET pattern refers to for one element.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ref {
    /// `#`: the element itself.
    Elem,
    /// No `*`: nothing.
    Nothing,
    /// A string key, or a hash field (`key->field`).
    Key(Vec<u8>, Option<Vec<u8>>),
}

/// Redis's `lookupKeyByPattern`, the key-building half.
fn pattern_ref(pattern: &[u8], elem: &[u8]) -> Ref {
    if pattern.first() == Some(&b'#') && (pattern.len() == 1 || pattern[1] == 0) {
        return Ref::Elem;
    }
    let cp = c_str(pattern);
    let Some(star) = cp.iter().position(|&c| c == b'*') else {
        return Ref::Nothing;
    };
    let arrow = cp[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|i| star + 1 + i);
    let field = match arrow {
        Some(f) if f + 2 < cp.len() => Some(pattern[f + 2..].to_vec()),
        _ => None,
    };
    let fieldlen = field.as_ref().map_or(0, |f| f.len() + 2);
    let postfix_len = pattern.len() - (star + 1) - fieldlen;
    let mut key = Vec::with_capacity(star + elem.len() + postfix_len);
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(&pattern[star + 1..star + 1 + postfix_len]);
    Ref::Key(key, field)
}

/// Looks a pattern key up in this shard's database (counting the hit or
/// miss): a string value, or a field of a hash.
fn lookup_ref(
    db: &mut Db,
    now: u64,
    stats: &mut (u64, u64),
    key: &[u8],
    field: Option<&[u8]>,
) -> Option<Vec<u8>> {
    let Some(e) = db.lookup_read(key, now) else {
        stats.1 += 1;
        return None;
    };
    stats.0 += 1;
    match field {
        Some(f) => match &e.value {
            Value::Hash(h) => h.get(f).map(|v| v.to_vec()),
            _ => None,
        },
        None => e.value.as_str().map(|s| s.to_vec()),
    }
}

/// The source key's elements to sort, with the ranges adjusted as Redis
/// does (the direct, already-ordered loads of lists and zsets).
#[derive(Debug)]
struct Loaded {
    items: Vec<Vec<u8>>,
    start: i64,
    end: i64,
    dontsort: bool,
    alpha: bool,
    by: Option<Vec<u8>>,
}

/// Loads the elements of `key` (the first phase of SORT). Err(()) means
/// WRONGTYPE. A sorted set is converted to its large encoding, as Redis
/// does for SORT.
fn load(
    db: &mut Db,
    now: u64,
    stats: &mut (u64, u64),
    key: &[u8],
    o: &SortOpts,
    from_script: bool,
) -> Result<Loaded, ()> {
    let mut dontsort = o.dontsort;
    let mut alpha = o.alpha;
    let mut by = o.by.clone();
    let entry = db.lookup_read(key, now);
    if entry.is_some() {
        stats.0 += 1;
    } else {
        stats.1 += 1;
    }
    #[derive(PartialEq)]
    enum Kind {
        List,
        Set,
        ZSet,
    }
    let kind = match entry.as_ref().map(|e| &e.value) {
        None => Kind::List,
        Some(Value::List(_)) => Kind::List,
        Some(Value::Set(_)) => Kind::Set,
        Some(Value::ZSet(_)) => Kind::ZSet,
        Some(_) => return Err(()),
    };
    // A set's order is the server's own: what a store or a script sees
    // is sorted, so replicas and the AOF get the same result.
    if dontsort && kind == Kind::Set && (o.store.is_some() || from_script) {
        dontsort = false;
        alpha = true;
        by = None;
    }
    let value: Option<&Value> = match entry.map(|e| &mut e.value) {
        Some(v) => {
            if let Value::ZSet(z) = v {
                z.convert_to_skiplist();
            }
            Some(&*v)
        }
        None => None,
    };
    let len = match value {
        None => 0,
        Some(Value::List(l)) => list_len(l),
        Some(Value::Set(s)) => s.len(),
        Some(Value::ZSet(z)) => z.len(),
        Some(_) => 0,
    } as i64;
    let mut start = o.limit_start.max(0).min(len);
    let count = o.limit_count.max(-1).min(len);
    let mut end = if count < 0 {
        len - 1
    } else {
        start + count - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    let mut vectorlen = len;
    if kind != Kind::Set && dontsort && (start != 0 || end != len - 1) {
        vectorlen = end - start + 1;
    }
    let mut items = Vec::new();
    match value {
        None => {}
        Some(Value::List(l)) => {
            let all = list_items(l);
            if dontsort {
                if end >= start {
                    let n = vectorlen.max(0) as usize;
                    if o.desc {
                        let first = (len - start - 1) as usize;
                        items.extend(all[..=first].iter().rev().take(n).cloned());
                    } else {
                        items.extend(all[start as usize..].iter().take(n).cloned());
                    }
                    end -= start;
                    start = 0;
                }
            } else {
                items = all;
            }
        }
        Some(Value::Set(s)) => items.extend(s.iter().map(|m| m.to_vec())),
        Some(Value::ZSet(z)) => {
            if dontsort {
                let n = vectorlen.max(0) as usize;
                if n > 0 {
                    let it = if o.desc {
                        z.iter_at((len - 1 - start) as usize, true)
                    } else {
                        z.iter_at(start as usize, false)
                    };
                    items.extend(it.take(n).map(|(m, _)| m.to_vec()));
                }
                end -= start;
                start = 0;
            } else {
                items.extend(z.iter().map(|(m, _)| m.to_vec()));
            }
        }
        Some(_) => {}
    }
    Ok(Loaded {
        items,
        start,
        end,
        dontsort,
        alpha,
        by,
    })
}

/// A numeric sort weight as SORT parses it: strtod must consume the whole
/// (C) string, no overflow/underflow, not NaN.
fn weight(v: &[u8]) -> Option<f64> {
    let s = c_str(v);
    let (x, n, erange) = super::zsets::strtod(s);
    (n == s.len() && !erange && !x.is_nan()).then_some(x)
}

/// C's strcmp/strcoll in the C locale: up to the first NUL.
fn strcoll(a: &[u8], b: &[u8]) -> Ordering {
    c_str(a).cmp(c_str(b))
}

/// Sorts `l.items` (phase 3) given the BY values (one per item, when BY
/// is used). Returns the ordered output range, or Err on a value that is
/// not a number.
fn order(
    l: &Loaded,
    byvals: Option<Vec<Option<Vec<u8>>>>,
    desc: bool,
    store: bool,
) -> Result<Vec<usize>, ()> {
    let n = l.items.len();
    let mut idx: Vec<usize> = (0..n).collect();
    if !l.dontsort {
        let bypattern = l.by.is_some();
        if l.alpha {
            let cmp = |a: &usize, b: &usize| -> Ordering {
                let c = if bypattern {
                    let bv = byvals.as_ref().expect("BY values");
                    match (&bv[*a], &bv[*b]) {
                        (None, None) => Ordering::Equal,
                        (None, Some(_)) => Ordering::Less,
                        (Some(_), None) => Ordering::Greater,
                        (Some(x), Some(y)) => {
                            if store {
                                x.cmp(y)
                            } else {
                                strcoll(x, y)
                            }
                        }
                    }
                } else if store {
                    l.items[*a].cmp(&l.items[*b])
                } else {
                    strcoll(&l.items[*a], &l.items[*b])
                };
                if desc {
                    c.reverse()
                } else {
                    c
                }
            };
            idx.sort_by(cmp);
        } else {
            let mut scores = vec![0f64; n];
            let mut bad = false;
            for (i, s) in scores.iter_mut().enumerate() {
                let v: &[u8] = match &byvals {
                    Some(bv) => match &bv[i] {
                        Some(v) => v,
                        None => continue,
                    },
                    None => &l.items[i],
                };
                match weight(v) {
                    Some(x) => *s = x,
                    None => bad = true,
                }
            }
            idx.sort_by(|a, b| {
                let c = match scores[*a].partial_cmp(&scores[*b]) {
                    Some(Ordering::Equal) | None => l.items[*a].cmp(&l.items[*b]),
                    Some(o) => o,
                };
                if desc {
                    c.reverse()
                } else {
                    c
                }
            });
            if bad {
                return Err(());
            }
        }
    }
    if l.end < l.start {
        return Ok(Vec::new());
    }
    Ok(idx[l.start as usize..=(l.end as usize).min(n.saturating_sub(1))].to_vec())
}

/// The reply (or the list to store) from the ordered elements and the GET
/// values (`gets.len()` per element, in order).
fn finish(out: &mut Out, items: &[&[u8]], gets: usize, getvals: &[Option<Vec<u8>>]) {
    let outlen = if gets > 0 {
        gets * items.len()
    } else {
        items.len()
    };
    out.array(outlen);
    for (i, it) in items.iter().enumerate() {
        if gets == 0 {
            out.bulk(it);
        }
        for v in &getvals[i * gets..(i + 1) * gets] {
            match v {
                Some(v) => out.bulk(v),
                None => out.null(),
            }
        }
    }
}

fn stored_items(items: &[&[u8]], gets: usize, getvals: Vec<Option<Vec<u8>>>) -> Vec<Vec<u8>> {
    if gets == 0 {
        return items.iter().map(|i| i.to_vec()).collect();
    }
    getvals.into_iter().map(|v| v.unwrap_or_default()).collect()
}

/// Writes the SORT ... STORE result at `dst` (deleting it when empty);
/// returns the dirty count and the event to signal, as Redis's
/// sortCommandGeneric: `sortstore` (a list event) for a stored list,
/// `del` when an empty result deleted the destination.
fn write_store(
    db: &mut Db,
    dst: &[u8],
    items: Vec<Vec<u8>>,
    lim: &crate::store::EncodingLimits,
    lru: u32,
) -> (u64, Option<(Class, &'static str)>) {
    let n = items.len() as u64;
    if n > 0 {
        db.set(dst, new_list(items, lim), lru);
        (n, Some((Class::List, "sortstore")))
    } else if db.remove(dst).is_some() {
        (1, Some((Class::Generic, "del")))
    } else {
        (0, None)
    }
}

// ---------------------------------------------------------------------------
// List access (the list type's API).

fn list_len(l: &crate::store::List) -> usize {
    l.len()
}

fn list_items(l: &crate::store::List) -> Vec<Vec<u8>> {
    l.iter().map(|v| v.to_vec()).collect()
}

fn new_list(items: Vec<Vec<u8>>, lim: &crate::store::EncodingLimits) -> Value {
    let mut l = crate::store::List::new();
    for it in &items {
        l.push(crate::store::list::End::Right, it, lim);
    }
    Value::List(crate::store::PackedBox::new(l))
}

// ---------------------------------------------------------------------------
// The commands.

fn sort(ctx: &mut Ctx, argv: &[&[u8]]) {
    sort_generic(ctx, argv, false)
}

fn sort_ro(ctx: &mut Ctx, argv: &[&[u8]]) {
    sort_generic(ctx, argv, true)
}

/// The whole SORT on one keyspace: every key it touches is in `ctx`'s
/// store (on one shard, or gathered there by the multi-shard path, which
/// finds the pattern keys with `DataKeys`).
fn sort_generic(ctx: &mut Ctx, argv: &[&[u8]], readonly: bool) {
    let rules = PatternRules {
        cluster: ctx.limits.cluster,
        full_key_read: ctx.full_key_read,
    };
    let o = match parse(argv, readonly, rules) {
        Ok(o) => o,
        Err(e) => return ctx.out.error(e),
    };
    let (now, lru) = (ctx.now_ms, ctx.lru);
    let lim = ctx.limits.encodings.clone();
    let mut stats = (0, 0);
    let key = argv[1];
    let from_script = ctx.from_script;
    let d = &mut ctx.store.dbs[ctx.db];
    let loaded = load(d, now, &mut stats, key, &o, from_script);
    let outcome = loaded.map_err(|()| WRONGTYPE).and_then(|loaded| {
        let lookup = |d: &mut Db, stats: &mut (u64, u64), r: Ref, e: &[u8]| match r {
            Ref::Elem => Some(e.to_vec()),
            Ref::Nothing => None,
            Ref::Key(k, f) => lookup_ref(d, now, stats, &k, f.as_deref()),
        };
        let byvals = match (&loaded.by, loaded.dontsort) {
            (Some(by), false) => Some(
                loaded
                    .items
                    .iter()
                    .map(|e| lookup(d, &mut stats, pattern_ref(by, e), e))
                    .collect(),
            ),
            _ => None,
        };
        let sel = order(&loaded, byvals, o.desc, o.store.is_some()).map_err(|()| NOT_DOUBLE)?;
        let items: Vec<&[u8]> = sel.iter().map(|&i| loaded.items[i].as_slice()).collect();
        let mut getvals = Vec::with_capacity(items.len() * o.gets.len());
        for it in &items {
            for g in &o.gets {
                getvals.push(lookup(d, &mut stats, pattern_ref(g, it), it));
            }
        }
        Ok(match &o.store {
            None => Sorted::Reply(items.iter().map(|i| i.to_vec()).collect(), getvals),
            Some(dst) => {
                let list = stored_items(&items, o.gets.len(), getvals);
                let n = list.len();
                let (dirty, event) = write_store(d, dst, list, &lim, lru);
                Sorted::Stored(n, dirty, event)
            }
        })
    });
    ctx.hits += stats.0;
    ctx.misses += stats.1;
    match outcome {
        Err(e) => ctx.out.error(e),
        Ok(Sorted::Reply(items, getvals)) => {
            let items: Vec<&[u8]> = items.iter().map(|i| i.as_slice()).collect();
            finish(ctx.out, &items, o.gets.len(), &getvals);
        }
        Ok(Sorted::Stored(n, dirty, event)) => {
            let dst = o.store.as_deref().expect("STORE");
            ctx.dirty += dirty;
            if let Some((class, name)) = event {
                ctx.notify(class, name, dst);
            }
            ctx.out.int(n as i64);
        }
    }
}

/// What a SORT came to: the elements and GET values to reply with, or
/// the stored list's length with its dirty count and event.
enum Sorted {
    Reply(Vec<Vec<u8>>, Vec<Option<Vec<u8>>>),
    Stored(usize, u64, Option<(Class, &'static str)>),
}

/// Redis's `sortGetKeys`: the sorted key (read-only), and the last STORE
/// option's destination (overwritten); LIMIT, GET and BY skip their
/// arguments.
fn sort_keys(argv: &[&[u8]], found: &mut Vec<(usize, usize)>) {
    if argv.len() < 2 {
        return;
    }
    found.push((1, 0));
    let mut store = None;
    let mut i = 2;
    while i < argv.len() {
        let a = argv[i];
        if is(a, "limit") {
            i += 2;
        } else if is(a, "get") || is(a, "by") {
            i += 1;
        } else if is(a, "store") && i + 1 < argv.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    if let Some(dst) = store {
        found.push((dst, 2));
    }
}

/// Whether SORT's BY or GET options read keys named by the elements.
fn reads_pattern_keys(o: &SortOpts) -> bool {
    o.by.as_ref()
        .is_some_and(|b| !o.dontsort && c_str(b).contains(&b'*'))
        || o.gets
            .iter()
            .any(|g| matches!(pattern_ref(g, b""), Ref::Key(..)))
}

fn sort_uses_keys(argv: &[&[u8]]) -> bool {
    parse(argv, false, ANY_PATTERN).is_ok_and(|o| reads_pattern_keys(&o))
}

fn sort_ro_uses_keys(argv: &[&[u8]]) -> bool {
    parse(argv, true, ANY_PATTERN).is_ok_and(|o| reads_pattern_keys(&o))
}

/// Every key a BY or GET pattern names for some element of the sorted
/// key: a superset of what the sort will look up.
fn pattern_keys(db: &Db, now: u64, argv: &[&[u8]]) -> Vec<Vec<u8>> {
    // SORT_RO's options are SORT's without STORE.
    let Ok(o) = parse(argv, false, ANY_PATTERN) else {
        return Vec::new();
    };
    let Some(entry) = db.peek(argv[1], now) else {
        return Vec::new();
    };
    let elems: Vec<Vec<u8>> = match &entry.value {
        Value::List(l) => list_items(l),
        Value::Set(s) => s.iter().map(|m| m.to_vec()).collect(),
        Value::ZSet(z) => z.iter().map(|(m, _)| m.to_vec()).collect(),
        _ => return Vec::new(),
    };
    let by = o.by.iter().filter(|b| c_str(b).contains(&b'*'));
    let patterns: Vec<&Vec<u8>> = by.chain(o.gets.iter()).collect();
    let mut keys = Vec::new();
    for e in &elems {
        for p in &patterns {
            if let Ref::Key(k, _) = pattern_ref(p, e) {
                keys.push(k);
            }
        }
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert_eq!(pattern_ref(b"#", b"x"), Ref::Elem);
        assert_eq!(pattern_ref(b"nostar", b"x"), Ref::Nothing);
        assert_eq!(pattern_ref(b"w_*", b"x"), Ref::Key(b"w_x".to_vec(), None));
        assert_eq!(
            pattern_ref(b"w_*_s", b"x"),
            Ref::Key(b"w_x_s".to_vec(), None)
        );
        assert_eq!(
            pattern_ref(b"h_*->f", b"x"),
            Ref::Key(b"h_x".to_vec(), Some(b"f".to_vec()))
        );
        assert_eq!(
            pattern_ref(b"h_*->", b"x"),
            Ref::Key(b"h_x->".to_vec(), None)
        );
        assert_eq!(
            pattern_ref(b"h->_*", b"x"),
            Ref::Key(b"h->_x".to_vec(), None)
        );
        assert_eq!(
            pattern_ref(b"*-*->a->b", b"x"),
            Ref::Key(b"x-*".to_vec(), Some(b"a->b".to_vec()))
        );
    }
}
