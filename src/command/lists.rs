//! List commands: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX
//! LSET LINSERT LREM LTRIM LPOS LMOVE RPOPLPUSH LMPOP, as Redis 7.0's
//! t_list.c behaves (replies, errors, dirty counts). Lists emptied by a
//! command are deleted. Multi-key commands (LMOVE, RPOPLPUSH, LMPOP) are
//! plain shard handlers: the core's atomic multi-shard path gathers their
//! keys when they span shards.
//!
//! The specs are here with the helpers the blocking variants share
//! (`list_at`, `pop_count_reply`, `mpop_reply`, `lmove`); the handlers are
//! in `lists/push_pop.rs` (pushes, pops, moves) and `lists/access.rs`
//! (reads and in-place edits).

mod access;
mod push_pop;

pub use push_pop::parse_mpop;

use super::spec::{Acl, BeginSearch, CommandSpec, FindKeys, Flags, Handler, KeyFlags, KeySpec};
use super::util::WRONGTYPE;
use super::{Class, Ctx};
use crate::resp::Out;
use crate::store::list::{End, List};
use crate::store::listpack::LpValue;
use crate::store::Value;

const RW_INSERT: KeyFlags = KeyFlags::RW.with(KeyFlags::INSERT);
const RW_ACCESS_DELETE: KeyFlags = KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::DELETE);
const RW_UPDATE: KeyFlags = KeyFlags::RW.with(KeyFlags::UPDATE);
const RW_DELETE: KeyFlags = KeyFlags::RW.with(KeyFlags::DELETE);
const RO_ACCESS: KeyFlags = KeyFlags::RO.with(KeyFlags::ACCESS);
const RO: KeyFlags = KeyFlags::RO;

const WRITE_FAST: Acl = Acl::WRITE.with_bits(Acl::LIST).with_bits(Acl::FAST);
const WRITE_SLOW: Acl = Acl::WRITE.with_bits(Acl::LIST).with_bits(Acl::SLOW);
const READ_FAST: Acl = Acl::READ.with_bits(Acl::LIST).with_bits(Acl::FAST);
const READ_SLOW: Acl = Acl::READ.with_bits(Acl::LIST).with_bits(Acl::SLOW);

const PUSH_COMPLEXITY: &str = "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.";

