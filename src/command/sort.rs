//! SORT and SORT_RO: `SORT key [BY pattern] [LIMIT offset count]
//! [GET pattern ...] [ASC|DESC] [ALPHA] [STORE destination]`, as Redis
//! 7.0's sort.c behaves (option parsing, the direct loads for `BY nosort`,
//! numeric and ALPHA comparisons, STORE making a list).
//!
//! BY/GET patterns name keys that may live on any shard, and STORE's
//! destination may too. When everything involved is on the source key's
//! shard (or there is one shard) the whole command runs there; otherwise
//! every shard is held (ascending, `mesh::hold`) for the duration, the
//! referenced keys are read on their owners in one message per shard, and
//! the result is written on the destination's owner: the same answer, as
//! atomically, as one redis-server gives.

use super::spec::{Acl, BeginSearch, CommandSpec, FindKeys, Flags, Handler, KeySpec};
use super::util::{arg_i64, is, NOT_INTEGER, SYNTAX, WRONGTYPE};
use crate::resp::Out;
use crate::server::conn::Conn;
use crate::server::mesh;
use crate::server::notify::{self, Class, Events, Note};
use crate::server::shard::ShardRt;
use crate::server::shared::unix_ms;
use crate::slot::key_slot;
use crate::store::{Db, Value};
use futures::future::LocalBoxFuture;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::rc::Rc;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "sort",
        arity: -2,
        flags: Flags::WRITE.with(Flags::DENYOOM).with(Flags::MOVABLEKEYS),
        acl: Acl::WRITE.with_bits(Acl::SET).with_bits(Acl::SORTEDSET).with_bits(Acl::LIST).with_bits(Acl::SLOW).with_bits(Acl::DANGEROUS),
        keys: &[KeySpec { flags: &["RO", "ACCESS"], begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }, KeySpec { flags: &["RO", "ACCESS"], begin: BeginSearch::Unknown, find: FindKeys::Unknown }, KeySpec { flags: &["OW", "UPDATE"], begin: BeginSearch::Unknown, find: FindKeys::Unknown }],
        handler: Handler::Conn(sort),
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
        keys: &[KeySpec { flags: &["RO", "ACCESS"], begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }, KeySpec { flags: &["RO", "ACCESS"], begin: BeginSearch::Unknown, find: FindKeys::Unknown }],
        handler: Handler::Conn(sort_ro),
        group: "generic",
        since: "7.0.0",
        summary: "Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
        complexity: "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).",
        ..CommandSpec::DEFAULT
    },
];

const NOT_DOUBLE: &str = "ERR One or more scores can't be converted into double";

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

