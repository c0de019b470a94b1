//! Geo commands: GEOADD GEOPOS GEODIST GEOHASH GEORADIUS GEORADIUS_RO
//! GEORADIUSBYMEMBER GEORADIUSBYMEMBER_RO GEOSEARCH GEOSEARCHSTORE.
//!
//! A geo key is a sorted set whose scores are 52-bit interleaved
//! geohashes, exactly as Redis 7.0 stores them (geo.c, geohash.c,
//! geohash_helper.c), so ZRANGE, DUMP, the RDB and the AOF of one match.

use super::spec::{Acl, BeginSearch, CommandSpec, FindKeys, Flags, Handler, KeyFlags, KeySpec};

mod add;
mod area;
mod distance;
mod geohash;
mod lookup;
mod members;
mod options;
mod order;
mod radius;
mod reply;
mod search;
mod units;

use add::geoadd;
use members::{geodist, geohash, geopos};
use radius::{
    georadius, georadius_ro, georadiusbymember, georadiusbymember_ro, geosearch, geosearchstore,
};

/// The source key of the search commands (argument 1).
const SOURCE: KeySpec = KeySpec::single(1, KeyFlags::RO.with(KeyFlags::ACCESS));

/// A STORE / STOREDIST destination of GEORADIUS[BYMEMBER], searched from
/// argument `from`.
const fn store_key(keyword: &'static str, from: i32) -> KeySpec {
    KeySpec {
        flags: KeyFlags::OW.with(KeyFlags::UPDATE),
        begin: BeginSearch::Keyword {
            keyword,
            startfrom: from,
        },
        find: FindKeys::Range {
            lastkey: 0,
            step: 1,
            limit: 0,
        },
    }
}

const RADIUS_COMPLEXITY: &str = "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.";
const SEARCH_COMPLEXITY: &str = "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "geoadd",
        arity: -5,
        flags: Flags::WRITE.with(Flags::DENYOOM),
        acl: Acl::GEO,
        keys: &[KeySpec::single(1, KeyFlags::RW.with(KeyFlags::UPDATE))],
        handler: Handler::Shard(geoadd),
        group: "geo",
        since: "3.2.0",
        summary: "Add one or more geospatial items in the geospatial index represented using a sorted set",
        complexity: "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "geodist",
        arity: -4,
        flags: Flags::READONLY,
        acl: Acl::GEO,
        keys: &[SOURCE],
        handler: Handler::Shard(geodist),
        group: "geo",
        since: "3.2.0",
        summary: "Returns the distance between two members of a geospatial index",
        complexity: "O(log(N))",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "geohash",
        arity: -2,
        flags: Flags::READONLY,
        acl: Acl::GEO,
        keys: &[SOURCE],
        handler: Handler::Shard(geohash),
        group: "geo",
        since: "3.2.0",
        summary: "Returns members of a geospatial index as standard geohash strings",
        complexity: "O(log(N)) for each member requested, where N is the number of elements in the sorted set.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "geopos",
        arity: -2,
        flags: Flags::READONLY,
        acl: Acl::GEO,
        keys: &[SOURCE],
        handler: Handler::Shard(geopos),
        group: "geo",
        since: "3.2.0",
        summary: "Returns longitude and latitude of members of a geospatial index",
        complexity: "O(N) where N is the number of members requested.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "georadius",
        arity: -6,
        flags: Flags::WRITE.with(Flags::DENYOOM),
        acl: Acl::GEO,
        keys: &[SOURCE, store_key("STORE", 6), store_key("STOREDIST", 6)],
        handler: Handler::Shard(georadius),
        group: "geo",
        since: "3.2.0",
        summary: "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a point",
        complexity: RADIUS_COMPLEXITY,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "georadiusbymember",
        arity: -5,
        flags: Flags::WRITE.with(Flags::DENYOOM),
        acl: Acl::GEO,
        keys: &[SOURCE, store_key("STORE", 5), store_key("STOREDIST", 5)],
        handler: Handler::Shard(georadiusbymember),
        group: "geo",
        since: "3.2.0",
        summary: "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a member",
        complexity: RADIUS_COMPLEXITY,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "georadiusbymember_ro",
        arity: -5,
        flags: Flags::READONLY,
        acl: Acl::GEO,
        keys: &[SOURCE],
        handler: Handler::Shard(georadiusbymember_ro),
        group: "geo",
        since: "3.2.10",
        summary: "A read-only variant for GEORADIUSBYMEMBER",
        complexity: RADIUS_COMPLEXITY,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "georadius_ro",
        arity: -6,
        flags: Flags::READONLY,
        acl: Acl::GEO,
        keys: &[SOURCE],
        handler: Handler::Shard(georadius_ro),
        group: "geo",
        since: "3.2.10",
        summary: "A read-only variant for GEORADIUS",
        complexity: RADIUS_COMPLEXITY,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "geosearch",
        arity: -7,
        flags: Flags::READONLY,
        acl: Acl::GEO,
        keys: &[SOURCE],
        handler: Handler::Shard(geosearch),
        group: "geo",
        since: "6.2.0",
        summary: "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle.",
        complexity: SEARCH_COMPLEXITY,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "geosearchstore",
        arity: -8,
        flags: Flags::WRITE.with(Flags::DENYOOM),
        acl: Acl::GEO,
        keys: &[
            KeySpec::single(1, KeyFlags::OW.with(KeyFlags::UPDATE)),
            KeySpec::single(2, KeyFlags::RO.with(KeyFlags::ACCESS)),
        ],
        handler: Handler::Shard(geosearchstore),
        group: "geo",
        since: "6.2.0",
        summary: "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle, and store the result in another key.",
        complexity: SEARCH_COMPLEXITY,
        ..CommandSpec::DEFAULT
    },
];
