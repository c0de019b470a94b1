//! Sorted set commands: ZADD ZINCRBY ZREM ZSCORE ZMSCORE ZCARD ZCOUNT
//! ZLEXCOUNT ZRANGE ZRANGESTORE ZREVRANGE ZRANGEBYSCORE ZREVRANGEBYSCORE
//! ZRANGEBYLEX ZREVRANGEBYLEX ZRANK ZREVRANK ZPOPMIN ZPOPMAX ZMPOP
//! ZRANDMEMBER ZUNION ZINTER ZDIFF ZUNIONSTORE ZINTERSTORE ZDIFFSTORE
//! ZINTERCARD ZREMRANGEBYSCORE ZREMRANGEBYRANK ZREMRANGEBYLEX ZSCAN.
//!
//! Mirrors Redis 7.0's t_zset.c: argument parsing order (so the same
//! error wins), score parsing with C's strtod rules, reply shapes in RESP2
//! and RESP3. The encodings live in `store::zset`.

use super::spec::{Acl, BeginSearch, CommandSpec, FindKeys, Flags, Handler, KeyFlags, KeySpec};
use super::util::{arg_i64, is, NOT_FLOAT, NOT_INTEGER, SYNTAX, WRONGTYPE};
use super::{Class, Ctx};
use crate::resp::Out;
use crate::store::listpack::LpValue;
use crate::store::zset::{AddFlags, AddOutcome, LexBound, LexRange, ScoreRange, ZSet};
use crate::store::Value;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "zadd",
        arity: -4,
        flags: Flags::WRITE.with(Flags::DENYOOM).with(Flags::FAST),
        acl: Acl::WRITE.with_bits(Acl::SORTEDSET).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RW.with(KeyFlags::UPDATE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(zadd),
        group: "sorted-set",
        since: "1.2.0",
        summary: "Add one or more members to a sorted set, or update its score if it already exists",
        complexity: "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zincrby",
        arity: 4,
        flags: Flags::WRITE.with(Flags::DENYOOM).with(Flags::FAST),
        acl: Acl::WRITE.with_bits(Acl::SORTEDSET).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::UPDATE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(zincrby),
        group: "sorted-set",
        since: "1.2.0",
        summary: "Increment the score of a member in a sorted set",
        complexity: "O(log(N)) where N is the number of elements in the sorted set.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zrem",
        arity: -3,
        flags: Flags::WRITE.with(Flags::FAST),
        acl: Acl::WRITE.with_bits(Acl::SORTEDSET).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RW.with(KeyFlags::DELETE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(zrem),
        group: "sorted-set",
        since: "1.2.0",
        summary: "Remove one or more members from a sorted set",
        complexity: "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zscore",
        arity: 3,
        flags: Flags::READONLY.with(Flags::FAST),
        acl: Acl::READ.with_bits(Acl::SORTEDSET).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(zscore),
        group: "sorted-set",
        since: "1.2.0",
        summary: "Get the score associated with the given member in a sorted set",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zmscore",
        arity: -3,
        flags: Flags::READONLY.with(Flags::FAST),
        acl: Acl::READ.with_bits(Acl::SORTEDSET).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(zmscore),
        group: "sorted-set",
        since: "6.2.0",
        summary: "Get the score associated with the given members in a sorted set",
        complexity: "O(N) where N is the number of members being requested.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zcard",
        arity: 2,
        flags: Flags::READONLY.with(Flags::FAST),
        acl: Acl::READ.with_bits(Acl::SORTEDSET).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RO, begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(zcard),
        group: "sorted-set",
        since: "1.2.0",
        summary: "Get the number of members in a sorted set",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zcount",
        arity: 4,
        flags: Flags::READONLY.with(Flags::FAST),
        acl: Acl::READ.with_bits(Acl::SORTEDSET).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(zcount),
        group: "sorted-set",
        since: "2.0.0",
        summary: "Count the members in a sorted set with scores within the given values",
        complexity: "O(log(N)) with N being the number of elements in the sorted set.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zlexcount",
        arity: 4,
        flags: Flags::READONLY.with(Flags::FAST),
        acl: Acl::READ.with_bits(Acl::SORTEDSET).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(zlexcount),
        group: "sorted-set",
        since: "2.8.9",
        summary: "Count the number of members in a sorted set between a given lexicographical range",
        complexity: "O(log(N)) with N being the number of elements in the sorted set.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zrange",
        arity: -4,
        flags: Flags::READONLY,
        acl: Acl::READ.with_bits(Acl::SORTEDSET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(zrange),
        group: "sorted-set",
        since: "1.2.0",
        summary: "Return a range of members in a sorted set",
        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zrangestore",
        arity: -5,
        flags: Flags::WRITE.with(Flags::DENYOOM),
        acl: Acl::WRITE.with_bits(Acl::SORTEDSET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::OW.with(KeyFlags::UPDATE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }, KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(2), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(zrangestore),
        group: "sorted-set",
        since: "6.2.0",
        summary: "Store a range of members from sorted set into another key",
        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zrevrange",
        arity: -4,
        flags: Flags::READONLY,
        acl: Acl::READ.with_bits(Acl::SORTEDSET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(zrevrange),
        group: "sorted-set",
        since: "1.2.0",
        summary: "Return a range of members in a sorted set, by index, with scores ordered from high to low",
        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zrangebyscore",
        arity: -4,
        flags: Flags::READONLY,
        acl: Acl::READ.with_bits(Acl::SORTEDSET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(zrangebyscore),
        group: "sorted-set",
        since: "1.0.5",
        summary: "Return a range of members in a sorted set, by score",
        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zrevrangebyscore",
        arity: -4,
        flags: Flags::READONLY,
        acl: Acl::READ.with_bits(Acl::SORTEDSET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(zrevrangebyscore),
        group: "sorted-set",
        since: "2.2.0",
        summary: "Return a range of members in a sorted set, by score, with scores ordered from high to low",
        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zrangebylex",
        arity: -4,
        flags: Flags::READONLY,
        acl: Acl::READ.with_bits(Acl::SORTEDSET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(zrangebylex),
        group: "sorted-set",
        since: "2.8.9",
        summary: "Return a range of members in a sorted set, by lexicographical range",
        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zrevrangebylex",
        arity: -4,
        flags: Flags::READONLY,
        acl: Acl::READ.with_bits(Acl::SORTEDSET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(zrevrangebylex),
        group: "sorted-set",
        since: "2.8.9",
        summary: "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.",
        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zrank",
        arity: 3,
        flags: Flags::READONLY.with(Flags::FAST),
        acl: Acl::READ.with_bits(Acl::SORTEDSET).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(zrank),
        group: "sorted-set",
        since: "2.0.0",
        summary: "Determine the index of a member in a sorted set",
        complexity: "O(log(N))",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zrevrank",
        arity: 3,
        flags: Flags::READONLY.with(Flags::FAST),
        acl: Acl::READ.with_bits(Acl::SORTEDSET).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(zrevrank),
        group: "sorted-set",
        since: "2.0.0",
        summary: "Determine the index of a member in a sorted set, with scores ordered from high to low",
        complexity: "O(log(N))",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zpopmin",
        arity: -2,
        flags: Flags::WRITE.with(Flags::FAST),
        acl: Acl::WRITE.with_bits(Acl::SORTEDSET).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::DELETE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(zpopmin),
        group: "sorted-set",
        since: "5.0.0",
        summary: "Remove and return members with the lowest scores in a sorted set",
        complexity: "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zpopmax",
        arity: -2,
        flags: Flags::WRITE.with(Flags::FAST),
        acl: Acl::WRITE.with_bits(Acl::SORTEDSET).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::DELETE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(zpopmax),
        group: "sorted-set",
        since: "5.0.0",
        summary: "Remove and return members with the highest scores in a sorted set",
        complexity: "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zmpop",
        arity: -4,
        flags: Flags::WRITE.with(Flags::MOVABLEKEYS),
        acl: Acl::WRITE.with_bits(Acl::SORTEDSET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::DELETE), begin: BeginSearch::Index(1), find: FindKeys::Keynum { keynumidx: 0, firstkey: 1, step: 1 } }],
        handler: Handler::Shard(zmpop),
        group: "sorted-set",
        since: "7.0.0",
        summary: "Remove and return members with scores in a sorted set",
        complexity: "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zrandmember",
        arity: -2,
        flags: Flags::READONLY,
        acl: Acl::READ.with_bits(Acl::SORTEDSET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(zrandmember),
        tips: &["nondeterministic_output"],
        group: "sorted-set",
        since: "6.2.0",
        summary: "Get one or multiple random elements from a sorted set",
        complexity: "O(N) where N is the number of elements returned",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zunion",
        arity: -3,
        flags: Flags::READONLY.with(Flags::MOVABLEKEYS),
        acl: Acl::READ.with_bits(Acl::SORTEDSET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Keynum { keynumidx: 0, firstkey: 1, step: 1 } }],
        handler: Handler::Shard(zunion),
        group: "sorted-set",
        since: "6.2.0",
        summary: "Add multiple sorted sets",
        complexity: "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zinter",
        arity: -3,
        flags: Flags::READONLY.with(Flags::MOVABLEKEYS),
        acl: Acl::READ.with_bits(Acl::SORTEDSET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Keynum { keynumidx: 0, firstkey: 1, step: 1 } }],
        handler: Handler::Shard(zinter),
        group: "sorted-set",
        since: "6.2.0",
        summary: "Intersect multiple sorted sets",
        complexity: "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zdiff",
        arity: -3,
        flags: Flags::READONLY.with(Flags::MOVABLEKEYS),
        acl: Acl::READ.with_bits(Acl::SORTEDSET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Keynum { keynumidx: 0, firstkey: 1, step: 1 } }],
        handler: Handler::Shard(zdiff),
        group: "sorted-set",
        since: "6.2.0",
        summary: "Subtract multiple sorted sets",
        complexity: "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zunionstore",
        arity: -4,
        flags: Flags::WRITE.with(Flags::DENYOOM).with(Flags::MOVABLEKEYS),
        acl: Acl::WRITE.with_bits(Acl::SORTEDSET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::OW.with(KeyFlags::UPDATE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }, KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(2), find: FindKeys::Keynum { keynumidx: 0, firstkey: 1, step: 1 } }],
        handler: Handler::Shard(zunionstore),
        group: "sorted-set",
        since: "2.0.0",
        summary: "Add multiple sorted sets and store the resulting sorted set in a new key",
        complexity: "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zinterstore",
        arity: -4,
        flags: Flags::WRITE.with(Flags::DENYOOM).with(Flags::MOVABLEKEYS),
        acl: Acl::WRITE.with_bits(Acl::SORTEDSET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::OW.with(KeyFlags::UPDATE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }, KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(2), find: FindKeys::Keynum { keynumidx: 0, firstkey: 1, step: 1 } }],
        handler: Handler::Shard(zinterstore),
        group: "sorted-set",
        since: "2.0.0",
        summary: "Intersect multiple sorted sets and store the resulting sorted set in a new key",
        complexity: "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zdiffstore",
        arity: -4,
        flags: Flags::WRITE.with(Flags::DENYOOM).with(Flags::MOVABLEKEYS),
        acl: Acl::WRITE.with_bits(Acl::SORTEDSET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::OW.with(KeyFlags::UPDATE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }, KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(2), find: FindKeys::Keynum { keynumidx: 0, firstkey: 1, step: 1 } }],
        handler: Handler::Shard(zdiffstore),
        group: "sorted-set",
        since: "6.2.0",
        summary: "Subtract multiple sorted sets and store the resulting sorted set in a new key",
        complexity: "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zintercard",
        arity: -3,
        flags: Flags::READONLY.with(Flags::MOVABLEKEYS),
        acl: Acl::READ.with_bits(Acl::SORTEDSET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Keynum { keynumidx: 0, firstkey: 1, step: 1 } }],
        handler: Handler::Shard(zintercard),
        group: "sorted-set",
        since: "7.0.0",
        summary: "Intersect multiple sorted sets and return the cardinality of the result",
        complexity: "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zremrangebyscore",
        arity: 4,
        flags: Flags::WRITE,
        acl: Acl::WRITE.with_bits(Acl::SORTEDSET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RW.with(KeyFlags::DELETE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(zremrangebyscore),
        group: "sorted-set",
        since: "1.2.0",
        summary: "Remove all members in a sorted set within the given scores",
        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zremrangebyrank",
        arity: 4,
        flags: Flags::WRITE,
        acl: Acl::WRITE.with_bits(Acl::SORTEDSET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RW.with(KeyFlags::DELETE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(zremrangebyrank),
        group: "sorted-set",
        since: "2.0.0",
        summary: "Remove all members in a sorted set within the given indexes",
        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zremrangebylex",
        arity: 4,
        flags: Flags::WRITE,
        acl: Acl::WRITE.with_bits(Acl::SORTEDSET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RW.with(KeyFlags::DELETE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(zremrangebylex),
        group: "sorted-set",
        since: "2.8.9",
        summary: "Remove all members in a sorted set between the given lexicographical range",
        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "zscan",
        arity: -3,
        flags: Flags::READONLY,
        acl: Acl::READ.with_bits(Acl::SORTEDSET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(zscan),
        tips: &["nondeterministic_output"],
        group: "sorted-set",
        since: "2.8.0",
        summary: "Incrementally iterate sorted sets elements and associated scores",
        complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
        ..CommandSpec::DEFAULT
    },
];

// ---------------------------------------------------------------------------
// Argument parsing shared with SORT and GEO-style callers.

/// C's `isspace` in the "C" locale.
#[inline]
fn c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// C's `strtod`: parses the longest valid prefix of `s` (after leading
/// spaces), as glibc does: decimal and hexadecimal floats, `inf`,
/// `infinity`, `nan`, `nan(...)`. Returns (value, bytes consumed, ERANGE);
/// 0 bytes consumed when there is no number.
pub fn strtod(s: &[u8]) -> (f64, usize, bool) {
    let mut i = 0;
    while i < s.len() && c_space(s[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'-' || s[i] == b'+') {
        neg = s[i] == b'-';
        i += 1;
    }
    let sign = |v: f64| if neg { -v } else { v };
    let rest = &s[i..];
    let starts = |w: &[u8]| rest.len() >= w.len() && rest[..w.len()].eq_ignore_ascii_case(w);
    if starts(b"inf") {
        let n = if starts(b"infinity") { 8 } else { 3 };
        return (sign(f64::INFINITY), i + n, false);
    }
    if starts(b"nan") {
        let mut n = 3;
        if rest.get(3) == Some(&b'(') {
            let close = rest[4..]
                .iter()
                .position(|&c| !(c.is_ascii_alphanumeric() || c == b'_'));
            if let Some(k) = close {
                if rest[4 + k] == b')' {
                    n = 4 + k + 1;
                }
            }
        }
        return (f64::NAN, i + n, false);
    }
    if rest.len() >= 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
        if let Some((v, n, erange)) = strtod_hex(&rest[2..]) {
            return (sign(v), i + 2 + n, erange);
        }
        // "0x" with no hex digits: just the "0".
        return (sign(0.0), i + 1, false);
    }
    // Decimal: digits [. digits] [e [sign] digits]
    let mut j = 0;
    let mut digits = 0;
    let mut nonzero = false;
    while j < rest.len() && rest[j].is_ascii_digit() {
        nonzero |= rest[j] != b'0';
        j += 1;
        digits += 1;
    }
    if j < rest.len() && rest[j] == b'.' {
        j += 1;
        while j < rest.len() && rest[j].is_ascii_digit() {
            nonzero |= rest[j] != b'0';
            j += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return (0.0, 0, false);
    }
    if j < rest.len() && (rest[j] | 0x20) == b'e' {
        let mut k = j + 1;
        if k < rest.len() && (rest[k] == b'+' || rest[k] == b'-') {
            k += 1;
        }
        if k < rest.len() && rest[k].is_ascii_digit() {
            while k < rest.len() && rest[k].is_ascii_digit() {
                k += 1;
            }
            j = k;
        }
    }
    let text = std::str::from_utf8(&rest[..j]).unwrap_or("0");
    // Rust's parser is correctly rounded, like glibc's; it wants digits
    // on at least one side of the point, which we have.
    let v: f64 = text.parse().unwrap_or(0.0);
    let erange = v.is_infinite() || (v == 0.0 && nonzero);
    (sign(v), i + j, erange)
}

/// Hexadecimal float digits after "0x": `h* [. h*] [p [sign] d+]`.
fn strtod_hex(s: &[u8]) -> Option<(f64, usize, bool)> {
    let mut mant: u64 = 0;
    let mut exp: i64 = 0;
    let mut j = 0;
    let mut any = false;
    let mut nonzero = false;
    let mut seen_point = false;
    while j < s.len() {
        let c = s[j];
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            b'.' if !seen_point => {
                seen_point = true;
                j += 1;
                continue;
            }
            _ => break,
        };
        any = true;
        nonzero |= d != 0;
        if mant >> 56 == 0 {
            mant = mant * 16 + d as u64;
            if seen_point {
                exp -= 4;
            }
        } else if !seen_point {
            exp += 4;
        }
        j += 1;
    }
    if !any {
        return None;
    }
    if j < s.len() && (s[j] | 0x20) == b'p' {
        let mut k = j + 1;
        let mut eneg = false;
        if k < s.len() && (s[k] == b'+' || s[k] == b'-') {
            eneg = s[k] == b'-';
            k += 1;
        }
        if k < s.len() && s[k].is_ascii_digit() {
            let mut e: i64 = 0;
            while k < s.len() && s[k].is_ascii_digit() {
                e = (e * 10 + (s[k] - b'0') as i64).min(1 << 20);
                k += 1;
            }
            exp += if eneg { -e } else { e };
            j = k;
        }
    }
    let mut v = mant as f64;
    // Scale in steps that stay exact until the result over/underflows.
    let mut e = exp;
    while e > 0 {
        let step = e.min(1000);
        v *= 2f64.powi(step as i32);
        e -= step;
    }
    while e < 0 {
        let step = (-e).min(1000);
        v /= 2f64.powi(step as i32);
        e += step;
    }
    let erange = v.is_infinite() || (v == 0.0 && nonzero);
    Some((v, j, erange))
}

/// A score or float argument as Redis's `getDoubleFromObject`: the whole
/// string must be a number, no leading space, no overflow or underflow to
/// zero, not NaN.
pub fn parse_double(a: &[u8]) -> Option<f64> {
    if a.is_empty() || c_space(a[0]) {
        return None;
    }
    let (v, n, erange) = strtod(a);
    if n != a.len() || v.is_nan() || (erange && (v.is_infinite() || v == 0.0)) {
        return None;
    }
    Some(v)
}

/// The bytes C code sees in an argument: up to the first NUL.
fn c_str(a: &[u8]) -> &[u8] {
    match memchr::memchr(0, a) {
        Some(i) => &a[..i],
        None => a,
    }
}

/// One end of a score range (`zslParseRange`): `(` makes it exclusive;
/// strtod must consume the rest; NaN is refused.
fn parse_score_bound(a: &[u8]) -> Option<(f64, bool)> {
    let s = c_str(a);
    let (ex, body) = match s.first() {
        Some(b'(') => (true, &s[1..]),
        _ => (false, s),
    };
    let (v, n, _) = strtod(body);
    if n != body.len() || v.is_nan() {
        return None;
    }
    Some((v, ex))
}

pub fn parse_score_range(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
    let (min, minex) = parse_score_bound(min)?;
    let (max, maxex) = parse_score_bound(max)?;
    Some(ScoreRange {
        min,
        max,
        minex,
        maxex,
    })
}

/// One end of a lex range (`zslParseLexRangeItem`).
fn parse_lex_bound(a: &[u8]) -> Option<(LexBound, bool)> {
    let end_at_1 = a.len() == 1 || a.get(1) == Some(&0);
    match a.first()? {
        b'+' if end_at_1 => Some((LexBound::Max, true)),
        b'-' if end_at_1 => Some((LexBound::Min, true)),
        b'(' => Some((LexBound::Value(a[1..].to_vec()), true)),
        b'[' => Some((LexBound::Value(a[1..].to_vec()), false)),
        _ => None,
    }
}

pub fn parse_lex_range(min: &[u8], max: &[u8]) -> Option<LexRange> {
    let (min, minex) = parse_lex_bound(min)?;
    let (max, maxex) = parse_lex_bound(max)?;
    Some(LexRange {
        min,
        max,
        minex,
        maxex,
    })
}

const NOT_FLOAT_RANGE: &str = "ERR min or max is not a float";
const NOT_LEX_RANGE: &str = "ERR min or max not valid string range item";
const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";

// ---------------------------------------------------------------------------
// Key access.

/// The zset at `$key` for reading, counting the hit or miss. When the key
/// is missing, `$missing` runs and the handler returns; another type
/// replies WRONGTYPE and returns.
macro_rules! zset_read {
    ($ctx:ident, $key:expr, $missing:expr) => {{
        let now = $ctx.now_ms;
        let lru = $ctx.lru;
        match $ctx.store.dbs[$ctx.db].lookup_read($key, now) {
            None => {
                $ctx.misses += 1;
                $missing;
                return;
            }
            Some(e) => {
                $ctx.hits += 1;
                e.lru = lru;
                match &mut e.value {
                    Value::ZSet(z) => &mut **z,
                    _ => {
                        $ctx.out.error(WRONGTYPE);
                        return;
                    }
                }
            }
        }
    }};
}

/// Like `zset_read!` for writing: no hit/miss accounting.
macro_rules! zset_write {
    ($ctx:ident, $key:expr, $missing:expr) => {{
        let now = $ctx.now_ms;
        let lru = $ctx.lru;
        match $ctx.store.dbs[$ctx.db].lookup($key, now) {
            None => {
                $missing;
                return;
            }
            Some(e) => {
                e.lru = lru;
                match &mut e.value {
                    Value::ZSet(z) => &mut **z,
                    _ => {
                        $ctx.out.error(WRONGTYPE);
                        return;
                    }
                }
            }
        }
    }};
}

/// Deletes `key` if its zset became empty (a `del` event).
fn drop_if_empty(ctx: &mut Ctx, key: &[u8]) {
    let now = ctx.now_ms;
    let db = &mut ctx.store.dbs[ctx.db];
    if let Some(e) = db.lookup(key, now) {
        if matches!(&e.value, Value::ZSet(z) if z.is_empty()) {
            db.remove(key);
            ctx.notify(Class::Generic, "del", key);
        }
    }
}

/// Stores `items` (ascending, distinct) at `dst` as a new zset, or
/// deletes `dst` when there are none; replies with the count.
fn store_result(ctx: &mut Ctx, dst: &[u8], items: Vec<(Vec<u8>, f64)>, event: &str) {
    let n = items.len();
    if n > 0 {
        let z = ZSet::from_sorted(items, &ctx.limits.encodings);
        let lru = ctx.lru;
        ctx.db().set(dst, Value::ZSet(Box::new(z)), lru);
        ctx.dirty += 1;
        ctx.notify(Class::Zset, event, dst);
        ctx.out.int(n as i64);
    } else {
        if ctx.db().remove(dst).is_some() {
            ctx.dirty += 1;
            ctx.notify(Class::Generic, "del", dst);
        }
        ctx.out.int(0);
    }
}

/// A score reply: integral values (the common case) without going
/// through `%.17g` formatting, which prints them the same way.
#[inline]
pub fn out_double(out: &mut Out, s: f64) {
    if s != 0.0 && s.fract() == 0.0 && s.abs() < 1e15 {
        let n = s as i64;
        if out.resp3 {
            out.raw(b",");
            let mut tmp = Vec::with_capacity(20);
            crate::resp::push_i64(&mut tmp, n);
            out.raw(&tmp);
            out.raw(b"\r\n");
        } else {
            out.bulk_i64(n);
        }
    } else {
        out.double(s);
    }
}

#[inline]
fn bulk_lp(out: &mut Out, v: LpValue) {
    match v {
        LpValue::Str(s) => out.bulk(s),
        LpValue::Int(n) => out.bulk_i64(n),
    }
}

/// Emits one (member[, score]) item of a range reply: RESP3 nests each
/// pair in an array when scores are given.
#[inline]
fn emit(out: &mut Out, m: LpValue, s: f64, withscores: bool) {
    if withscores && out.resp3 {
        out.array(2);
    }
    bulk_lp(out, m);
    if withscores {
        out_double(out, s);
    }
}

/// The array header of a range reply of `n` items.
#[inline]
fn range_header(out: &mut Out, n: usize, withscores: bool) {
    out.array(if withscores && !out.resp3 { n * 2 } else { n });
}

// ---------------------------------------------------------------------------
// ZADD / ZINCRBY

fn zadd(ctx: &mut Ctx, args: &[&[u8]]) {
    zadd_generic(ctx, args, false)
}

fn zincrby(ctx: &mut Ctx, args: &[&[u8]]) {
    zadd_generic(ctx, args, true)
}

fn zadd_generic(ctx: &mut Ctx, args: &[&[u8]], incr_cmd: bool) {
    let mut f = AddFlags {
        incr: incr_cmd,
        ..Default::default()
    };
    let mut ch = false;
    let mut i = 2;
    while i < args.len() {
        let a = args[i];
        if is(a, "nx") {
            f.nx = true;
        } else if is(a, "xx") {
            f.xx = true;
        } else if is(a, "ch") {
            ch = true;
        } else if is(a, "incr") {
            f.incr = true;
        } else if is(a, "gt") {
            f.gt = true;
        } else if is(a, "lt") {
            f.lt = true;
        } else {
            break;
        }
        i += 1;
    }
    let elements = args.len() - i;
    if elements % 2 == 1 || elements == 0 {
        return ctx.out.error(SYNTAX);
    }
    let elements = elements / 2;
    if f.nx && f.xx {
        return ctx
            .out
            .error("ERR XX and NX options at the same time are not compatible");
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return ctx
            .out
            .error("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if f.incr && elements > 1 {
        return ctx
            .out
            .error("ERR INCR option supports a single increment-element pair");
    }
    let pairs = &args[i..];
    let mut scores = [0f64; 8];
    let mut many = Vec::new();
    let scores: &mut [f64] = if elements <= 8 {
        &mut scores[..elements]
    } else {
        many.resize(elements, 0.0);
        &mut many
    };
    for (j, s) in scores.iter_mut().enumerate() {
        match parse_double(pairs[j * 2]) {
            Some(v) => *s = v,
            None => return ctx.out.error(NOT_FLOAT),
        }
    }
    let key = args[1];
    let lim = &ctx.limits.encodings;
    let now = ctx.now_ms;
    let lru = ctx.lru;
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut score = 0.0;
    let mut nan = false;
    let mut apply = |z: &mut ZSet| {
        for (j, &s) in scores.iter().enumerate() {
            match z.add(pairs[j * 2 + 1], s, f, lim) {
                AddOutcome::Nan => {
                    nan = true;
                    break;
                }
                AddOutcome::Nop => {}
                AddOutcome::Added(v) => {
                    added += 1;
                    processed += 1;
                    score = v;
                }
                AddOutcome::Updated(v) => {
                    updated += 1;
                    processed += 1;
                    score = v;
                }
                AddOutcome::Same(v) => {
                    processed += 1;
                    score = v;
                }
            }
        }
    };
    let db = &mut ctx.store.dbs[ctx.db];
    match db.lookup(key, now) {
        Some(e) => {
            let Value::ZSet(z) = &mut e.value else {
                return ctx.out.error(WRONGTYPE);
            };
            e.lru = lru;
            apply(z);
        }
        None if !f.xx => {
            let mut z = ZSet::for_new_key(pairs[1].len(), lim);
            apply(&mut z);
            if !z.is_empty() {
                db.set(key, Value::ZSet(Box::new(z)), lru);
            }
        }
        None => {}
    }
    if nan {
        return ctx.out.error("ERR resulting score is not a number (NaN)");
    }
    ctx.dirty += (added + updated) as u64;
    if added + updated > 0 {
        let event = if f.incr { "zincr" } else { "zadd" };
        ctx.notify(Class::Zset, event, args[1]);
    }
    if f.incr {
        if processed > 0 {
            out_double(ctx.out, score);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out.int(if ch { added + updated } else { added });
    }
}

// ---------------------------------------------------------------------------
// Simple reads and removals

fn zrem(ctx: &mut Ctx, args: &[&[u8]]) {
    let key = args[1];
    let z = zset_write!(ctx, key, ctx.out.int(0));
    let mut deleted = 0;
    for m in &args[2..] {
        if z.remove(m) {
            deleted += 1;
        }
        if z.is_empty() {
            break;
        }
    }
    if deleted > 0 {
        ctx.notify(Class::Zset, "zrem", key);
    }
    drop_if_empty(ctx, key);
    ctx.dirty += deleted as u64;
    ctx.out.int(deleted);
}

fn zcard(ctx: &mut Ctx, args: &[&[u8]]) {
    let z = zset_read!(ctx, args[1], ctx.out.int(0));
    let n = z.len() as i64;
    ctx.out.int(n);
}

fn zscore(ctx: &mut Ctx, args: &[&[u8]]) {
    let z = zset_read!(ctx, args[1], ctx.out.null());
    match z.score(args[2]) {
        Some(s) => out_double(ctx.out, s),
        None => ctx.out.null(),
    }
}

fn zmscore(ctx: &mut Ctx, args: &[&[u8]]) {
    let n = args.len() - 2;
    let z = zset_read!(ctx, args[1], {
        ctx.out.array(n);
        for _ in 0..n {
            ctx.out.null();
        }
    });
    ctx.out.array(n);
    for m in &args[2..] {
        match z.score(m) {
            Some(s) => out_double(ctx.out, s),
            None => ctx.out.null(),
        }
    }
}

fn zrank(ctx: &mut Ctx, args: &[&[u8]]) {
    zrank_generic(ctx, args, false)
}

fn zrevrank(ctx: &mut Ctx, args: &[&[u8]]) {
    zrank_generic(ctx, args, true)
}

fn zrank_generic(ctx: &mut Ctx, args: &[&[u8]], rev: bool) {
    let z = zset_read!(ctx, args[1], ctx.out.null());
    match z.rank(args[2]) {
        Some(r) => {
            let r = if rev { z.len() - 1 - r } else { r };
            ctx.out.int(r as i64)
        }
        None => ctx.out.null(),
    }
}

fn zcount(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(range) = parse_score_range(args[2], args[3]) else {
        return ctx.out.error(NOT_FLOAT_RANGE);
    };
    let z = zset_read!(ctx, args[1], ctx.out.int(0));
    let (s, e) = z.score_span(&range);
    ctx.out.int((e - s) as i64);
}

fn zlexcount(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(range) = parse_lex_range(args[2], args[3]) else {
        return ctx.out.error(NOT_LEX_RANGE);
    };
    let z = zset_read!(ctx, args[1], ctx.out.int(0));
    let (s, e) = z.lex_span(&range, false);
    ctx.out.int((e - s) as i64);
}

// ---------------------------------------------------------------------------
// ZREMRANGEBY*

#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

fn zremrangebyrank(ctx: &mut Ctx, args: &[&[u8]]) {
    zremrange(ctx, args, RangeType::Rank)
}

fn zremrangebyscore(ctx: &mut Ctx, args: &[&[u8]]) {
    zremrange(ctx, args, RangeType::Score)
}

fn zremrangebylex(ctx: &mut Ctx, args: &[&[u8]]) {
    zremrange(ctx, args, RangeType::Lex)
}

fn zremrange(ctx: &mut Ctx, args: &[&[u8]], rt: RangeType) {
    let key = args[1];
    let (mut start, mut end) = (0i64, 0i64);
    let mut srange = None;
    let mut lrange = None;
    match rt {
        RangeType::Score => match parse_score_range(args[2], args[3]) {
            Some(r) => srange = Some(r),
            None => return ctx.out.error(NOT_FLOAT_RANGE),
        },
        RangeType::Lex => match parse_lex_range(args[2], args[3]) {
            Some(r) => lrange = Some(r),
            None => return ctx.out.error(NOT_LEX_RANGE),
        },
        _ => match (arg_i64(args[2]), arg_i64(args[3])) {
            (Some(a), Some(b)) => (start, end) = (a, b),
            _ => return ctx.out.error(NOT_INTEGER),
        },
    }
    let z = zset_write!(ctx, key, ctx.out.int(0));
    let (s, e) = match rt {
        RangeType::Score => z.score_span(srange.as_ref().unwrap()),
        RangeType::Lex => z.lex_span(lrange.as_ref().unwrap(), false),
        _ => {
            let llen = z.len() as i64;
            if start < 0 {
                start += llen;
            }
            if end < 0 {
                end += llen;
            }
            start = start.max(0);
            if start > end || start >= llen {
                return ctx.out.int(0);
            }
            end = end.min(llen - 1);
            (start as usize, end as usize + 1)
        }
    };
    let deleted = z.remove_span(s, e);
    if deleted > 0 {
        let event = match rt {
            RangeType::Score => "zremrangebyscore",
            RangeType::Lex => "zremrangebylex",
            _ => "zremrangebyrank",
        };
        ctx.notify(Class::Zset, event, key);
    }
    drop_if_empty(ctx, key);
    ctx.dirty += deleted as u64;
    ctx.out.int(deleted as i64);
}

// ---------------------------------------------------------------------------
// ZRANGE and friends

fn zrange(ctx: &mut Ctx, args: &[&[u8]]) {
    zrange_generic(ctx, args, 1, None, RangeType::Auto, None)
}

fn zrangestore(ctx: &mut Ctx, args: &[&[u8]]) {
    zrange_generic(ctx, args, 2, Some(args[1]), RangeType::Auto, None)
}

fn zrevrange(ctx: &mut Ctx, args: &[&[u8]]) {
    zrange_generic(ctx, args, 1, None, RangeType::Rank, Some(true))
}

fn zrangebyscore(ctx: &mut Ctx, args: &[&[u8]]) {
    zrange_generic(ctx, args, 1, None, RangeType::Score, Some(false))
}

fn zrevrangebyscore(ctx: &mut Ctx, args: &[&[u8]]) {
    zrange_generic(ctx, args, 1, None, RangeType::Score, Some(true))
}

fn zrangebylex(ctx: &mut Ctx, args: &[&[u8]]) {
    zrange_generic(ctx, args, 1, None, RangeType::Lex, Some(false))
}

fn zrevrangebylex(ctx: &mut Ctx, args: &[&[u8]]) {
    zrange_generic(ctx, args, 1, None, RangeType::Lex, Some(true))
}

/// Redis's `zrangeGenericCommand`: `<src> <min> <max> [BYSCORE | BYLEX]
/// [REV] [WITHSCORES] [LIMIT offset count]` from `argc_start`; `dst` for
/// ZRANGESTORE; `dir` None = from the arguments (Some(true) = reverse).
fn zrange_generic(
    ctx: &mut Ctx,
    args: &[&[u8]],
    argc_start: usize,
    dst: Option<&[u8]>,
    mut rt: RangeType,
    dir: Option<bool>,
) {
    let key = args[argc_start];
    let mut minidx = argc_start + 1;
    let mut maxidx = argc_start + 2;
    let mut withscores = false;
    let mut offset = 0i64;
    let mut limit = -1i64;
    let mut rev = dir;
    let mut j = argc_start + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = args[j];
        if dst.is_none() && is(a, "withscores") {
            withscores = true;
        } else if is(a, "limit") && left >= 2 {
            match (arg_i64(args[j + 1]), arg_i64(args[j + 2])) {
                (Some(o), Some(l)) => (offset, limit) = (o, l),
                _ => return ctx.out.error(NOT_INTEGER),
            }
            j += 2;
        } else if rev.is_none() && is(a, "rev") {
            rev = Some(true);
        } else if rt == RangeType::Auto && is(a, "bylex") {
            rt = RangeType::Lex;
        } else if rt == RangeType::Auto && is(a, "byscore") {
            rt = RangeType::Score;
        } else {
            return ctx.out.error(SYNTAX);
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    if rt == RangeType::Auto {
        rt = RangeType::Rank;
    }
    if limit != -1 && rt == RangeType::Rank {
        return ctx.out.error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
    }
    if withscores && rt == RangeType::Lex {
        return ctx
            .out
            .error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    }
    if rev && rt != RangeType::Rank {
        std::mem::swap(&mut minidx, &mut maxidx);
    }
    let (mut start, mut end) = (0i64, 0i64);
    let mut srange = None;
    let mut lrange = None;
    match rt {
        RangeType::Score => match parse_score_range(args[minidx], args[maxidx]) {
            Some(r) => srange = Some(r),
            None => return ctx.out.error(NOT_FLOAT_RANGE),
        },
        RangeType::Lex => match parse_lex_range(args[minidx], args[maxidx]) {
            Some(r) => lrange = Some(r),
            None => return ctx.out.error(NOT_LEX_RANGE),
        },
        _ => match (arg_i64(args[minidx]), arg_i64(args[maxidx])) {
            (Some(a), Some(b)) => (start, end) = (a, b),
            _ => return ctx.out.error(NOT_INTEGER),
        },
    }
    let z = zset_read!(
        ctx,
        key,
        match dst {
            Some(d) => store_result(ctx, d, Vec::new(), "zrangestore"),
            None => ctx.out.array(0),
        }
    );
    // The span [s, e) in ascending ranks, walked from s up or e-1 down.
    let (s, e) = match rt {
        RangeType::Rank => {
            let llen = z.len() as i64;
            if start < 0 {
                start += llen;
            }
            if end < 0 {
                end += llen;
            }
            start = start.max(0);
            if start > end || start >= llen {
                (0, 0)
            } else {
                end = end.min(llen - 1);
                if rev {
                    ((llen - 1 - end) as usize, (llen - start) as usize)
                } else {
                    (start as usize, end as usize + 1)
                }
            }
        }
        _ => {
            let (s, e) = match rt {
                RangeType::Score => z.score_span(srange.as_ref().unwrap()),
                _ => z.lex_span(lrange.as_ref().unwrap(), rev),
            };
            // Redis walks `offset` items first (a negative offset walks
            // off the end), then takes `limit` (negative: all).
            let avail = (e - s) as i64;
            if offset < 0 || offset >= avail {
                (0, 0)
            } else {
                let take = if limit < 0 {
                    avail - offset
                } else {
                    limit.min(avail - offset)
                };
                let off = offset as usize;
                let take = take as usize;
                if rev {
                    (e - off - take, e - off)
                } else {
                    (s + off, s + off + take)
                }
            }
        }
    };
    let n = e - s;
    if let Some(d) = dst {
        let items: Vec<(Vec<u8>, f64)> = z
            .iter_at(s, false)
            .take(n)
            .map(|(m, sc)| (m.to_vec(), sc))
            .collect();
        // Ascending already; ZRANGESTORE keeps the set, not the order.
        return store_result(ctx, d, items, "zrangestore");
    }
    range_header(ctx.out, n, withscores);
    if n == 0 {
        return;
    }
    let it = if rev {
        z.iter_at(e - 1, true)
    } else {
        z.iter_at(s, false)
    };
    for (m, sc) in it.take(n) {
        emit(ctx.out, m, sc, withscores);
    }
}

// ---------------------------------------------------------------------------
// ZUNION / ZINTER / ZDIFF (+STORE), ZINTERCARD

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

#[inline]
fn aggregate(target: &mut f64, val: f64, agg: Aggregate) {
    match agg {
        Aggregate::Sum => {
            *target += val;
            // +inf + -inf: Redis keeps 0 by convention.
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if val < *target {
                *target = val
            }
        }
        Aggregate::Max => {
            if val > *target {
                *target = val
            }
        }
    }
}

/// An input of a set operation.
enum Src<'a> {
    Missing,
    Z(&'a ZSet),
    S(&'a crate::store::Set),
}

impl Src<'_> {
    fn len(&self) -> usize {
        match self {
            Src::Missing => 0,
            Src::Z(z) => z.len(),
            Src::S(s) => s.len(),
        }
    }

    fn find(&self, m: &[u8]) -> Option<f64> {
        match self {
            Src::Missing => None,
            Src::Z(z) => z.score(m),
            Src::S(s) => s.contains(m).then_some(1.0),
        }
    }

    /// Every (member, score); zsets from the highest rank down, as Redis.
    fn for_each(&self, mut f: impl FnMut(&[u8], f64) -> bool) {
        let mut buf = Vec::new();
        match self {
            Src::Missing => {}
            Src::Z(z) => {
                if z.is_empty() {
                    return;
                }
                for (m, s) in z.iter_at(z.len() - 1, true) {
                    buf.clear();
                    m.write_to(&mut buf);
                    if !f(&buf, s) {
                        return;
                    }
                }
            }
            Src::S(set) => {
                for m in set.iter() {
                    buf.clear();
                    m.write_to(&mut buf);
                    if !f(&buf, 1.0) {
                        return;
                    }
                }
            }
        }
    }
}

fn sort_items(items: &mut [(Vec<u8>, f64)]) {
    items.sort_unstable_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
}

fn zunion(ctx: &mut Ctx, args: &[&[u8]]) {
    zsetop(ctx, args, "zunion", None, 1, SetOp::Union, false)
}
fn zinter(ctx: &mut Ctx, args: &[&[u8]]) {
    zsetop(ctx, args, "zinter", None, 1, SetOp::Inter, false)
}
fn zdiff(ctx: &mut Ctx, args: &[&[u8]]) {
    zsetop(ctx, args, "zdiff", None, 1, SetOp::Diff, false)
}
fn zintercard(ctx: &mut Ctx, args: &[&[u8]]) {
    zsetop(ctx, args, "zintercard", None, 1, SetOp::Inter, true)
}
fn zunionstore(ctx: &mut Ctx, args: &[&[u8]]) {
    zsetop(
        ctx,
        args,
        "zunionstore",
        Some(args[1]),
        2,
        SetOp::Union,
        false,
    )
}
fn zinterstore(ctx: &mut Ctx, args: &[&[u8]]) {
    zsetop(
        ctx,
        args,
        "zinterstore",
        Some(args[1]),
        2,
        SetOp::Inter,
        false,
    )
}
fn zdiffstore(ctx: &mut Ctx, args: &[&[u8]]) {
    zsetop(
        ctx,
        args,
        "zdiffstore",
        Some(args[1]),
        2,
        SetOp::Diff,
        false,
    )
}

/// Redis's `zunionInterDiffGenericCommand`.
fn zsetop(
    ctx: &mut Ctx,
    args: &[&[u8]],
    name: &str,
    dst: Option<&[u8]>,
    numkeys_idx: usize,
    op: SetOp,
    card_only: bool,
) {
    let Some(setnum) = arg_i64(args[numkeys_idx]) else {
        return ctx.out.error(NOT_INTEGER);
    };
    if setnum < 1 {
        return ctx.out.error(&format!(
            "ERR at least 1 input key is needed for '{name}' command"
        ));
    }
    if setnum > (args.len() - (numkeys_idx + 1)) as i64 {
        return ctx.out.error(SYNTAX);
    }
    let setnum = setnum as usize;
    let keys = &args[numkeys_idx + 1..numkeys_idx + 1 + setnum];
    // Look every key up (hits, misses, lazy expiry, type) before options.
    for k in keys {
        if let Some(e) = ctx.lookup_read(k) {
            if !matches!(e.value, Value::ZSet(_) | Value::Set(_)) {
                return ctx.out.error(WRONGTYPE);
            }
        }
    }
    let mut weights = vec![1.0f64; setnum];
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0i64;
    let mut j = numkeys_idx + 1 + setnum;
    while j < args.len() {
        let remaining = args.len() - j;
        let a = args[j];
        if op != SetOp::Diff && !card_only && remaining > setnum && is(a, "weights") {
            j += 1;
            for w in weights.iter_mut() {
                match parse_double(args[j]) {
                    Some(v) => *w = v,
                    None => return ctx.out.error("ERR weight value is not a float"),
                }
                j += 1;
            }
        } else if op != SetOp::Diff && !card_only && remaining >= 2 && is(a, "aggregate") {
            let v = args[j + 1];
            agg = if is(v, "sum") {
                Aggregate::Sum
            } else if is(v, "min") {
                Aggregate::Min
            } else if is(v, "max") {
                Aggregate::Max
            } else {
                return ctx.out.error(SYNTAX);
            };
            j += 2;
        } else if dst.is_none() && !card_only && is(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && is(a, "limit") {
            match arg_i64(args[j + 1]) {
                Some(l) if l >= 0 => limit = l,
                _ => return ctx.out.error("ERR LIMIT can't be negative"),
            }
            j += 2;
        } else {
            return ctx.out.error(SYNTAX);
        }
    }
    let now = ctx.now_ms;
    let result: Vec<(Vec<u8>, f64)>;
    let mut card = 0u64;
    {
        let db = &ctx.store.dbs[ctx.db];
        let mut srcs: Vec<(Src, f64)> = keys
            .iter()
            .zip(&weights)
            .map(|(k, &w)| {
                let src = match db.peek(k, now).map(|e| &e.value) {
                    Some(Value::ZSet(z)) => Src::Z(z),
                    Some(Value::Set(s)) => Src::S(s),
                    _ => Src::Missing,
                };
                (src, w)
            })
            .collect();
        if op != SetOp::Diff {
            // Smallest first (a stable sort, as glibc's qsort behaves here).
            srcs.sort_by_key(|(s, _)| s.len());
        }
        let mut items = Vec::new();
        match op {
            SetOp::Inter => {
                if srcs[0].0.len() > 0 {
                    let (first, rest) = srcs.split_first().unwrap();
                    first.0.for_each(|m, s| {
                        let mut score = first.1 * s;
                        if score.is_nan() {
                            score = 0.0;
                        }
                        for (src, w) in rest {
                            match src.find(m) {
                                Some(v) => aggregate(&mut score, v * w, agg),
                                None => return true,
                            }
                        }
                        if card_only {
                            card += 1;
                            return !(limit > 0 && card >= limit as u64);
                        }
                        items.push((m.to_vec(), score));
                        true
                    });
                }
            }
            SetOp::Union => {
                let mut acc: crate::store::Map<Vec<u8>, f64> = Default::default();
                acc.reserve(srcs.last().map_or(0, |s| s.0.len()));
                let mut order: Vec<Vec<u8>> = Vec::new();
                for (src, w) in &srcs {
                    src.for_each(|m, s| {
                        let mut score = w * s;
                        if score.is_nan() {
                            score = 0.0;
                        }
                        match acc.get_mut(m) {
                            Some(t) => aggregate(t, score, agg),
                            None => {
                                acc.insert(m.to_vec(), score);
                                order.push(m.to_vec());
                            }
                        }
                        true
                    });
                }
                items = order
                    .into_iter()
                    .map(|m| {
                        let s = acc[&m];
                        (m, s)
                    })
                    .collect();
            }
            SetOp::Diff => {
                let (first, rest) = srcs.split_first().unwrap();
                first.0.for_each(|m, s| {
                    if !rest.iter().any(|(src, _)| src.find(m).is_some()) {
                        items.push((m.to_vec(), s));
                    }
                    true
                });
            }
        }
        sort_items(&mut items);
        result = items;
    }
    if card_only {
        return ctx.out.int(card as i64);
    }
    if let Some(d) = dst {
        return store_result(ctx, d, result, name);
    }
    range_header(ctx.out, result.len(), withscores);
    for (m, s) in &result {
        emit(ctx.out, LpValue::Str(m), *s, withscores);
    }
}

// ---------------------------------------------------------------------------
// Pops

fn zpopmin(ctx: &mut Ctx, args: &[&[u8]]) {
    zpop_minmax(ctx, args, false)
}

fn zpopmax(ctx: &mut Ctx, args: &[&[u8]]) {
    zpop_minmax(ctx, args, true)
}

fn zpop_minmax(ctx: &mut Ctx, args: &[&[u8]], max: bool) {
    if args.len() > 3 {
        return ctx.out.error(SYNTAX);
    }
    let mut count = -1i64;
    if args.len() == 3 {
        match arg_i64(args[2]) {
            Some(c) if c >= 0 => count = c,
            _ => return ctx.out.error(MUST_BE_POSITIVE),
        }
    }
    let nested = ctx.out.resp3 && count != -1;
    generic_zpop(ctx, &args[1..2], max, false, count, nested, false);
}

/// Redis's `genericZpopCommand`: pops up to `count` (-1: one, flat) items
/// from the first existing key of `keys`. `emitkey` adds the key name;
/// `nested` nests (member, score) pairs; `nil_when_empty` answers a null
/// array instead of an empty one when no key exists. Returns whether it
/// popped anything.
pub fn generic_zpop(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    max: bool,
    emitkey: bool,
    count: i64,
    nested: bool,
    nil_when_empty: bool,
) -> bool {
    let now = ctx.now_ms;
    let lru = ctx.lru;
    let db = &mut ctx.store.dbs[ctx.db];
    let out = &mut *ctx.out;
    let mut found = None;
    for k in keys {
        if db.lookup(k, now).is_some() {
            found = Some(*k);
            break;
        }
    }
    let Some(key) = found else {
        if nil_when_empty {
            out.null_array();
        } else {
            out.array(0);
        }
        return false;
    };
    let e = db.lookup(key, now).expect("just found");
    let Value::ZSet(z) = &mut e.value else {
        out.error(WRONGTYPE);
        return false;
    };
    e.lru = lru;
    if count == 0 {
        out.array(0);
        return false;
    }
    let count = if count == -1 { 1 } else { count as usize };
    let n = count.min(z.len());
    match (nested, emitkey) {
        (false, false) => out.array(n * 2),
        (true, false) => out.array(n),
        (false, true) => {
            out.array(n * 2 + 1);
            out.bulk(key);
        }
        (true, true) => {
            out.array(2);
            out.bulk(key);
            out.array(n);
        }
    }
    for _ in 0..n {
        z.pop_with(max, |m, s| {
            if nested {
                out.array(2);
            }
            out.bulk(m);
            out_double(out, s);
        });
    }
    let emptied = z.is_empty();
    if emptied {
        db.remove(key);
    }
    ctx.dirty += n as u64;
    if n > 0 {
        ctx.notify(Class::Zset, if max { "zpopmax" } else { "zpopmin" }, key);
    }
    if emptied {
        ctx.notify(Class::Generic, "del", key);
    }
    // ZMPOP and BZMPOP are logged as ZPOPMIN/ZPOPMAX key count (Redis 7.0).
    if nested {
        let pop: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
        let n = n.to_string();
        ctx.propagate_as(&[pop, key, n.as_bytes()]);
    }
    true
}

fn zmpop(ctx: &mut Ctx, args: &[&[u8]]) {
    if let Some((keys, max, count)) = parse_mpop(ctx, args, 1) {
        generic_zpop(ctx, keys, max, true, count, true, true);
    }
}

/// `numkeys key [key ...] MIN|MAX [COUNT count]` from `numkeys_idx`.
/// Replies the error and returns None when malformed.
pub fn parse_mpop<'a>(
    ctx: &mut Ctx,
    args: &'a [&'a [u8]],
    numkeys_idx: usize,
) -> Option<(&'a [&'a [u8]], bool, i64)> {
    let numkeys = match arg_i64(args[numkeys_idx]) {
        Some(n) if n >= 1 => n as usize,
        _ => {
            ctx.out.error("ERR numkeys should be greater than 0");
            return None;
        }
    };
    let where_idx = numkeys_idx.saturating_add(numkeys).saturating_add(1);
    if where_idx >= args.len() {
        ctx.out.error(SYNTAX);
        return None;
    }
    let max = if is(args[where_idx], "min") {
        false
    } else if is(args[where_idx], "max") {
        true
    } else {
        ctx.out.error(SYNTAX);
        return None;
    };
    let mut count = -1i64;
    let mut j = where_idx + 1;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if count == -1 && is(args[j], "count") && more > 0 {
            j += 1;
            match arg_i64(args[j]) {
                Some(c) if c >= 1 => count = c,
                _ => {
                    ctx.out.error("ERR count should be greater than 0");
                    return None;
                }
            }
        } else {
            ctx.out.error(SYNTAX);
            return None;
        }
        j += 1;
    }
    if count == -1 {
        count = 1;
    }
    Some((&args[numkeys_idx + 1..where_idx], max, count))
}

// ---------------------------------------------------------------------------
// ZRANDMEMBER

fn zrandmember(ctx: &mut Ctx, args: &[&[u8]]) {
    if args.len() >= 3 {
        let l = match arg_i64(args[2]) {
            None => return ctx.out.error(NOT_INTEGER),
            Some(l) if l == i64::MIN => {
                return ctx.out.error(
                    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                )
            }
            Some(l) => l,
        };
        let withscores = match args.len() {
            3 => false,
            4 if is(args[3], "withscores") => true,
            _ => return ctx.out.error(SYNTAX),
        };
        // Twice as many replies with scores: Redis refuses what would
        // overflow that.
        if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
            return ctx.out.error("ERR value is out of range");
        }
        return zrandmember_count(ctx, args[1], l, withscores);
    }
    let z = zset_read!(ctx, args[1], ctx.out.null());
    let (m, _) = z.random(super::shard_random());
    bulk_lp(ctx.out, m);
}

fn zrandmember_count(ctx: &mut Ctx, key: &[u8], l: i64, withscores: bool) {
    let z = zset_read!(ctx, key, ctx.out.array(0));
    let size = z.len();
    let (count, uniq) = if l >= 0 {
        (l as u64, true)
    } else {
        (l.unsigned_abs(), false)
    };
    if count == 0 {
        return ctx.out.array(0);
    }
    let out = &mut *ctx.out;
    // Repetitions allowed (or just one): independent draws.
    if !uniq || count == 1 {
        range_header(out, count as usize, withscores);
        for _ in 0..count {
            if out.over_cap() {
                return;
            }
            let (m, s) = z.random(super::shard_random());
            emit(out, m, s, withscores);
        }
        return;
    }
    // The whole zset: Redis walks it from the highest rank down.
    if count as usize >= size {
        range_header(out, size, withscores);
        for (m, s) in z.iter_at(size - 1, true) {
            emit(out, m, s, withscores);
        }
        return;
    }
    // A random subset of distinct ranks.
    let count = count as usize;
    let mut picked: Vec<usize> = if count * 3 > size {
        // Drop random ranks from the full set until `count` remain.
        let mut all: Vec<usize> = (0..size).collect();
        while all.len() > count {
            let i = (super::shard_random() % all.len() as u64) as usize;
            all.swap_remove(i);
        }
        all
    } else {
        let mut seen: crate::store::HashSet<usize> = Default::default();
        let mut v = Vec::with_capacity(count);
        while v.len() < count {
            let r = (super::shard_random() % size as u64) as usize;
            if seen.insert(r) {
                v.push(r);
            }
        }
        v
    };
    if matches!(z, ZSet::Listpack(_)) {
        picked.sort_unstable();
    }
    range_header(out, count, withscores);
    for r in picked {
        let (m, s) = z.get(r);
        emit(out, m, s, withscores);
    }
}

// ---------------------------------------------------------------------------
// ZSCAN

fn zscan(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(cursor) = super::scan::parse_cursor(args[2]) else {
        return ctx.out.error("ERR invalid cursor");
    };
    let z = zset_read!(ctx, args[1], {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
    });
    let mut count = 10i64;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 3;
    while i < args.len() {
        let left = args.len() - i;
        if is(args[i], "count") && left >= 2 {
            match arg_i64(args[i + 1]) {
                None => return ctx.out.error(NOT_INTEGER),
                Some(c) if c < 1 => return ctx.out.error(SYNTAX),
                Some(c) => count = c,
            }
            i += 2;
        } else if is(args[i], "match") && left >= 2 {
            let p = args[i + 1];
            pattern = if p == b"*" { None } else { Some(p) };
            i += 2;
        } else {
            return ctx.out.error(SYNTAX);
        }
    }
    let mut items: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let listpack = matches!(z, ZSet::Listpack(_));
    let next = z.scan(cursor, count as usize, |m, s| {
        if pattern.is_none_or(|p| crate::glob::matches(p, m, false)) {
            let score = if listpack {
                crate::store::zset::score_repr(s)
            } else {
                crate::resp::fmt_double(s).into_bytes()
            };
            items.push((m.to_vec(), score));
        }
    });
    let out = &mut *ctx.out;
    out.array(2);
    out.bulk(next.to_string().as_bytes());
    out.array(items.len() * 2);
    for (m, s) in &items {
        out.bulk(m);
        out.bulk(s);
    }
}
