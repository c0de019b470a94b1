//! CLIENT TRACKING / CACHING / GETREDIR / TRACKINGINFO: option parsing,
//! checks and replies as Redis 7.0's clientCommand. The tables and the
//! invalidation messages are in server/tracking.rs.

use super::util::{arg_i64, is, NOT_INTEGER, SYNTAX};
use crate::server::conn::Conn;
use crate::server::tracking;
use futures::future::LocalBoxFuture;

/// The options of one CLIENT TRACKING call.
#[derive(Default)]
struct Options {
    redirect: i64,
    bcast: bool,
    optin: bool,
    optout: bool,
    noloop: bool,
    prefixes: Vec<Vec<u8>>,
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN]
/// [OPTOUT] [NOLOOP]
pub fn tracking(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let mut o = Options::default();
        let mut redirect_shard = 0;
        let mut j = 3;
        while j < args.len() {
            let more = j + 1 < args.len();
            let a = &args[j];
            if is(a, "redirect") && more {
                j += 1;
                if o.redirect != 0 {
                    return conn
                        .out
                        .error("ERR A client can only redirect to a single other client");
                }
                let Some(id) = arg_i64(&args[j]) else {
                    return conn.out.error(NOT_INTEGER);
                };
                // Checked now; the client may still go away later.
                let found = match u64::try_from(id) {
                    Ok(id) if id > 0 => tracking::find_client(&conn.rt, id).await,
                    _ => None,
                };
                let Some(shard) = found else {
                    return conn
                        .out
                        .error("ERR The client ID you want redirect to does not exist");
                };
                o.redirect = id;
                redirect_shard = shard;
            } else if is(a, "bcast") {
                o.bcast = true;
            } else if is(a, "optin") {
                o.optin = true;
            } else if is(a, "optout") {
                o.optout = true;
            } else if is(a, "noloop") {
                o.noloop = true;
            } else if is(a, "prefix") && more {
                j += 1;
                o.prefixes.push(args[j].clone());
            } else {
                return conn.out.error(SYNTAX);
            }
            j += 1;
        }
        if is(&args[2], "off") {
            tracking::disable(&conn.rt, &conn.info).await;
            return conn.out.ok();
        }
        if !is(&args[2], "on") {
            return conn.out.error(SYNTAX);
        }
        if let Err(e) = check(conn, &o) {
            return conn.out.error(&e);
        }
        enable(conn, o, redirect_shard).await;
        conn.out.ok();
    })
}

/// The checks before turning tracking on, in Redis's order.
fn check(conn: &Conn, o: &Options) -> Result<(), String> {
    let t = &conn.info.tracking;
    if !o.bcast && !o.prefixes.is_empty() {
        return Err("ERR PREFIX option requires BCAST mode to be enabled".into());
    }
    if t.on.get() && t.bcast.get() != o.bcast {
        return Err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.".into());
    }
    if o.bcast && (o.optin || o.optout) {
        return Err("ERR OPTIN and OPTOUT are not compatible with BCAST".into());
    }
    if o.optin && o.optout {
        return Err("ERR You can't specify both OPTIN mode and OPTOUT mode".into());
    }
    if (o.optin && t.optout.get()) || (o.optout && t.optin.get()) {
        return Err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.".into());
    }
    if o.bcast {
        check_prefixes(&t.prefixes.borrow(), &o.prefixes)?;
    }
    Ok(())
}

/// Redis's checkPrefixCollisionsOrReply: two prefixes overlap when one
/// starts the other (an equal one included).
fn check_prefixes(existing: &[Vec<u8>], new: &[Vec<u8>]) -> Result<(), String> {
    let overlap = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    for (i, p) in new.iter().enumerate() {
        if let Some(e) = existing.iter().find(|e| overlap(e, p)) {
            return Err(format!(
                "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                s(p),
                s(e)
            ));
        }
        if let Some(q) = new[i + 1..].iter().find(|q| overlap(p, q)) {
            return Err(format!(
                "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                s(p),
                s(q)
            ));
        }
    }
    Ok(())
}

/// Redis's enableTracking: the mode is replaced, BCAST prefixes add up.
async fn enable(conn: &mut Conn, o: Options, redirect_shard: usize) {
    let t = &conn.info.tracking;
    if !t.on.replace(true) {
        tracking::CLIENTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    t.broken.set(false);
    t.redirect.set(o.redirect as u64);
    t.redirect_shard.set(redirect_shard);
    t.bcast.set(o.bcast);
    t.optin.set(o.optin);
    t.optout.set(o.optout);
    t.noloop.set(o.noloop);
    if o.bcast {
        let all = {
            let mut list = t.prefixes.borrow_mut();
            if o.prefixes.is_empty() {
                list.push(Vec::new());
            }
            list.extend(o.prefixes);
            list.sort();
            list.dedup();
            list.clone()
        };
        tracking::register_bcast(&conn.rt, conn.info.id, all, o.noloop).await;
    }
}

/// CLIENT CACHING YES|NO: for the next command in OPTIN / OPTOUT mode.
pub fn caching(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let t = &conn.info.tracking;
        if !t.on.get() {
            return conn.out.error(
                "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
            );
        }
        if is(&args[2], "yes") {
            if !t.optin.get() {
                return conn.out.error(
                    "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
                );
            }
        } else if is(&args[2], "no") {
            if !t.optout.get() {
                return conn.out.error(
                    "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
                );
            }
        } else {
            return conn.out.error(SYNTAX);
        }
        t.caching.set(true);
        conn.out.ok();
    })
}

/// CLIENT GETREDIR: the REDIRECT id (0 without), -1 when not tracking.
pub fn getredir(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let t = &conn.info.tracking;
        let id = if t.on.get() {
            t.redirect.get() as i64
        } else {
            -1
        };
        conn.out.int(id)
    })
}

/// CLIENT TRACKINGINFO: flags, redirect and prefixes, as Redis 7.0.
pub fn trackinginfo(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let t = &conn.info.tracking;
        let mut flags = vec![if t.on.get() { "on" } else { "off" }];
        if t.bcast.get() {
            flags.push("bcast");
        }
        if t.optin.get() {
            flags.push("optin");
            if t.caching.get() {
                flags.push("caching-yes");
            }
        }
        if t.optout.get() {
            flags.push("optout");
            if t.caching.get() {
                flags.push("caching-no");
            }
        }
        if t.noloop.get() {
            flags.push("noloop");
        }
        if t.broken.get() {
            flags.push("broken_redirect");
        }
        let redirect = if t.on.get() {
            t.redirect.get() as i64
        } else {
            -1
        };
        let prefixes = t.prefixes.borrow().clone();
        let out = &mut conn.out;
        out.map(3);
        out.bulk_str("flags");
        out.set(flags.len());
        for f in flags {
            out.bulk_str(f);
        }
        out.bulk_str("redirect");
        out.int(redirect);
        out.bulk_str("prefixes");
        out.array(prefixes.len());
        for p in prefixes {
            out.bulk(&p);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::check_prefixes;

    #[test]
    fn prefixes_overlap() {
        let v = |s: &[&str]| s.iter().map(|p| p.as_bytes().to_vec()).collect::<Vec<_>>();
        assert!(check_prefixes(&[], &v(&["a", "b"])).is_ok());
        assert!(check_prefixes(&[], &v(&["a", "ab"])).is_err());
        assert!(check_prefixes(&v(&["a"]), &v(&["a"])).is_err());
        assert!(check_prefixes(&v(&["ab"]), &v(&["a"])).is_err());
    }
}
