//! Connection commands: PING ECHO HELLO AUTH SELECT QUIT RESET, and the
//! CLIENT container (its subcommands are in `client.rs`).

use super::spec::{Acl, Behavior, CommandSpec, Flags, Handler};
use super::util::{arg_i64, is, NOT_INTEGER, SYNTAX};
use crate::server::conn::Conn;
use futures::future::LocalBoxFuture;

/// What HELLO reports as the server version: we claim 7.0.15 so clients
/// take the code paths they use with that Redis.
pub const REDIS_VERSION: &str = "7.0.15";

const HANDSHAKE: Flags = Flags::NOSCRIPT
    .with(Flags::LOADING)
    .with(Flags::STALE)
    .with(Flags::FAST)
    .with(Flags::NO_AUTH)
    .with(Flags::ALLOW_BUSY);
const CONN_ACL: Acl = Acl::FAST.with_bits(Acl::CONNECTION);

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "ping",
        behavior: Behavior::NO_SHARD
            .with(Behavior::SUBSCRIBE_MODE)
            .with(Behavior::MISCONF_REFUSED),
        arity: -1,
        flags: Flags::FAST,
        acl: CONN_ACL,
        handler: Handler::Conn(ping),
        tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
        group: "connection",
        since: "1.0.0",
        summary: "Ping the server",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "echo",
        behavior: Behavior::NO_SHARD,
        arity: 2,
        flags: Flags::LOADING.with(Flags::STALE).with(Flags::FAST),
        acl: CONN_ACL,
        handler: Handler::Conn(echo),
        group: "connection",
        since: "1.0.0",
        summary: "Echo the given string",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hello",
        behavior: Behavior::NO_SHARD,
        arity: -1,
        flags: HANDSHAKE,
        acl: CONN_ACL,
        handler: Handler::Conn(hello),
        group: "connection",
        since: "6.0.0",
        summary: "Handshake with Redis",
        complexity: "O(1)",
        redact: Some(super::redact::hello),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "auth",
        arity: -2,
        flags: HANDSHAKE,
        acl: CONN_ACL,
        handler: Handler::Conn(auth),
        group: "connection",
        since: "1.0.0",
        summary: "Authenticate to the server",
        complexity: "O(N) where N is the number of passwords defined for the user",
        redact: Some(super::redact::auth),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "select",
        behavior: Behavior::NO_SHARD,
        arity: 2,
        flags: Flags::LOADING.with(Flags::STALE).with(Flags::FAST),
        acl: CONN_ACL,
        handler: Handler::Conn(select),
        group: "connection",
        since: "1.0.0",
        summary: "Change the selected database for the current connection",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "quit",
        behavior: Behavior::NOT_QUEUED.with(Behavior::SUBSCRIBE_MODE),
        arity: -1,
        flags: HANDSHAKE,
        acl: CONN_ACL,
        handler: Handler::Conn(quit),
        group: "connection",
        since: "1.0.0",
        summary: "Close the connection",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "reset",
        behavior: Behavior::NOT_QUEUED.with(Behavior::SUBSCRIBE_MODE),
        arity: 1,
        flags: HANDSHAKE,
        acl: CONN_ACL,
        handler: Handler::Conn(reset),
        group: "connection",
        since: "6.2.0",
        summary: "Reset the connection",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "client",
        behavior: Behavior::KEEPS_CACHING,
        arity: -2,
        acl: Acl::SLOW,
        group: "connection",
        since: "2.4.0",
        summary: "A container for client connection commands",
        complexity: "Depends on subcommand.",
        subcommands: super::client::SUBCOMMANDS,
        ..CommandSpec::DEFAULT
    },
];

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// PING [message]
fn ping(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        // RESP2 subscribe mode: ["pong", msg or ""], as Redis.
        if args.len() <= 2 && conn.pubsub.restricted(conn.out.resp3) {
            conn.out.array(2);
            conn.out.bulk(b"pong");
            conn.out.bulk(args.get(1).map_or(&b""[..], |m| m));
            return;
        }
        match args.len() {
            1 => conn.out.simple("PONG"),
            2 => conn.out.bulk(&args[1]),
            _ => conn
                .out
                .error("ERR wrong number of arguments for 'ping' command"),
        }
    })
}

/// ECHO message
fn echo(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move { conn.out.bulk(&args[1]) })
}

