//! Transactions: MULTI EXEC DISCARD WATCH UNWATCH. The state and the
//! atomic execution live in `server::transaction`; these are the entries
//! of the command table (Redis 7.0's flags, ACL categories and key specs).

use super::spec::{Acl, Behavior, CommandSpec, Flags, Handler, KeyFlags, KeySpec};
use crate::server::conn::Conn;
use crate::server::transaction as tx;
use futures::future::LocalBoxFuture;

const TX_FLAGS: Flags = Flags::NOSCRIPT
    .with(Flags::LOADING)
    .with(Flags::STALE)
    .with(Flags::FAST)
    .with(Flags::ALLOW_BUSY);
const TX_FAST: Acl = Acl::FAST.with_bits(Acl::TRANSACTION);

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "multi", behavior: Behavior::NOT_QUEUED.with(Behavior::STARTS_TRANSACTION), arity: 1, flags: TX_FLAGS, acl: TX_FAST,
        handler: Handler::Conn(multi), group: "transactions", since: "1.2.0",
        summary: "Mark the start of a transaction block", complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "exec", behavior: Behavior::NOT_QUEUED.with(Behavior::RUNS_TRANSACTION).with(Behavior::ENDS_TRANSACTION), arity: 1,
        flags: Flags::NOSCRIPT.with(Flags::LOADING).with(Flags::STALE).with(Flags::SKIP_SLOWLOG),
        acl: Acl::SLOW.with_bits(Acl::TRANSACTION),
        handler: Handler::Conn(exec), group: "transactions", since: "1.2.0",
        summary: "Execute all commands issued after MULTI",
        complexity: "Depends on commands in the transaction",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "discard", behavior: Behavior::NOT_QUEUED.with(Behavior::ENDS_TRANSACTION), arity: 1, flags: TX_FLAGS, acl: TX_FAST,
        handler: Handler::Conn(discard), group: "transactions", since: "2.0.0",
        summary: "Discard all commands issued after MULTI",
        complexity: "O(N), when N is the number of queued commands",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "watch", behavior: Behavior::NOT_QUEUED, arity: -2, flags: TX_FLAGS, acl: TX_FAST,
        keys: &[KeySpec::range(1, -1, 1, KeyFlags::RO)],
        handler: Handler::Conn(watch), group: "transactions", since: "2.2.0",
        summary: "Watch the given keys to determine execution of the MULTI/EXEC block",
        complexity: "O(1) for every key.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "unwatch", behavior: Behavior::NO_SHARD.with(Behavior::OK_IN_EXEC), arity: 1, flags: TX_FLAGS, acl: TX_FAST,
        handler: Handler::Conn(unwatch), group: "transactions", since: "2.2.0",
        summary: "Forget about all watched keys", complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
];

fn multi(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(tx::multi(conn))
}

fn exec(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(tx::exec(conn))
}

fn discard(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(tx::discard(conn))
}

fn watch(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move { tx::watch(conn, &args).await })
}

fn unwatch(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(tx::unwatch(conn))
}
