//! Pub/Sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH
//! and the PUBSUB container. Registries and fan-out live in
//! `server::pubsub`.

use super::help::reply_help;
use super::spec::{Acl, Behavior, ChannelArgs, CommandSpec, Flags, Handler, KeyFlags, KeySpec};
use crate::resp::Out;
use crate::server::conn::Conn;
use crate::server::mesh;
use crate::server::pubsub::{self as ps, Kind};
use futures::future::LocalBoxFuture;
use std::collections::BTreeSet;
use std::sync::Arc;

const SUB_FLAGS: Flags = Flags::PUBSUB
    .with(Flags::NOSCRIPT)
    .with(Flags::LOADING)
    .with(Flags::STALE);
// may_replicate (hidden from COMMAND INFO): a write pause holds them.
const PUB_FLAGS: Flags = Flags::PUBSUB
    .with(Flags::LOADING)
    .with(Flags::STALE)
    .with(Flags::FAST)
    .with(Flags::MAY_REPLICATE);
const INTRO_FLAGS: Flags = Flags::PUBSUB.with(Flags::LOADING).with(Flags::STALE);

/// SSUBSCRIBE / SUNSUBSCRIBE: subscribe mode, and served by replicas.
const SHARD_SUB: Behavior = Behavior::SUBSCRIBE_MODE.with(Behavior::REPLICA_SERVES);

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "subscribe", behavior: Behavior::SUBSCRIBE_MODE, arity: -2, flags: SUB_FLAGS, acl: Acl::SLOW,
        handler: Handler::Conn(subscribe), group: "pubsub", since: "2.0.0",
        summary: "Listen for messages published to the given channels",
        complexity: "O(N) where N is the number of channels to subscribe to.",
        channels: Some(ChannelArgs { first: 1, count: None, pattern: false }),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "unsubscribe", behavior: Behavior::SUBSCRIBE_MODE, arity: -1, flags: SUB_FLAGS, acl: Acl::SLOW,
        handler: Handler::Conn(unsubscribe), group: "pubsub", since: "2.0.0",
        summary: "Stop listening for messages posted to the given channels",
        complexity: "O(N) where N is the number of clients already subscribed to a channel.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "psubscribe", behavior: Behavior::SUBSCRIBE_MODE, arity: -2, flags: SUB_FLAGS, acl: Acl::SLOW,
        handler: Handler::Conn(psubscribe), group: "pubsub", since: "2.0.0",
        summary: "Listen for messages published to channels matching the given patterns",
        complexity: "O(N) where N is the number of patterns the client is already subscribed to.",
        channels: Some(ChannelArgs { first: 1, count: None, pattern: true }),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "punsubscribe", behavior: Behavior::SUBSCRIBE_MODE, arity: -1, flags: SUB_FLAGS, acl: Acl::SLOW,
        handler: Handler::Conn(punsubscribe), group: "pubsub", since: "2.0.0",
        summary: "Stop listening for messages posted to channels matching the given patterns",
        complexity: "O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total patterns subscribed in the system (by any client).",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "ssubscribe", behavior: SHARD_SUB, arity: -2, flags: SUB_FLAGS, acl: Acl::SLOW,
        keys: &[KeySpec::range(1, -1, 1, KeyFlags::NOT_KEY)],
        handler: Handler::Conn(ssubscribe), group: "pubsub", since: "7.0.0",
        summary: "Listen for messages published to the given shard channels",
        complexity: "O(N) where N is the number of shard channels to subscribe to.",
        channels: Some(ChannelArgs { first: 1, count: None, pattern: false }),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sunsubscribe", behavior: SHARD_SUB, arity: -1, flags: SUB_FLAGS, acl: Acl::SLOW,
        keys: &[KeySpec::range(1, -1, 1, KeyFlags::NOT_KEY)],
        handler: Handler::Conn(sunsubscribe), group: "pubsub", since: "7.0.0",
        summary: "Stop listening for messages posted to the given shard channels",
        complexity: "O(N) where N is the number of clients already subscribed to a shard channel.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "publish", arity: 3, flags: PUB_FLAGS, acl: Acl::FAST,
        handler: Handler::Conn(publish), group: "pubsub", since: "2.0.0",
        summary: "Post a message to a channel",
        complexity: "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).",
        channels: Some(ChannelArgs { first: 1, count: Some(1), pattern: false }),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "spublish", behavior: Behavior::REPLICA_SERVES, arity: 3, flags: PUB_FLAGS, acl: Acl::FAST,
        keys: &[KeySpec::range(1, 0, 1, KeyFlags::NOT_KEY)],
        handler: Handler::Conn(spublish), group: "pubsub", since: "7.0.0",
        summary: "Post a message to a shard channel",
        complexity: "O(N) where N is the number of clients subscribed to the receiving shard channel.",
        channels: Some(ChannelArgs { first: 1, count: Some(1), pattern: false }),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "pubsub", arity: -2, acl: Acl::SLOW, group: "pubsub", since: "2.8.0",
        summary: "A container for Pub/Sub commands", complexity: "Depends on subcommand.",
        subcommands: SUBCOMMANDS,
        ..CommandSpec::DEFAULT
    },
];