/// Redis's client-name rule: printable ASCII without spaces.
pub fn valid_client_name(name: &[u8]) -> bool {
    name.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

pub const BAD_CLIENT_NAME: &str =
    "ERR Client names cannot contain spaces, newlines or special characters.";

/// Logs the connection in as `user` if the password is right and the
/// user is on (Redis's ACLAuthenticateUser); a failure goes to the ACL
/// log under the command's name as sent.
fn authenticate(conn: &mut Conn, command: &[u8], user: &[u8], pass: &[u8]) -> bool {
    let ok = conn
        .rt
        .shared
        .acl
        .get(user)
        .is_some_and(|u| u.accepts(pass));
    if ok {
        conn.login(user, true);
    } else {
        crate::server::acl::gate::log_auth_failure(conn, command, user);
    }
    ok
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
fn hello(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let mut ver = 0;
        let mut next = 1;
        if args.len() >= 2 {
            let Some(v) = arg_i64(&args[1]) else {
                return conn
                    .out
                    .error("ERR Protocol version is not an integer or out of range");
            };
            if !(2..=3).contains(&v) {
                return conn.out.error("NOPROTO unsupported protocol version");
            }
            ver = v;
            next = 2;
        }
        // Options take effect in order, as in Redis 7.0: a name is set
        // even if a later option fails or authentication is missing.
        let mut j = next;
        while j < args.len() {
            let more = args.len() - 1 - j;
            if is(&args[j], "AUTH") && more >= 2 {
                if !authenticate(conn, &args[0], &args[j + 1], &args[j + 2]) {
                    return conn.out.error(WRONGPASS);
                }
                j += 3;
            } else if is(&args[j], "SETNAME") && more >= 1 {
                if !valid_client_name(&args[j + 1]) {
                    return conn.out.error(BAD_CLIENT_NAME);
                }
                conn.set_name(&args[j + 1].clone());
                j += 2;
            } else {
                let opt = String::from_utf8_lossy(&args[j]);
                return conn
                    .out
                    .error(&format!("ERR Syntax error in HELLO option '{opt}'"));
            }
        }
        if conn.auth_required() {
            return conn.out.error(
                "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
            );
        }
        if ver != 0 {
            conn.set_resp3(ver == 3);
        }
        let out = &mut conn.out;
        out.map(7);
        out.bulk_str("server");
        out.bulk_str("redis");
        out.bulk_str("version");
        out.bulk_str(REDIS_VERSION);
        out.bulk_str("proto");
        out.int(if out.resp3 { 3 } else { 2 });
        out.bulk_str("id");
        out.int(conn.info.id as i64);
        out.bulk_str("mode");
        out.bulk_str("standalone");
        out.bulk_str("role");
        out.bulk_str("master");
        out.bulk_str("modules");
        out.array(0);
    })
}

/// AUTH [username] password
fn auth(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        if args.len() > 3 {
            return conn.out.error(SYNTAX);
        }
        let (user, pass): (&[u8], &[u8]) = if args.len() == 2 {
            let default_nopass = conn.rt.shared.acl.get(b"default").is_some_and(|d| d.nopass);
            if default_nopass {
                return conn.out.error(
                    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
                );
            }
            (b"default", &args[1])
        } else {
            (&args[1], &args[2])
        };
        if authenticate(conn, &args[0], user, pass) {
            conn.out.ok();
        } else {
            conn.out.error(WRONGPASS);
        }
    })
}

/// SELECT index
fn select(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(id) = arg_i64(&args[1]) else {
            return conn.out.error(NOT_INTEGER);
        };
        if id < i32::MIN as i64 || id > i32::MAX as i64 {
            return conn
                .out
                .error("ERR value is out of range, value must between -2147483648 and 2147483647");
        }
        if conn.settings.exec.cluster && id != 0 {
            return conn.out.error("ERR SELECT is not allowed in cluster mode");
        }
        if id < 0 || id as usize >= conn.settings.databases {
            return conn.out.error("ERR DB index is out of range");
        }
        conn.set_db(id as usize);
        conn.out.ok();
    })
}

/// QUIT: +OK, then the connection closes.
fn quit(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        conn.out.ok();
        conn.close = true;
    })
}

/// RESET: back to a fresh connection's state (Redis 7.0's
/// `clearClientConnectionState`): db 0, RESP2, no name, default-user
/// authentication. NO-EVICT stays, as in Redis.
fn reset(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        // Leaves MULTI and unwatches, as Redis's RESET.
        crate::server::transaction::discard_state(conn).await;
        // Drops every (P|S)SUBSCRIBE subscription, silently.
        crate::server::pubsub::forget(&mut conn.pubsub);
        crate::server::tracking::disable(&conn.rt, &conn.info).await;
        conn.set_db(0);
        conn.set_resp3(false);
        conn.set_name(b"");
        // No longer a monitor, replies back on (clearClientConnectionState).
        crate::command::monitor::stop(conn);
        conn.reply = crate::server::conn::ReplyMode::On;
        // Back to the default user, logged in only if it needs no AUTH.
        let open = conn.rt.shared.acl.default_open();
        conn.login(b"default", open);
        conn.out.simple("RESET");
    })
}
