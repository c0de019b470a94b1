//! ACL across connections, against redis-server 7.0 and Shardis (shards 1
//! and 4): a user changed while another connection is logged in as it
//! (the new rules apply at once; `off` keeps the session but stops new
//! logins), deleted (its connections are closed, the deleting one after
//! its reply), and the ACL log's entries and CLIENT LIST's `user=`.

mod common;

use common::{redis_available, Conn, Server};
use std::time::Duration;

/// What one scenario saw: every reply, in order.
fn scenario(srv: &Server) -> Vec<Vec<u8>> {
    let mut seen = Vec::new();
    let mut admin = srv.conn();
    let mut user = srv.conn();
    let mut note = |r: Vec<u8>| seen.push(r);
    note(admin.line("ACL LOG RESET"));
    note(admin.line("ACL SETUSER u on >p ~* &* +@all"));
    note(user.line("AUTH u p"));
    note(user.line("ACL WHOAMI"));
    note(user.line("SET k v"));
    // The new rules apply to the logged-in connection at once.
    note(admin.line("ACL SETUSER u -get resetkeys ~a*"));
    note(user.line("GET k"));
    note(user.line("SET k v"));
    note(user.line("SET a1 v"));
    // `off`: no new logins; the logged-in connection keeps working.
    note(admin.line("ACL SETUSER u off"));
    note(user.line("SET a1 w"));
    let mut other = srv.conn();
    note(other.line("AUTH u p"));
    note(admin.line("ACL SETUSER u on"));
    note(other.line("AUTH u p"));
    // CLIENT LIST shows the user; CLIENT KILL USER finds it.
    let list = String::from_utf8_lossy(&admin.line("CLIENT LIST")).into_owned();
    let users = list.matches(" user=u ").count();
    note(format!("clients of u: {users}").into_bytes());
    // The ACL log: count, reason, context, object, username (age and
    // client info differ by nature).
    note(log_facts(&mut admin));
    // Deleting the user closes its connections.
    note(admin.line("ACL DELUSER u"));
    user.set_timeout(Duration::from_secs(5));
    let closed = user.read_until_closed(Duration::from_secs(5));
    note(closed);
    note(other.read_until_closed(Duration::from_secs(5)));
    note(admin.line("PING"));
    // Deleting the user one runs as: the reply, then the close.
    note(admin.line("ACL SETUSER self on nopass +@all ~*"));
    note(admin.line("AUTH self x"));
    note(admin.line("ACL DELUSER self"));
    note(admin.read_until_closed(Duration::from_secs(5)));
    seen
}

/// ACL LOG's entries without their age and client info.
fn log_facts(c: &mut Conn) -> Vec<u8> {
    let reply = c.line("ACL LOG");
    let text = String::from_utf8_lossy(&reply).into_owned();
    let mut facts = Vec::new();
    let lines: Vec<&str> = text.split("\r\n").collect();
    for (i, l) in lines.iter().enumerate() {
        if ["count", "reason", "context", "object", "username"].contains(l) {
            // An integer is the next line; a bulk string the one after.
            let next = lines.get(i + 1).unwrap_or(&"");
            let value = if next.starts_with(':') {
                next
            } else {
                lines.get(i + 2).unwrap_or(&"")
            };
            facts.push(format!("{l}={value}"));
        }
    }
    facts.join(" ").into_bytes()
}

/// Runs `scenario` on redis-server and on Shardis at shards 1 and 4:
/// the same replies, step by step.
fn same_as_redis(scenario: fn(&Server) -> Vec<Vec<u8>>) {
    let reference = scenario(&Server::redis(&[]));
    for shards in [1, 4] {
        let got = scenario(&Server::shardis(shards, &[]));
        for (i, (r, g)) in reference.iter().zip(&got).enumerate() {
            assert_eq!(
                String::from_utf8_lossy(g),
                String::from_utf8_lossy(r),
                "step {i} at shards {shards}"
            );
        }
        assert_eq!(got.len(), reference.len());
    }
}

#[test]
fn users_changed_and_deleted_under_logged_in_connections() {
    if !redis_available() {
        return;
    }
    same_as_redis(scenario);
}

/// The client names CLIENT LIST shows, sorted.
fn client_names(c: &mut Conn) -> Vec<u8> {
    let list = String::from_utf8_lossy(&c.line("CLIENT LIST")).into_owned();
    let mut names: Vec<&str> = list
        .split(' ')
        .filter_map(|f| f.strip_prefix("name="))
        .filter(|n| !n.is_empty())
        .collect();
    names.sort();
    names.join(",").into_bytes()
}

