//! The step dispatch takes before running a command: the connection's
//! user against the command, logged and refused with Redis's NOPERM
//! errors when denied.

use super::check::{check, reads_every_key, unrestricted, Denial};
use super::log::{Entry, Reason};
use crate::server::conn::Conn;
use crate::server::spec::CommandSpec;
use crate::sys::clock::unix_ms;

/// The denial for `argv`, if the connection's user may not run it.
pub fn denial(conn: &Conn, spec: &CommandSpec, argv: &[&[u8]]) -> Option<Denial> {
    conn.user.with_user(&conn.rt.shared.acl, |user| {
        let user = user.filter(|u| !unrestricted(u));
        if spec.data_keys.is_some() {
            let every = user.is_none_or(|u| reads_every_key(u, spec, argv));
            conn.info.full_key_read.set(every);
        }
        check(user?, spec, argv).err()
    })
}

/// Checks a request before it runs or is queued; the error reply when
/// refused, after logging it.
pub fn refusal(conn: &Conn, spec: &CommandSpec, argv: &[&[u8]]) -> Option<Vec<u8>> {
    let d = denial(conn, spec, argv)?;
    log_denial(conn, spec, argv, d, context(conn));
    Some(d.error(spec).into_bytes())
}

/// Adds a denial to the ACL log.
pub fn log_denial(
    conn: &Conn,
    spec: &CommandSpec,
    argv: &[&[u8]],
    d: Denial,
    context: &'static str,
) {
    let (reason, object) = match d {
        Denial::Command => (Reason::Command, spec.name.as_bytes().to_vec()),
        Denial::Key(i) => (Reason::Key, argv[i].to_vec()),
        Denial::Channel(i) => (Reason::Channel, argv[i].to_vec()),
    };
    add(conn, reason, context, object, conn.user.name().to_vec());
}

/// A failed AUTH / HELLO AUTH for `username`.
pub fn log_auth_failure(conn: &Conn, command: &[u8], username: &[u8]) {
    add(
        conn,
        Reason::Auth,
        context(conn),
        command.to_vec(),
        username.to_vec(),
    );
}

/// ACL LOG's context: inside MULTI (queuing) or not.
fn context(conn: &Conn) -> &'static str {
    if conn.info.multi.get() >= 0 {
        "multi"
    } else {
        "toplevel"
    }
}

fn add(conn: &Conn, reason: Reason, context: &'static str, object: Vec<u8>, username: Vec<u8>) {
    let now = unix_ms();
    let max_len = conn
        .rt
        .shared
        .read_config(|c| c.int(crate::config::keys::ACLLOG_MAX_LEN));
    let entry = Entry {
        count: 1,
        reason,
        context,
        object,
        username,
        ctime_ms: now,
        client_info: conn.info.describe(now),
    };
    let mut log = conn.rt.shared.acl.log.lock().unwrap();
    log.add(entry, max_len.max(0) as usize);
}