/// A list command spec; every list command has the group "list".
macro_rules! list_cmd {
    ($name:expr, $arity:expr, $flags:expr, $acl:expr, $keys:expr, $handler:expr,
     $since:expr, $summary:expr, $complexity:expr) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            acl: $acl,
            keys: $keys,
            handler: Handler::Shard($handler),
            group: "list",
            since: $since,
            summary: $summary,
            complexity: $complexity,
            ..CommandSpec::DEFAULT
        }
    };
}

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    list_cmd!("lpush", -3, Flags::WRITE.with(Flags::DENYOOM).with(Flags::FAST), WRITE_FAST,
        &[KeySpec::single(1, RW_INSERT)], push_pop::lpush, "1.0.0",
        "Prepend one or multiple elements to a list", PUSH_COMPLEXITY),
    list_cmd!("rpush", -3, Flags::WRITE.with(Flags::DENYOOM).with(Flags::FAST), WRITE_FAST,
        &[KeySpec::single(1, RW_INSERT)], push_pop::rpush, "1.0.0",
        "Append one or multiple elements to a list", PUSH_COMPLEXITY),
    list_cmd!("lpushx", -3, Flags::WRITE.with(Flags::DENYOOM).with(Flags::FAST), WRITE_FAST,
        &[KeySpec::single(1, RW_INSERT)], push_pop::lpushx, "2.2.0",
        "Prepend an element to a list, only if the list exists", PUSH_COMPLEXITY),
    list_cmd!("rpushx", -3, Flags::WRITE.with(Flags::DENYOOM).with(Flags::FAST), WRITE_FAST,
        &[KeySpec::single(1, RW_INSERT)], push_pop::rpushx, "2.2.0",
        "Append an element to a list, only if the list exists", PUSH_COMPLEXITY),
    list_cmd!("lpop", -2, Flags::WRITE.with(Flags::FAST), WRITE_FAST,
        &[KeySpec::single(1, RW_ACCESS_DELETE)], push_pop::lpop, "1.0.0",
        "Remove and get the first elements in a list",
        "O(N) where N is the number of elements returned"),
    list_cmd!("rpop", -2, Flags::WRITE.with(Flags::FAST), WRITE_FAST,
        &[KeySpec::single(1, RW_ACCESS_DELETE)], push_pop::rpop, "1.0.0",
        "Remove and get the last elements in a list",
        "O(N) where N is the number of elements returned"),
    list_cmd!("llen", 2, Flags::READONLY.with(Flags::FAST), READ_FAST,
        &[KeySpec::single(1, RO)], access::llen, "1.0.0",
        "Get the length of a list", "O(1)"),
    list_cmd!("lrange", 4, Flags::READONLY, READ_SLOW,
        &[KeySpec::single(1, RO_ACCESS)], access::lrange, "1.0.0",
        "Get a range of elements from a list",
        "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range."),
    list_cmd!("lindex", 3, Flags::READONLY, READ_SLOW,
        &[KeySpec::single(1, RO_ACCESS)], access::lindex, "1.0.0",
        "Get an element from a list by its index",
        "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1)."),
    list_cmd!("lset", 4, Flags::WRITE.with(Flags::DENYOOM), WRITE_SLOW,
        &[KeySpec::single(1, RW_UPDATE)], access::lset, "1.0.0",
        "Set the value of an element in a list by its index",
        "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1)."),
    list_cmd!("linsert", 5, Flags::WRITE.with(Flags::DENYOOM), WRITE_SLOW,
        &[KeySpec::single(1, RW_INSERT)], access::linsert, "2.2.0",
        "Insert an element before or after another element in a list",
        "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N)."),
    list_cmd!("lrem", 4, Flags::WRITE, WRITE_SLOW,
        &[KeySpec::single(1, RW_DELETE)], access::lrem, "1.0.0",
        "Remove elements from a list",
        "O(N+M) where N is the length of the list and M is the number of elements removed."),
    list_cmd!("ltrim", 4, Flags::WRITE, WRITE_SLOW,
        &[KeySpec::single(1, RW_DELETE)], access::ltrim, "1.0.0",
        "Trim a list to the specified range",
        "O(N) where N is the number of elements to be removed by the operation."),
    list_cmd!("lpos", -3, Flags::READONLY, READ_SLOW,
        &[KeySpec::single(1, RO_ACCESS)], access::lpos, "6.0.6",
        "Return the index of matching elements on a list",
        "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time."),
    list_cmd!("lmove", 5, Flags::WRITE.with(Flags::DENYOOM), WRITE_SLOW,
        &[KeySpec::single(1, RW_ACCESS_DELETE), KeySpec::single(2, RW_INSERT)], push_pop::lmove_cmd, "6.2.0",
        "Pop an element from a list, push it to another list and return it", "O(1)"),
    list_cmd!("rpoplpush", 3, Flags::WRITE.with(Flags::DENYOOM), WRITE_SLOW,
        &[KeySpec::single(1, RW_ACCESS_DELETE), KeySpec::single(2, RW_INSERT)], push_pop::rpoplpush, "1.2.0",
        "Remove the last element in a list, prepend it to another list and return it", "O(1)"),
    list_cmd!("lmpop", -4, Flags::WRITE.with(Flags::MOVABLEKEYS), WRITE_SLOW,
        &[KeySpec { flags: RW_ACCESS_DELETE, begin: BeginSearch::Index(1), find: FindKeys::Keynum { keynumidx: 0, firstkey: 1, step: 1 } }],
        push_pop::lmpop, "7.0.0", "Pop elements from a list",
        "O(N+M) where N is the number of provided keys and M is the number of elements returned."),
];

/// What a key holds, as a list command sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListAt {
    Missing,
    WrongType,
    /// A list (never empty: emptied lists are deleted).
    List,
}

/// Looks `key` up for writing (touches its LRU, no hit/miss accounting,
/// as Redis's `lookupKeyWrite`) and tells what it holds.
pub fn list_at(ctx: &mut Ctx, key: &[u8]) -> ListAt {
    match ctx.lookup_write(key) {
        None => ListAt::Missing,
        Some(e) if matches!(e.value, Value::List(_)) => ListAt::List,
        Some(_) => ListAt::WrongType,
    }
}

/// The reply buffer and the list at `key` (no accounting), borrowed
/// together.
fn out_and_list<'c>(ctx: &'c mut Ctx, key: &[u8]) -> (&'c mut Out, Option<&'c mut List>) {
    let now = ctx.now_ms;
    let l = match ctx.store.dbs[ctx.db].lookup(key, now) {
        Some(e) => match &mut e.value {
            Value::List(l) => Some(&mut **l),
            _ => None,
        },
        None => None,
    };
    (&mut *ctx.out, l)
}

/// Deletes `key` when its list became empty (a `del` event).
fn delete_if_empty(ctx: &mut Ctx, key: &[u8]) {
    if out_and_list(ctx, key).1.is_some_and(|l| l.is_empty()) {
        ctx.db().remove(key);
        ctx.notify(Class::Generic, "del", key);
    }
}

/// The event of a pop from `end`.
pub fn pop_event(end: End) -> &'static str {
    match end {
        End::Left => "lpop",
        End::Right => "rpop",
    }
}

/// The event of a push to `end`.
pub fn push_event(end: End) -> &'static str {
    match end {
        End::Left => "lpush",
        End::Right => "rpush",
    }
}