#[rustfmt::skip]
static SUBCOMMANDS: &[CommandSpec] = &[
    // In the order a redis-server 7.0.15 listed them (its own order is
    // its dict's, which varies by run).
    CommandSpec {
        name: "pubsub|channels", arity: -2, flags: INTRO_FLAGS, acl: Acl::SLOW,
        handler: Handler::Conn(channels), group: "pubsub", since: "2.8.0",
        summary: "List active channels",
        complexity: "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "pubsub|shardchannels", arity: -2, flags: INTRO_FLAGS, acl: Acl::SLOW,
        handler: Handler::Conn(shardchannels), group: "pubsub", since: "7.0.0",
        summary: "List active shard channels",
        complexity: "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "pubsub|numpat", arity: 2, flags: INTRO_FLAGS, acl: Acl::SLOW,
        handler: Handler::Conn(numpat), group: "pubsub", since: "2.8.0",
        summary: "Get the count of unique patterns pattern subscriptions", complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "pubsub|shardnumsub", arity: -2, flags: INTRO_FLAGS, acl: Acl::SLOW,
        handler: Handler::Conn(shardnumsub), group: "pubsub", since: "7.0.0",
        summary: "Get the count of subscribers for shard channels",
        complexity: "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "pubsub|help", arity: 2, flags: Flags::LOADING.with(Flags::STALE), acl: Acl::SLOW,
        handler: Handler::Conn(help), group: "pubsub", since: "6.2.0",
        summary: "Show helpful text about the different subcommands", complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "pubsub|numsub", arity: -2, flags: INTRO_FLAGS, acl: Acl::SLOW,
        handler: Handler::Conn(numsub), group: "pubsub", since: "2.8.0",
        summary: "Get the count of subscribers for channels",
        complexity: "O(N) for the NUMSUB subcommand, where N is the number of requested channels",
        ..CommandSpec::DEFAULT
    },
];

fn sub_cmd(conn: &mut Conn, kind: Kind, args: &[Vec<u8>]) {
    notify(conn, |pubsub, out| {
        ps::subscribe(pubsub, out, kind, &args[1..])
    });
}

fn unsub_cmd(conn: &mut Conn, kind: Kind, args: &[Vec<u8>]) {
    notify(conn, |pubsub, out| {
        ps::unsubscribe(pubsub, Some(out), kind, &args[1..])
    });
}

/// (Un)subscribe confirmations are pushes: CLIENT REPLY OFF / SKIP do not
/// silence them (Redis's CLIENT_PUSHING). While silenced they go out
/// through the subscriber's queue, which reply modes leave alone.
fn notify(conn: &mut Conn, write: impl FnOnce(&mut ps::ConnPubsub, &mut Out)) {
    if conn.reply == crate::server::conn::ReplyMode::On {
        write(&mut conn.pubsub, &mut conn.out);
        return;
    }
    let mut out = Out::new(conn.out.resp3);
    write(&mut conn.pubsub, &mut out);
    conn.pubsub.sub.push_raw(&out.buf);
}

fn subscribe(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move { sub_cmd(conn, Kind::Channel, &args) })
}

fn psubscribe(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move { sub_cmd(conn, Kind::Pattern, &args) })
}

fn ssubscribe(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        // Redis 7.0 denies it inside EXEC (a DENY BLOCKING client there),
        // unlike SUBSCRIBE and PSUBSCRIBE.
        if crate::server::mesh::in_exec() {
            return conn
                .out
                .error("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client");
        }
        sub_cmd(conn, Kind::Shard, &args)
    })
}

fn unsubscribe(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move { unsub_cmd(conn, Kind::Channel, &args) })
}

fn punsubscribe(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move { unsub_cmd(conn, Kind::Pattern, &args) })
}

