//! Set commands: SADD SREM SMOVE SISMEMBER SMISMEMBER SCARD SMEMBERS SPOP
//! SRANDMEMBER SINTER SINTERCARD SINTERSTORE SUNION SUNIONSTORE SDIFF
//! SDIFFSTORE SSCAN, as Redis 7.0's t_set.c behaves (replies, errors,
//! encodings of results). Multi-key commands are plain shard handlers: the
//! core's atomic multi-shard path gathers their keys.

use super::spec::{Acl, BeginSearch, CommandSpec, FindKeys, Flags, Handler, KeyFlags, KeySpec};

mod access;
mod algebra;
mod members;
mod random;
mod reply;
mod scan;

pub(crate) use access::lookup;
use algebra::{sdiff, sdiffstore, sinter, sintercard, sinterstore, sunion, sunionstore};
use members::{sadd, scard, sismember, smembers, smismember, smove, srem};
use random::{spop, srandmember};
pub(crate) use reply::bulk_int;
use scan::sscan;
pub(crate) use scan::{parse_scan_opts, reply_empty_scan, reply_scan};

pub(crate) const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";
pub(crate) const RANGE_LONG: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "sadd",
        arity: -3,
        flags: Flags::WRITE.with(Flags::DENYOOM).with(Flags::FAST),
        acl: Acl::WRITE.with_bits(Acl::SET).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RW.with(KeyFlags::INSERT), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(sadd),
        tips: &[],
        group: "set",
        since: "1.0.0",
        summary: "Add one or more members to a set",
        complexity: "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "srem",
        arity: -3,
        flags: Flags::WRITE.with(Flags::FAST),
        acl: Acl::WRITE.with_bits(Acl::SET).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RW.with(KeyFlags::DELETE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(srem),
        tips: &[],
        group: "set",
        since: "1.0.0",
        summary: "Remove one or more members from a set",
        complexity: "O(N) where N is the number of members to be removed.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "smembers",
        arity: 2,
        flags: Flags::READONLY,
        acl: Acl::READ.with_bits(Acl::SET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(smembers),
        tips: &["nondeterministic_output_order"],
        group: "set",
        since: "1.0.0",
        summary: "Get all the members in a set",
        complexity: "O(N) where N is the set cardinality.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sismember",
        arity: 3,
        flags: Flags::READONLY.with(Flags::FAST),
        acl: Acl::READ.with_bits(Acl::SET).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RO, begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(sismember),
        tips: &[],
        group: "set",
        since: "1.0.0",
        summary: "Determine if a given value is a member of a set",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "smismember",
        arity: -3,
        flags: Flags::READONLY.with(Flags::FAST),
        acl: Acl::READ.with_bits(Acl::SET).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(smismember),
        tips: &[],
        group: "set",
        since: "6.2.0",
        summary: "Returns the membership associated with the given elements for a set",
        complexity: "O(N) where N is the number of elements being checked for membership",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "scard",
        arity: 2,
        flags: Flags::READONLY.with(Flags::FAST),
        acl: Acl::READ.with_bits(Acl::SET).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RO, begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(scard),
        tips: &[],
        group: "set",
        since: "1.0.0",
        summary: "Get the number of members in a set",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "spop",
        arity: -2,
        flags: Flags::WRITE.with(Flags::FAST),
        acl: Acl::WRITE.with_bits(Acl::SET).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::DELETE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(spop),
        tips: &["nondeterministic_output"],
        group: "set",
        since: "1.0.0",
        summary: "Remove and return one or multiple random members from a set",
        complexity: "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "srandmember",
        arity: -2,
        flags: Flags::READONLY,
        acl: Acl::READ.with_bits(Acl::SET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(srandmember),
        tips: &["nondeterministic_output"],
        group: "set",
        since: "1.0.0",
        summary: "Get one or multiple random members from a set",
        complexity: "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "smove",
        arity: 4,
        flags: Flags::WRITE.with(Flags::FAST),
        acl: Acl::WRITE.with_bits(Acl::SET).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::DELETE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }, KeySpec { flags: KeyFlags::RW.with(KeyFlags::INSERT), begin: BeginSearch::Index(2), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(smove),
        tips: &[],
        group: "set",
        since: "1.0.0",
        summary: "Move a member from one set to another",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sinter",
        arity: -2,
        flags: Flags::READONLY,
        acl: Acl::READ.with_bits(Acl::SET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: -1, step: 1, limit: 0 } }],
        handler: Handler::Shard(sinter),
        tips: &["nondeterministic_output_order"],
        group: "set",
        since: "1.0.0",
        summary: "Intersect multiple sets",
        complexity: "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sintercard",
        arity: -3,
        flags: Flags::READONLY.with(Flags::MOVABLEKEYS),
        acl: Acl::READ.with_bits(Acl::SET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Keynum { keynumidx: 0, firstkey: 1, step: 1 } }],
        handler: Handler::Shard(sintercard),
        tips: &[],
        group: "set",
        since: "7.0.0",
        summary: "Intersect multiple sets and return the cardinality of the result",
        complexity: "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sinterstore",
        arity: -3,
        flags: Flags::WRITE.with(Flags::DENYOOM),
        acl: Acl::WRITE.with_bits(Acl::SET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RW.with(KeyFlags::UPDATE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }, KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(2), find: FindKeys::Range { lastkey: -1, step: 1, limit: 0 } }],
        handler: Handler::Shard(sinterstore),
        tips: &[],
        group: "set",
        since: "1.0.0",
        summary: "Intersect multiple sets and store the resulting set in a key",
        complexity: "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sunion",
        arity: -2,
        flags: Flags::READONLY,
        acl: Acl::READ.with_bits(Acl::SET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: -1, step: 1, limit: 0 } }],
        handler: Handler::Shard(sunion),
        tips: &["nondeterministic_output_order"],
        group: "set",
        since: "1.0.0",
        summary: "Add multiple sets",
        complexity: "O(N) where N is the total number of elements in all given sets.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sunionstore",
        arity: -3,
        flags: Flags::WRITE.with(Flags::DENYOOM),
        acl: Acl::WRITE.with_bits(Acl::SET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::OW.with(KeyFlags::UPDATE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }, KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(2), find: FindKeys::Range { lastkey: -1, step: 1, limit: 0 } }],
        handler: Handler::Shard(sunionstore),
        tips: &[],
        group: "set",
        since: "1.0.0",
        summary: "Add multiple sets and store the resulting set in a key",
        complexity: "O(N) where N is the total number of elements in all given sets.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sdiff",
        arity: -2,
        flags: Flags::READONLY,
        acl: Acl::READ.with_bits(Acl::SET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: -1, step: 1, limit: 0 } }],
        handler: Handler::Shard(sdiff),
        tips: &["nondeterministic_output_order"],
        group: "set",
        since: "1.0.0",
        summary: "Subtract multiple sets",
        complexity: "O(N) where N is the total number of elements in all given sets.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sdiffstore",
        arity: -3,
        flags: Flags::WRITE.with(Flags::DENYOOM),
        acl: Acl::WRITE.with_bits(Acl::SET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::OW.with(KeyFlags::UPDATE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }, KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(2), find: FindKeys::Range { lastkey: -1, step: 1, limit: 0 } }],
        handler: Handler::Shard(sdiffstore),
        tips: &[],
        group: "set",
        since: "1.0.0",
        summary: "Subtract multiple sets and store the resulting set in a key",
        complexity: "O(N) where N is the total number of elements in all given sets.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sscan",
        arity: -3,
        flags: Flags::READONLY,
        acl: Acl::READ.with_bits(Acl::SET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(sscan),
        tips: &["nondeterministic_output"],
        group: "set",
        since: "2.8.0",
        summary: "Incrementally iterate Set elements",
        complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
        ..CommandSpec::DEFAULT
    },
];