/// A list element as a bulk string (`$<len>\r\n<bytes>\r\n`).
#[inline]
fn bulk_value(out: &mut Out, v: LpValue<'_>) {
    match v {
        LpValue::Str(s) => out.bulk(s),
        LpValue::Int(n) => super::sets::bulk_int(out, n),
    }
}

/// Pops from the list at `key` (which `list_at` found: a non-empty list)
/// and replies: `count` None pops one element, replied as a bulk string
/// (LPOP key); `Some(n)` pops up to n, replied as an array in pop order
/// (LPOP key n, and the inner array of LMPOP/BLMPOP). Deletes the key when
/// emptied and counts one dirty change per element, as Redis's
/// `listElementsRemoved`.
pub fn pop_count_reply(ctx: &mut Ctx, key: &[u8], end: End, count: Option<usize>) {
    let (out, l) = out_and_list(ctx, key);
    let l = l.expect("pop_count_reply: the key holds a list");
    let popped = match count {
        None => {
            let v = l.pop(end).expect("lists are never empty");
            out.bulk(&v);
            1
        }
        Some(n) => {
            let n = n.min(l.len());
            out.array(n);
            match end {
                End::Left => {
                    if n > 0 {
                        l.for_range(0, n - 1, |v| bulk_value(out, v));
                    }
                    l.delete_range(0, n);
                }
                End::Right => {
                    for v in l.iter_rev().take(n) {
                        bulk_value(out, v);
                    }
                    l.delete_range(l.len() - n, n);
                }
            }
            n
        }
    };
    ctx.notify(Class::List, pop_event(end), key);
    delete_if_empty(ctx, key);
    ctx.dirty += popped as u64;
}

/// LMPOP's core, shared with BLMPOP: pops up to `count` elements from the
/// first non-empty list among `keys` and replies `*2 <key> *n <elements>`.
/// A key of another type replies WRONGTYPE. Returns false, having written
/// nothing, when every key is missing (LMPOP then replies a null array,
/// BLMPOP blocks).
pub fn mpop_reply(ctx: &mut Ctx, keys: &[&[u8]], end: End, count: usize) -> bool {
    for &key in keys {
        match list_at(ctx, key) {
            ListAt::Missing => continue,
            ListAt::WrongType => {
                ctx.out.error(WRONGTYPE);
                return true;
            }
            ListAt::List => {
                let llen = match ctx.store.dbs[ctx.db]
                    .peek(key, ctx.now_ms)
                    .map(|e| &e.value)
                {
                    Some(crate::store::Value::List(l)) => l.len(),
                    _ => 0,
                };
                ctx.out.array(2);
                ctx.out.bulk(key);
                pop_count_reply(ctx, key, end, Some(count));
                // Logged as [LR]POP key count, as Redis 7.0 does.
                let pop: &[u8] = if end == End::Left { b"LPOP" } else { b"RPOP" };
                let n = count.min(llen).to_string();
                ctx.propagate_as(&[pop, key, n.as_bytes()]);
                return true;
            }
        }
    }
    false
}

/// LMOVE's core, shared with RPOPLPUSH, BLMOVE and BRPOPLPUSH: pops from
/// `from` of `src`, pushes to `to` of `dst` (created if missing; `src` and
/// `dst` may be the same key) and replies the element as a bulk string.
/// WRONGTYPE when either key holds another type (the source is checked
/// first). Returns false, having written nothing, when `src` is missing
/// (LMOVE then replies null, BLMOVE blocks).
pub fn lmove(ctx: &mut Ctx, src: &[u8], dst: &[u8], from: End, to: End) -> bool {
    match list_at(ctx, src) {
        ListAt::Missing => return false,
        ListAt::WrongType => {
            ctx.out.error(WRONGTYPE);
            return true;
        }
        ListAt::List => {}
    }
    let dst_at = if src == dst {
        ListAt::List
    } else {
        list_at(ctx, dst)
    };
    if dst_at == ListAt::WrongType {
        ctx.out.error(WRONGTYPE);
        return true;
    }
    let limits = ctx.limits;
    let (out, l) = out_and_list(ctx, src);
    let v = l
        .expect("source list")
        .pop(from)
        .expect("lists are never empty");
    out.bulk(&v);
    match out_and_list(ctx, dst).1 {
        Some(d) => d.push(to, &v, &limits.encodings),
        None => {
            let mut d = List::new();
            d.push(to, &v, &limits.encodings);
            let lru = ctx.lru;
            ctx.db()
                .set(dst, Value::List(crate::store::PackedBox::new(d)), lru);
        }
    }
    ctx.notify(Class::List, push_event(to), dst);
    ctx.notify(Class::List, pop_event(from), src);
    delete_if_empty(ctx, src);
    ctx.dirty += 1;
    true
}