fn sunsubscribe(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move { unsub_cmd(conn, Kind::Shard, &args) })
}

/// Sends the message to every shard's subscribers and answers the sum.
async fn publish_to_all(conn: &mut Conn, args: Vec<Vec<u8>>, shard: bool) {
    // Standalone: the message also goes to the replicas (Redis's
    // forceCommandPropagation(PROPAGATE_REPL)); not to the AOF.
    let log = &conn.rt.shared.aof.log;
    if conn.rt.shared.cluster.is_none() && log.repl_on() {
        let mut bytes = Vec::new();
        crate::persist::aof::record::encode_command(&mut bytes, &args);
        log.feed_repl_in(conn.db, &bytes);
    }
    let mut args = args.into_iter();
    let (channel, msg): (Arc<[u8]>, Arc<[u8]>) = match (args.nth(1), args.next()) {
        (Some(c), Some(m)) => (c.into(), m.into()),
        _ => return,
    };
    if conn.rt.shared.cluster.is_some() {
        ps::publish_to_bus(&conn.rt, &channel, &msg, shard).await;
    }
    let counts = mesh::run_on_all(&conn.rt, move |rt| {
        ps::deliver_local(rt, &channel, &msg, shard)
    })
    .await;
    // A subscriber publishing to itself sees the message first.
    conn.pubsub.sub.drain_into(&mut conn.out);
    conn.out.int(counts.iter().sum::<usize>() as i64);
}

fn publish(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(publish_to_all(conn, args, false))
}

fn spublish(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(publish_to_all(conn, args, true))
}

/// PUBSUB CHANNELS / SHARDCHANNELS [pattern]: the union over shards.
async fn list_channels(conn: &mut Conn, args: Vec<Vec<u8>>, shard: bool) {
    if args.len() > 3 {
        // Redis names the subcommand as typed.
        let sub = String::from_utf8_lossy(&args[1]).into_owned();
        return conn.out.error(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try PUBSUB HELP."
        ));
    }
    let pattern: Option<Arc<[u8]>> = args.get(2).map(|p| p.as_slice().into());
    let lists = mesh::run_on_all(&conn.rt, move |_| {
        ps::local_channels(shard, pattern.as_deref())
    })
    .await;
    let all: BTreeSet<Vec<u8>> = lists.into_iter().flatten().collect();
    conn.out.array(all.len());
    for c in &all {
        conn.out.bulk(c);
    }
}

/// PUBSUB NUMSUB / SHARDNUMSUB [channel ...]: counts summed over shards.
async fn count_subscribers(conn: &mut Conn, args: Vec<Vec<u8>>, shard: bool) {
    let names: Arc<Vec<Vec<u8>>> = Arc::new(args[2..].to_vec());
    let n2 = names.clone();
    let per_shard = mesh::run_on_all(&conn.rt, move |_| ps::local_numsub(shard, &n2)).await;
    conn.out.array(names.len() * 2);
    for (i, n) in names.iter().enumerate() {
        conn.out.bulk(n);
        conn.out
            .int(per_shard.iter().map(|v| v[i]).sum::<usize>() as i64);
    }
}

fn channels(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(list_channels(conn, args, false))
}

fn shardchannels(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(list_channels(conn, args, true))
}

fn numsub(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(count_subscribers(conn, args, false))
}

fn shardnumsub(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(count_subscribers(conn, args, true))
}

/// PUBSUB NUMPAT: unique patterns over every shard.
fn numpat(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let lists = mesh::run_on_all(&conn.rt, |_| ps::local_patterns()).await;
        let all: BTreeSet<Vec<u8>> = lists.into_iter().flatten().collect();
        conn.out.int(all.len() as i64);
    })
}

fn help(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        reply_help(
            &mut conn.out,
            "PUBSUB",
            &[
                "CHANNELS [<pattern>]",
                "    Return the currently active channels matching a <pattern> (default: '*').",
                "NUMPAT",
                "    Return number of subscriptions to patterns.",
                "NUMSUB [<channel> ...]",
                "    Return the number of subscribers for the specified channels, excluding",
                "    pattern subscriptions(default: no channels).",
                "SHARDCHANNELS [<pattern>]",
                "    Return the currently active shard level channels matching a <pattern> (default: '*').",
                "SHARDNUMSUB [<shardchannel> ...]",
                "    Return the number of subscribers for the specified shard level channel(s)",
            ],
        )
    })
}