fn parse(args: &[Vec<u8>], readonly: bool) -> Result<SortOpts, &'static str> {
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
            match (arg_i64(&args[j + 1]), arg_i64(&args[j + 2])) {
                (Some(s), Some(c)) => (o.limit_start, o.limit_count) = (s, c),
                _ => return Err(NOT_INTEGER),
            }
            j += 2;
        } else if !readonly && is(a, "store") && left >= 1 {
            o.store = Some(args[j + 1].clone());
            j += 1;
        } else if is(a, "by") && left >= 1 {
            let p = &args[j + 1];
            if !c_str(p).contains(&b'*') {
                o.dontsort = true;
            }
            o.by = Some(p.clone());
            j += 1;
        } else if is(a, "get") && left >= 1 {
            o.gets.push(args[j + 1].clone());
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
    if dontsort && kind == Kind::Set && o.store.is_some() {
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

/// The keyspace notifications of a step of SORT on this shard: what the
/// store logged (lazy expiries, misses, creations), then `event` on `key`
/// in database `db`. Publish them once the core is released.
fn step_notes(
    events: Events,
    store: &mut crate::store::Store,
    db: usize,
    event: Option<((Class, &'static str), &[u8])>,
) -> Vec<Note> {
    if events.is_off() {
        return Vec::new();
    }
    let mut notes = notify::logged_notes(events, store);
    if let Some(((class, name), key)) = event {
        if events.wants(class) {
            events.messages(db, name, key, &mut notes);
        }
    }
    notes
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
    Value::List(Box::new(l))
}

// ---------------------------------------------------------------------------
// The commands.

fn sort(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(sort_generic(conn, args, false))
}

fn sort_ro(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(sort_generic(conn, args, true))
}

async fn sort_generic(conn: &mut Conn, args: Vec<Vec<u8>>, readonly: bool) {
    let o = match parse(&args, readonly) {
        Ok(o) => o,
        Err(e) => return conn.out.error(e),
    };
    let rt = conn.rt.clone();
    let key = args[1].clone();
    let key_shard = rt.shard_of_slot(key_slot(&key));
    let patterns =
        o.by.as_ref()
            .is_some_and(|b| !o.dontsort && c_str(b).contains(&b'*'))
            || o.gets
                .iter()
                .any(|g| matches!(pattern_ref(g, b""), Ref::Key(..)));
    let dst_shard = o.store.as_ref().map(|d| rt.shard_of_slot(key_slot(d)));
    let db = conn.db;
    let resp3 = conn.out.resp3;
    let one_shard = rt.nshards == 1 || (!patterns && dst_shard.is_none_or(|s| s == key_shard));
    if one_shard {
        let reply = mesh::run_on(&rt, key_shard, move |rt| {
            let reply = sort_local(rt, db, resp3, &key, &o);
            // Clients blocked on the STORE destination (on this shard).
            if let Some(dst) = o.store.clone() {
                rt.keys_ready(db, vec![dst]);
            }
            reply
        })
        .await;
        return conn.out.raw(&reply);
    }
    // Keys on several shards: hold them all (ascending), so the result is
    // what one atomic SORT would give.
    let all: Vec<usize> = (0..rt.nshards).collect();
    let held = mesh::hold(&rt, &all).await;
    let o2 = o.clone();
    let loaded = held
        .run(key_shard, move |rt| {
            let now = unix_ms();
            let events = rt.settings().notify;
            let mut guard = rt.core.borrow_mut();
            let core = &mut *guard;
            notify::prepare_log(events, &mut core.store);
            let mut stats = (0, 0);
            let r = load(&mut core.store.dbs[db], now, &mut stats, &key, &o2);
            core.stats.keyspace_hits += stats.0;
            core.stats.keyspace_misses += stats.1;
            let notes = step_notes(events, &mut core.store, db, None);
            drop(guard);
            notify::publish(rt, notes);
            r
        })
        .await;
    let Ok(loaded) = loaded else {
        return conn.out.error(WRONGTYPE);
    };
    let byvals = match (&loaded.by, loaded.dontsort) {
        (Some(by), false) => {
            let refs = loaded.items.iter().map(|e| pattern_ref(by, e)).collect();
            Some(resolve_remote(&held, &rt, db, refs, &loaded.items).await)
        }
        _ => None,
    };
    let Ok(sel) = order(&loaded, byvals, o.desc, o.store.is_some()) else {
        return conn.out.error(NOT_DOUBLE);
    };
    let items: Vec<&[u8]> = sel.iter().map(|&i| loaded.items[i].as_slice()).collect();
    let mut refs = Vec::with_capacity(items.len() * o.gets.len());
    let mut elems = Vec::with_capacity(refs.capacity());
    for it in &items {
        for g in &o.gets {
            refs.push(pattern_ref(g, it));
            elems.push(it.to_vec());
        }
    }
    let getvals = resolve_remote(&held, &rt, db, refs, &elems).await;
    match o.store {
        None => finish(&mut conn.out, &items, o.gets.len(), &getvals),
        Some(dst) => {
            let list = stored_items(&items, o.gets.len(), getvals);
            let n = list.len();
            let shard = dst_shard.expect("store shard");
            held.run(shard, move |rt| {
                let lim = rt.settings().exec.encodings.clone();
                let lru = rt.lru_clock();
                let events = rt.settings().notify;
                {
                    let mut guard = rt.core.borrow_mut();
                    let core = &mut *guard;
                    notify::prepare_log(events, &mut core.store);
                    let (dirty, event) =
                        write_store(&mut core.store.dbs[db], &dst, list, &lim, lru);
                    core.dirty += dirty;
                    let notes =
                        step_notes(events, &mut core.store, db, event.map(|e| (e, &dst[..])));
                    drop(guard);
                    notify::publish(rt, notes);
                }
                rt.keys_ready(db, vec![dst]);
            })
            .await;
            conn.out.int(n as i64);
        }
    }
    drop(held);
}

/// (position, key, hash field) of one pattern lookup.
type Request = (usize, Vec<u8>, Option<Vec<u8>>);

/// Looks pattern references up on the shards that own them, one message
/// per shard.
async fn resolve_remote(
    held: &mesh::Held<'_>,
    rt: &ShardRt,
    db: usize,
    refs: Vec<Ref>,
    elems: &[Vec<u8>],
) -> Vec<Option<Vec<u8>>> {
    let mut vals: Vec<Option<Vec<u8>>> = vec![None; refs.len()];
    let mut by_shard: BTreeMap<usize, Vec<Request>> = BTreeMap::new();
    for (i, r) in refs.into_iter().enumerate() {
        match r {
            Ref::Elem => vals[i] = Some(elems[i].clone()),
            Ref::Nothing => {}
            Ref::Key(k, f) => {
                let shard = rt.shard_of_slot(key_slot(&k));
                by_shard.entry(shard).or_default().push((i, k, f));
            }
        }
    }
    for (shard, reqs) in by_shard {
        let got: Vec<(usize, Option<Vec<u8>>)> = held
            .run(shard, move |rt| {
                let now = unix_ms();
                let events = rt.settings().notify;
                let mut guard = rt.core.borrow_mut();
                let core = &mut *guard;
                notify::prepare_log(events, &mut core.store);
                let mut stats = (0, 0);
                let d = &mut core.store.dbs[db];
                let r = reqs
                    .into_iter()
                    .map(|(i, k, f)| (i, lookup_ref(d, now, &mut stats, &k, f.as_deref())))
                    .collect();
                core.stats.keyspace_hits += stats.0;
                core.stats.keyspace_misses += stats.1;
                let notes = step_notes(events, &mut core.store, db, None);
                drop(guard);
                notify::publish(rt, notes);
                r
            })
            .await;
        for (i, v) in got {
            vals[i] = v;
        }
    }
    vals
}

/// The whole SORT on one shard (every key it touches lives here).
fn sort_local(rt: &Rc<ShardRt>, db: usize, resp3: bool, key: &[u8], o: &SortOpts) -> Vec<u8> {
    let now = unix_ms();
    let lim = rt.settings().exec.encodings.clone();
    let lru = rt.lru_clock();
    let events = rt.settings().notify;
    let mut guard = rt.core.borrow_mut();
    let core = &mut *guard;
    notify::prepare_log(events, &mut core.store);
    let d = &mut core.store.dbs[db];
    let mut event = None;
    let mut stats = (0, 0);
    let mut out = Out::new(resp3);
    match load(d, now, &mut stats, key, o) {
        Err(()) => out.error(WRONGTYPE),
        Ok(loaded) => {
            let byvals = match (&loaded.by, loaded.dontsort) {
                (Some(by), false) => Some(
                    loaded
                        .items
                        .iter()
                        .map(|e| match pattern_ref(by, e) {
                            Ref::Elem => Some(e.clone()),
                            Ref::Nothing => None,
                            Ref::Key(k, f) => lookup_ref(d, now, &mut stats, &k, f.as_deref()),
                        })
                        .collect(),
                ),
                _ => None,
            };
            match order(&loaded, byvals, o.desc, o.store.is_some()) {
                Err(()) => out.error(NOT_DOUBLE),
                Ok(sel) => {
                    let items: Vec<&[u8]> =
                        sel.iter().map(|&i| loaded.items[i].as_slice()).collect();
                    let mut getvals = Vec::with_capacity(items.len() * o.gets.len());
                    for it in &items {
                        for g in &o.gets {
                            getvals.push(match pattern_ref(g, it) {
                                Ref::Elem => Some(it.to_vec()),
                                Ref::Nothing => None,
                                Ref::Key(k, f) => lookup_ref(d, now, &mut stats, &k, f.as_deref()),
                            });
                        }
                    }
                    match &o.store {
                        None => finish(&mut out, &items, o.gets.len(), &getvals),
                        Some(dst) => {
                            let list = stored_items(&items, o.gets.len(), getvals);
                            let n = list.len();
                            let (dirty, ev) = write_store(d, dst, list, &lim, lru);
                            core.dirty += dirty;
                            event = ev.map(|e| (e, &dst[..]));
                            out.int(n as i64);
                        }
                    }
                }
            }
        }
    }
    core.stats.keyspace_hits += stats.0;
    core.stats.keyspace_misses += stats.1;
    let notes = step_notes(events, &mut core.store, db, event);
    drop(guard);
    notify::publish(rt, notes);
    out.buf
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
