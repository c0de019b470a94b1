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

#[macro_use]
mod access;
mod add;
mod members;
mod parse;
mod pop;
mod randmember;
mod range;
mod remrange;
mod reply;
mod scan;
mod setops;

pub use access::store_result_counting;
pub use add::zadd_generic;
use add::{zadd, zincrby};
use members::{zcard, zcount, zlexcount, zmscore, zrank, zrem, zrevrank, zscore};
pub use parse::{parse_double, strtod};
pub use pop::generic_zpop;
use pop::{zmpop, zpopmax, zpopmin};
use randmember::zrandmember;
use range::{
    zrange, zrangebylex, zrangebyscore, zrangestore, zrevrange, zrevrangebylex, zrevrangebyscore,
};
use remrange::{zremrangebylex, zremrangebyrank, zremrangebyscore};
use scan::zscan;
use setops::{zdiff, zdiffstore, zinter, zintercard, zinterstore, zunion, zunionstore};

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
