//! Stream commands: XADD XLEN XRANGE XREVRANGE XDEL XTRIM XREAD XSETID
//! XGROUP XREADGROUP XACK XPENDING XCLAIM XAUTOCLAIM XINFO, as Redis 7.0's t_stream.c behaves (argument order, so the
//! same error wins; replies in RESP2 and RESP3; what is propagated). The
//! type itself lives in `store::stream`.

use super::spec::{Acl, CommandSpec, Flags, Handler, KeyFlags, KeySpec};

#[macro_use]
mod access;
mod ack;
mod add;
mod claim;
mod del;
mod group;
mod id;
mod info;
mod info_groups;
mod pending;
mod propagate;
mod range;
mod read;
mod readgroup;
mod reply;
mod setid;

const RO_ACCESS: &[KeySpec] = &[KeySpec::single(1, KeyFlags::RO.with(KeyFlags::ACCESS))];
const RO_1: &[KeySpec] = &[KeySpec::single(1, KeyFlags::RO)];
const RW_UPDATE: &[KeySpec] = &[KeySpec::single(1, KeyFlags::RW.with(KeyFlags::UPDATE))];
const RW_DELETE: &[KeySpec] = &[KeySpec::single(1, KeyFlags::RW.with(KeyFlags::DELETE))];
const RO_ACCESS_2: &[KeySpec] = &[KeySpec::single(2, KeyFlags::RO.with(KeyFlags::ACCESS))];
const RW_INSERT_2: &[KeySpec] = &[KeySpec::single(2, KeyFlags::RW.with(KeyFlags::INSERT))];
const RW_DELETE_2: &[KeySpec] = &[KeySpec::single(2, KeyFlags::RW.with(KeyFlags::DELETE))];
const RW_UPDATE_2: &[KeySpec] = &[KeySpec::single(2, KeyFlags::RW.with(KeyFlags::UPDATE))];
const NONDET: &[&str] = &["nondeterministic_output"];

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "xadd", arity: -5, flags: Flags::WRITE.with(Flags::DENYOOM).with(Flags::FAST),
        acl: Acl::WRITE.with_bits(Acl::STREAM).with_bits(Acl::FAST), keys: RW_UPDATE,
        handler: Handler::Shard(add::xadd), tips: NONDET, group: "stream", since: "5.0.0",
        summary: "Appends a new entry to a stream",
        complexity: "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "xlen", arity: 2, flags: Flags::READONLY.with(Flags::FAST),
        acl: Acl::READ.with_bits(Acl::STREAM).with_bits(Acl::FAST), keys: RO_1,
        handler: Handler::Shard(range::xlen), group: "stream", since: "5.0.0",
        summary: "Return the number of entries in a stream", complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "xrange", arity: -4, flags: Flags::READONLY,
        acl: Acl::READ.with_bits(Acl::STREAM).with_bits(Acl::SLOW), keys: RO_ACCESS,
        handler: Handler::Shard(range::xrange), group: "stream", since: "5.0.0",
        summary: "Return a range of elements in a stream, with IDs matching the specified IDs interval",
        complexity: "O(N) with N being the number of elements being returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "xrevrange", arity: -4, flags: Flags::READONLY,
        acl: Acl::READ.with_bits(Acl::STREAM).with_bits(Acl::SLOW), keys: RO_ACCESS,
        handler: Handler::Shard(range::xrevrange), group: "stream", since: "5.0.0",
        summary: "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE",
        complexity: "O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "xdel", arity: -3, flags: Flags::WRITE.with(Flags::FAST),
        acl: Acl::WRITE.with_bits(Acl::STREAM).with_bits(Acl::FAST), keys: RW_DELETE,
        handler: Handler::Shard(del::xdel), group: "stream", since: "5.0.0",
        summary: "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.",
        complexity: "O(1) for each single item to delete in the stream, regardless of the stream size.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "xtrim", arity: -4, flags: Flags::WRITE,
        acl: Acl::WRITE.with_bits(Acl::STREAM).with_bits(Acl::SLOW), keys: RW_DELETE,
        handler: Handler::Shard(add::xtrim), tips: NONDET, group: "stream", since: "5.0.0",
        summary: "Trims the stream to (approximately if '~' is passed) a certain size",
        complexity: "O(N), with N being the number of evicted entries. Constant times are very small however, since entries are organized in macro nodes containing multiple entries that can be released with a single deallocation.",
        ..CommandSpec::DEFAULT
    },
    read::XREAD,
    readgroup::XREADGROUP,
    CommandSpec {
        name: "xsetid", arity: -3, flags: Flags::WRITE.with(Flags::DENYOOM).with(Flags::FAST),
        acl: Acl::WRITE.with_bits(Acl::STREAM).with_bits(Acl::FAST), keys: RW_UPDATE,
        handler: Handler::Shard(setid::xsetid), group: "stream", since: "5.0.0",
        summary: "An internal command for replicating stream values", complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "xack", arity: -4, flags: Flags::WRITE.with(Flags::FAST),
        acl: Acl::WRITE.with_bits(Acl::STREAM).with_bits(Acl::FAST), keys: RW_UPDATE,
        handler: Handler::Shard(ack::xack), group: "stream", since: "5.0.0",
        summary: "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.",
        complexity: "O(1) for each message ID processed.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "xpending", arity: -3, flags: Flags::READONLY,
        acl: Acl::READ.with_bits(Acl::STREAM).with_bits(Acl::SLOW), keys: RO_ACCESS,
        handler: Handler::Shard(pending::xpending), tips: NONDET, group: "stream", since: "5.0.0",
        summary: "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.",
        complexity: "O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "xclaim", arity: -6, flags: Flags::WRITE.with(Flags::FAST),
        acl: Acl::WRITE.with_bits(Acl::STREAM).with_bits(Acl::FAST), keys: RW_UPDATE,
        handler: Handler::Shard(claim::xclaim), tips: NONDET, group: "stream", since: "5.0.0",
        summary: "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.",
        complexity: "O(log N) with N being the number of messages in the PEL of the consumer group.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "xautoclaim", arity: -6, flags: Flags::WRITE.with(Flags::FAST),
        acl: Acl::WRITE.with_bits(Acl::STREAM).with_bits(Acl::FAST), keys: RW_DELETE,
        handler: Handler::Shard(claim::xautoclaim), tips: NONDET, group: "stream", since: "6.2.0",
        summary: "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.",
        complexity: "O(1) if COUNT is small.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "xgroup", arity: -2, flags: Flags::NONE, acl: Acl::SLOW, group: "stream", since: "5.0.0",
        summary: "A container for consumer groups commands", complexity: "Depends on subcommand.",
        subcommands: &[
            CommandSpec {
                name: "xgroup|destroy", arity: 4, flags: Flags::WRITE,
                acl: Acl::WRITE.with_bits(Acl::STREAM).with_bits(Acl::SLOW), keys: RW_DELETE_2,
                handler: Handler::Shard(group::xgroup_destroy), group: "stream", since: "5.0.0",
                summary: "Destroy a consumer group.",
                complexity: "O(N) where N is the number of entries in the group's pending entries list (PEL).",
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "xgroup|delconsumer", arity: 5, flags: Flags::WRITE,
                acl: Acl::WRITE.with_bits(Acl::STREAM).with_bits(Acl::SLOW), keys: RW_DELETE_2,
                handler: Handler::Shard(group::xgroup_delconsumer), group: "stream", since: "5.0.0",
                summary: "Delete a consumer from a consumer group.", complexity: "O(1)",
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "xgroup|create", arity: -5, flags: Flags::WRITE.with(Flags::DENYOOM),
                acl: Acl::WRITE.with_bits(Acl::STREAM).with_bits(Acl::SLOW), keys: RW_INSERT_2,
                handler: Handler::Shard(group::xgroup_create), group: "stream", since: "5.0.0",
                summary: "Create a consumer group.", complexity: "O(1)",
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "xgroup|help", arity: 2, flags: Flags::LOADING.with(Flags::STALE),
                acl: Acl::STREAM.with_bits(Acl::SLOW), handler: Handler::Shard(group::xgroup_help),
                group: "stream", since: "5.0.0",
                summary: "Show helpful text about the different subcommands", complexity: "O(1)",
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "xgroup|setid", arity: -5, flags: Flags::WRITE,
                acl: Acl::WRITE.with_bits(Acl::STREAM).with_bits(Acl::SLOW), keys: RW_UPDATE_2,
                handler: Handler::Shard(group::xgroup_setid), group: "stream", since: "5.0.0",
                summary: "Set a consumer group to an arbitrary last delivered ID value.", complexity: "O(1)",
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "xgroup|createconsumer", arity: 5, flags: Flags::WRITE.with(Flags::DENYOOM),
                acl: Acl::WRITE.with_bits(Acl::STREAM).with_bits(Acl::SLOW), keys: RW_INSERT_2,
                handler: Handler::Shard(group::xgroup_createconsumer), group: "stream", since: "6.2.0",
                summary: "Create a consumer in a consumer group.", complexity: "O(1)",
                ..CommandSpec::DEFAULT
            },
        ],
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "xinfo", arity: -2, flags: Flags::NONE, acl: Acl::SLOW, group: "stream", since: "5.0.0",
        summary: "A container for stream introspection commands", complexity: "Depends on subcommand.",
        subcommands: &[
            CommandSpec {
                name: "xinfo|consumers", arity: 4, flags: Flags::READONLY,
                acl: Acl::READ.with_bits(Acl::STREAM).with_bits(Acl::SLOW), keys: RO_ACCESS_2,
                handler: Handler::Shard(info_groups::xinfo_consumers), tips: NONDET, group: "stream", since: "5.0.0",
                summary: "List the consumers in a consumer group", complexity: "O(1)",
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "xinfo|stream", arity: -3, flags: Flags::READONLY,
                acl: Acl::READ.with_bits(Acl::STREAM).with_bits(Acl::SLOW), keys: RO_ACCESS_2,
                handler: Handler::Shard(info::xinfo_stream), group: "stream", since: "5.0.0",
                summary: "Get information about a stream", complexity: "O(1)",
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "xinfo|help", arity: 2, flags: Flags::LOADING.with(Flags::STALE),
                acl: Acl::STREAM.with_bits(Acl::SLOW), handler: Handler::Shard(info::xinfo_help),
                group: "stream", since: "5.0.0",
                summary: "Show helpful text about the different subcommands", complexity: "O(1)",
                ..CommandSpec::DEFAULT
            },
            CommandSpec {
                name: "xinfo|groups", arity: 3, flags: Flags::READONLY,
                acl: Acl::READ.with_bits(Acl::STREAM).with_bits(Acl::SLOW), keys: RO_ACCESS_2,
                handler: Handler::Shard(info_groups::xinfo_groups), group: "stream", since: "5.0.0",
                summary: "List the consumer groups of a stream", complexity: "O(1)",
                ..CommandSpec::DEFAULT
            },
        ],
        ..CommandSpec::DEFAULT
    },
];