/// What one server did with subscribers whose channels SETUSER took
/// away: every reply, and the clients left after each change.
fn revoked_scenario(srv: &Server) -> Vec<Vec<u8>> {
    let mut seen = Vec::new();
    let mut admin = srv.conn();
    seen.push(admin.line("ACL SETUSER psuser on >pspass resetchannels &foo:1 &bar:* ~* +@all"));
    let mut subscribe = |name: &str, hello: &str, sub: &str| {
        let mut c = srv.conn();
        // HELLO's reply carries the client id, which differs.
        seen.push(c.line(hello)[..1].to_vec());
        seen.push(c.line(&format!("CLIENT SETNAME {name}")));
        seen.push(c.line(sub));
        c
    };
    let _channel = subscribe("channel", "AUTH psuser pspass", "SUBSCRIBE foo:1");
    let _pattern = subscribe("pattern", "AUTH psuser pspass", "PSUBSCRIBE bar:*");
    let _shard = subscribe("shard", "AUTH psuser pspass", "SSUBSCRIBE foo:1");
    // A RESP3 subscriber is of the "pubsub" type too.
    let _resp3 = subscribe("resp3", "HELLO 3 AUTH psuser pspass", "SUBSCRIBE foo:1");
    // More channels than before: nobody goes.
    seen.push(admin.line("ACL SETUSER psuser &other"));
    seen.push(client_names(&mut admin));
    // foo:1 taken away: its RESP2 subscribers go, before the reply.
    seen.push(admin.line("ACL SETUSER psuser resetchannels &bar:*"));
    seen.push(client_names(&mut admin));
    // A pattern subscription needs the very pattern.
    seen.push(admin.line("ACL SETUSER psuser resetchannels &bar:1"));
    seen.push(client_names(&mut admin));
    seen
}

#[test]
fn subscribers_are_closed_when_their_channels_are_revoked() {
    if !redis_available() {
        return;
    }
    same_as_redis(revoked_scenario);
}

/// SORT's BY and GET patterns name keys from the data: a user who may
/// not read every key is refused them (Redis's
/// ACLUserCheckCmdWithUnrestrictedKeyAccess), in MULTI at EXEC.
fn sort_patterns_scenario(srv: &Server) -> Vec<Vec<u8>> {
    let mut seen = Vec::new();
    let mut admin = srv.conn();
    let mut user = srv.conn();
    for line in [
        "SET v1 1",
        "LPUSH mylist 1",
        "ACL SETUSER s on nopass (+sort +sort_ro +multi +exec ~mylist)",
    ] {
        seen.push(admin.line(line));
    }
    seen.push(user.line("AUTH s x"));
    let tries = [
        "SORT mylist BY v*",
        "SORT mylist GET v*",
        "SORT_RO mylist GET #",
        "SORT mylist BY nosort",
        "SORT mylist LIMIT a b BY v*",
        "SORT mylist BY v* LIMIT a b",
    ];
    for rules in [
        "",
        "(+sort +sort_ro +multi +exec ~mylist ~v*)",
        "(+sort +sort_ro ~mylist %W~*)",
        "(+sort +sort_ro ~mylist %R~*)",
        "allkeys",
    ] {
        if !rules.is_empty() {
            seen.push(admin.line(&format!("ACL SETUSER s {rules}")));
        }
        for t in tries {
            seen.push(user.line(t));
        }
    }
    seen.push(admin.line("ACL SETUSER s resetkeys ~mylist"));
    for line in ["MULTI", "SORT mylist GET v*", "SORT mylist", "EXEC"] {
        seen.push(user.line(line));
    }
    seen
}

#[test]
fn sort_patterns_need_every_key() {
    if !redis_available() {
        return;
    }
    same_as_redis(sort_patterns_scenario);
}

/// Rules changed between MULTI and EXEC: EXEC checks each queued
/// command again and answers the denied ones with Redis's error in their
/// place (logged with context `multi`), running the rest.
fn exec_recheck_scenario(srv: &Server) -> Vec<Vec<u8>> {
    let mut seen = Vec::new();
    let mut admin = srv.conn();
    let mut user = srv.conn();
    seen.push(admin.line("ACL LOG RESET"));
    seen.push(admin.line("ACL SETUSER t on nopass +@all ~* &*"));
    seen.push(user.line("AUTH t x"));
    for line in ["MULTI", "INCR k", "SET k2 v", "GET k", "PUBLISH ch m"] {
        seen.push(user.line(line));
    }
    seen.push(admin.line("ACL SETUSER t -incr resetkeys ~k2 resetchannels"));
    seen.push(user.line("EXEC"));
    seen.push(log_facts(&mut admin));
    seen.push(admin.line("GET k2"));
    seen
}

#[test]
fn exec_checks_queued_commands_against_changed_rules() {
    if !redis_available() {
        return;
    }
    same_as_redis(exec_recheck_scenario);
}

/// `acllog-max-len`: a new entry drops the oldest beyond the limit; a
/// lowered limit takes effect at the next new entry.
fn log_limit_scenario(srv: &Server) -> Vec<Vec<u8>> {
    let mut seen = Vec::new();
    let mut admin = srv.conn();
    let mut user = srv.conn();
    seen.push(admin.line("ACL LOG RESET"));
    seen.push(admin.line("ACL SETUSER limited on >p ~object:* +set"));
    seen.push(user.line("AUTH limited p"));
    for j in 0..4 {
        seen.push(user.line(&format!("SET obj:{j} 1")));
    }
    seen.push(admin.line("CONFIG SET acllog-max-len 2"));
    seen.push(admin.line("CONFIG GET acllog-max-len"));
    seen.push(log_facts(&mut admin));
    for j in 4..9 {
        seen.push(user.line(&format!("SET obj:{j} 1")));
    }
    seen.push(log_facts(&mut admin));
    seen.push(admin.line("CONFIG SET acllog-max-len 128"));
    seen.push(admin.line("ACL DELUSER limited"));
    seen.push(admin.line("ACL LOG RESET"));
    seen
}

#[test]
fn acl_log_keeps_at_most_acllog_max_len_entries() {
    if !redis_available() {
        return;
    }
    same_as_redis(log_limit_scenario);
}
