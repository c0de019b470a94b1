//! ACL SETUSER, DELUSER, GETUSER, LIST, USERS, WHOAMI, LOAD, SAVE.

use crate::config::keys::{ACLFILE, ACL_PUBSUB_DEFAULT};
use crate::server::acl::check::{revoked_channels, subscription_allowed};
use crate::server::acl::describe::{channel_rules, command_rules, flags, key_rules};
use crate::server::acl::file::{self, NO_ACL_FILE};
use crate::server::acl::rules::staged;
use crate::server::acl::selector::{has_spaces, Selector};
use crate::server::acl::user::User;
use crate::server::conn::Conn;
use crate::server::mesh;
use crate::server::pubsub::{denied_subscribers, Kind};
use futures::future::LocalBoxFuture;

/// ACL SETUSER username [rule ...]: all rules apply or none.
pub fn setuser(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let name = &args[2];
        if has_spaces(name) {
            return conn
                .out
                .error("ERR Usernames can't contain spaces or null characters");
        }
        let all_channels = conn
            .rt
            .shared
            .read_config(|c| c.text(ACL_PUBSUB_DEFAULT) == "allchannels");
        let before = conn.rt.shared.acl.get(name);
        let result = conn.rt.shared.acl.update(name, |old| {
            let fresh;
            let base = match old {
                Some(u) => u,
                None => {
                    fresh = User::new(name, all_channels);
                    &fresh
                }
            };
            staged(base, &args[3..], all_channels)
        });
        if let Err(e) = result {
            return conn.out.error(&format!("ERR {e}"));
        }
        let after = conn.rt.shared.acl.get(name);
        if let (Some(old), Some(new)) = (before, after) {
            if let Some(upcoming) = revoked_channels(&new, &old) {
                close_revoked_subscribers(conn, name.clone(), upcoming).await;
            }
        }
        conn.out.ok()
    })
}

/// Closes the user's subscribers with a subscription its new
/// channel rules refuse, before SETUSER's reply (Redis frees them at
/// once).
async fn close_revoked_subscribers(conn: &Conn, user: Vec<u8>, upcoming: Vec<Vec<u8>>) {
    mesh::run_on_all(&conn.rt, move |rt| {
        let ids = denied_subscribers(&user, |kind, name| {
            subscription_allowed(&upcoming, name, kind == Kind::Pattern)
        });
        rt.clients.borrow_mut().kill(|c| ids.contains(&c.id))
    })
    .await;
}

/// ACL DELUSER username [...]: the count deleted; their connections
/// are closed (this one after its reply).
pub fn deluser(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        if args[2..].iter().any(|n| n == b"default") {
            return conn.out.error("ERR The 'default' user cannot be removed");
        }
        let gone = conn.rt.shared.acl.delete(&args[2..]);
        if !gone.is_empty() {
            let names = std::sync::Arc::new(gone.clone());
            close_users_clients(conn, move |name| names.iter().any(|n| n == name)).await;
        }
        conn.out.int(gone.len() as i64);
    })
}

/// Closes every connection of the named users but `me`'s (which closes
/// after its reply when its user is among them).
async fn close_users_clients(
    conn: &mut Conn,
    pick: impl Fn(&[u8]) -> bool + Clone + Send + Sync + 'static,
) {
    if !conn.user.is_internal() && pick(conn.user.name()) {
        conn.close = true;
    }
    let me = conn.info.id;
    mesh::run_on_all(&conn.rt, move |rt| {
        rt.clients
            .borrow_mut()
            .kill(|c| c.id != me && pick(&c.user.borrow()))
    })
    .await;
}

/// ACL LOAD: the ACL file's users replace every user, or nothing
/// changes and the reply lists the file's problems. The connections of
/// every user but `default` close, as Redis frees those users.
pub fn load(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let (path, all_channels) = conn
            .rt
            .shared
            .read_config(|c| (c.text(ACLFILE), c.text(ACL_PUBSUB_DEFAULT) == "allchannels"));
        if path.is_empty() {
            return conn.out.error(NO_ACL_FILE);
        }
        match file::load_file(&path, all_channels) {
            Err(e) => conn.out.error(&format!("ERR {e}")),
            Ok(users) => {
                conn.rt.shared.acl.replace(users);
                close_users_clients(conn, |name| !name.is_empty() && name != b"default").await;
                conn.out.ok();
            }
        }
    })
}

/// ACL SAVE: every user into the ACL file.
pub fn save(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let path = conn.rt.shared.read_config(|c| c.text(ACLFILE));
        if path.is_empty() {
            return conn.out.error(NO_ACL_FILE);
        }
        match file::save_file(&path, &conn.rt.shared.acl.all()) {
            true => conn.out.ok(),
            false => conn.out.error("ERR There was an error trying to save the ACLs. Please check the server logs for more information"),
        }
    })
}

/// The commands, keys and channels fields of a selector.
fn selector_fields(conn: &mut Conn, sel: &Selector) {
    let out = &mut conn.out;
    out.bulk_str("commands");
    out.bulk_str(&command_rules(sel));
    out.bulk_str("keys");
    out.bulk(&key_rules(sel));
    out.bulk_str("channels");
    out.bulk(&channel_rules(sel));
}

/// ACL GETUSER username: flags, passwords, the root selector's rules and
/// the other selectors; null for no such user.
pub fn getuser(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(u) = conn.rt.shared.acl.get(&args[2]) else {
            return conn.out.null();
        };
        conn.out.map(6);
        conn.out.bulk_str("flags");
        let f = flags(&u);
        conn.out.set(f.len());
        for flag in f {
            conn.out.bulk_str(flag);
        }
        conn.out.bulk_str("passwords");
        conn.out.array(u.passwords.len());
        for p in &u.passwords {
            conn.out.bulk_str(p);
        }
        selector_fields(conn, u.root());
        conn.out.bulk_str("selectors");
        conn.out.array(u.selectors.len() - 1);
        for sel in &u.selectors[1..] {
            conn.out.map(3);
            selector_fields(conn, sel);
        }
    })
}

/// ACL LIST: every user as its `user ...` config line.
pub fn list(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let all = conn.rt.shared.acl.all();
        conn.out.array(all.len());
        for u in all {
            conn.out.bulk(&crate::server::acl::file::user_line(&u));
        }
    })
}

/// ACL USERS: the names.
pub fn users(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let all = conn.rt.shared.acl.all();
        conn.out.array(all.len());
        for u in all {
            conn.out.bulk(&u.name);
        }
    })
}

/// ACL WHOAMI: this connection's user.
pub fn whoami(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        if conn.user.is_internal() {
            return conn.out.null();
        }
        let name = conn.user.name().to_vec();
        conn.out.bulk(&name);
    })
}
