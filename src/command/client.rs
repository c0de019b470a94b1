//! CLIENT subcommands: ID SETNAME GETNAME LIST INFO KILL NO-EVICT UNBLOCK
//! HELP (TRACKING, CACHING, GETREDIR, TRACKINGINFO: tracking.rs). Clients
//! live in their shard's registry; LIST and KILL visit every shard.
//!
//! Redis 7.0 has no CLIENT SETINFO / NO-TOUCH (7.2): like 7.0, they are
//! unknown subcommands. PAUSE and UNPAUSE: client_pause.rs. REPLY sets
//! the mode server/conn.rs applies to whole batches.

use super::connection::{valid_client_name, BAD_CLIENT_NAME};
use super::help::reply_help;
use super::spec::{Acl, Behavior, CommandSpec, Flags, Handler};
use super::util::{arg_i64, is, NOT_INTEGER, SYNTAX};
use crate::server::blocking::Wake;
use crate::server::conn::Conn;
use crate::server::mesh;
use crate::sys::clock::unix_ms;
use futures::future::LocalBoxFuture;

const CONN_FLAGS: Flags = Flags::NOSCRIPT.with(Flags::LOADING).with(Flags::STALE);
const ADMIN_FLAGS: Flags = Flags::ADMIN.with(CONN_FLAGS);
const CONN_ACL: Acl = Acl::SLOW.with_bits(Acl::CONNECTION);
const ADMIN_ACL: Acl = Acl::ADMIN
    .with_bits(Acl::SLOW)
    .with_bits(Acl::DANGEROUS)
    .with_bits(Acl::CONNECTION);

macro_rules! sub {
    ($name:expr, $arity:expr, $flags:expr, $acl:expr, $h:expr, $since:expr, $summary:expr, $complexity:expr $(, $tips:expr)? $(; $behavior:expr)?) => {
        CommandSpec {
            name: $name,
            // CLIENT CACHING's window outlives every CLIENT subcommand.
            behavior: Behavior::KEEPS_CACHING$(.with($behavior))?,
            arity: $arity,
            flags: $flags,
            acl: $acl,
            handler: Handler::Conn($h),
            $(tips: $tips,)?
            group: "connection",
            since: $since,
            summary: $summary,
            complexity: $complexity,
            ..CommandSpec::DEFAULT
        }
    };
}

pub static SUBCOMMANDS: &[CommandSpec] = &[
    sub!(
        "client|caching",
        3,
        CONN_FLAGS,
        CONN_ACL,
        super::tracking::caching,
        "6.0.0",
        "Instruct the server about tracking or not keys in the next request",
        "O(1)"; Behavior::NO_SHARD
    ),
    sub!(
        "client|getname",
        2,
        CONN_FLAGS,
        CONN_ACL,
        getname,
        "2.6.9",
        "Get the current connection name",
        "O(1)"; Behavior::NO_SHARD
    ),
    sub!(
        "client|getredir",
        2,
        CONN_FLAGS,
        CONN_ACL,
        super::tracking::getredir,
        "6.0.0",
        "Get tracking notifications redirection client ID if any",
        "O(1)"; Behavior::NO_SHARD
    ),
    sub!(
        "client|help",
        2,
        Flags::LOADING.with(Flags::STALE),
        CONN_ACL,
        help,
        "5.0.0",
        "Show helpful text about the different subcommands",
        "O(1)"; Behavior::NO_SHARD
    ),
    sub!(
        "client|id",
        2,
        CONN_FLAGS,
        CONN_ACL,
        id,
        "5.0.0",
        "Returns the client ID for the current connection",
        "O(1)"; Behavior::NO_SHARD
    ),
    sub!(
        "client|info",
        2,
        CONN_FLAGS,
        CONN_ACL,
        info,
        "6.2.0",
        "Returns information about the current client connection.",
        "O(1)",
        &["nondeterministic_output"]
    ),
    sub!(
        "client|kill",
        -3,
        ADMIN_FLAGS,
        ADMIN_ACL,
        kill,
        "2.4.0",
        "Kill the connection of a client",
        "O(N) where N is the number of client connections"
    ),
    sub!(
        "client|list",
        -2,
        ADMIN_FLAGS,
        ADMIN_ACL,
        list,
        "2.4.0",
        "Get the list of client connections",
        "O(N) where N is the number of client connections",
        &["nondeterministic_output"]
    ),
    sub!(
        "client|no-evict",
        3,
        ADMIN_FLAGS,
        ADMIN_ACL,
        no_evict,
        "7.0.0",
        "Set client eviction mode for the current connection",
        "O(1)"; Behavior::NO_SHARD
    ),
    sub!(
        "client|pause",
        -3,
        ADMIN_FLAGS,
        ADMIN_ACL,
        super::client_pause::pause,
        "2.9.50",
        "Stop processing commands from clients for some time",
        "O(1)"; Behavior::ENDS_BATCH
    ),
    sub!(
        "client|reply",
        3,
        CONN_FLAGS,
        CONN_ACL,
        reply,
        "3.2.0",
        "Instruct the server whether to reply to commands",
        "O(1)"; Behavior::ENDS_BATCH
    ),
    sub!(
        "client|setname",
        3,
        CONN_FLAGS,
        CONN_ACL,
        setname,
        "2.6.9",
        "Set the current connection name",
        "O(1)"; Behavior::NO_SHARD
    ),
    sub!(
        "client|tracking",
        -3,
        CONN_FLAGS,
        CONN_ACL,
        super::tracking::tracking,
        "6.0.0",
        "Enable or disable server assisted client side caching support",
        "O(1). Some options may introduce additional complexity."
    ),
    sub!(
        "client|trackinginfo",
        2,
        CONN_FLAGS,
        CONN_ACL,
        super::tracking::trackinginfo,
        "6.2.0",
        "Return information about server assisted client side caching for the current connection",
        "O(1)"; Behavior::NO_SHARD
    ),
    sub!(
        "client|unblock",
        -3,
        ADMIN_FLAGS,
        ADMIN_ACL,
        unblock,
        "5.0.0",
        "Unblock a client blocked in a blocking command from a different connection",
        "O(log N) where N is the number of client connections"
    ),
    sub!(
        "client|unpause",
        2,
        ADMIN_FLAGS,
        ADMIN_ACL,
        super::client_pause::unpause,
        "6.2.0",
        "Resume processing of clients that were paused",
        "O(N) Where N is the number of paused clients"
    ),
];

const HELP: &[&str] = &[
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
];

/// Redis's `addReplySubcommandSyntaxError`.
pub fn subcommand_syntax_error(conn: &mut Conn, args: &[Vec<u8>]) {
    let sub = String::from_utf8_lossy(&args[1][..args[1].len().min(128)]).into_owned();
    let container = String::from_utf8_lossy(&args[0]).to_uppercase();
    conn.out.error(&format!(
        "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {container} HELP."
    ));
}

fn help(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move { reply_help(&mut conn.out, "CLIENT", HELP) })
}

fn id(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move { conn.out.int(conn.info.id as i64) })
}

fn setname(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        if !valid_client_name(&args[2]) {
            return conn.out.error(BAD_CLIENT_NAME);
        }
        conn.set_name(&args[2]);
        conn.out.ok();
    })
}

/// CLIENT REPLY ON|OFF|SKIP: OFF and SKIP answer nothing themselves;
/// SKIP is ignored while OFF; ON drops what OFF silenced in its batch.
fn reply(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        use crate::server::conn::ReplyMode;
        if is(&args[2], "on") {
            if conn.reply == ReplyMode::Off {
                conn.out.buf.truncate(conn.reply_mark);
            }
            conn.reply = ReplyMode::On;
            conn.out.ok();
        } else if is(&args[2], "off") {
            conn.reply = ReplyMode::Off;
        } else if is(&args[2], "skip") {
            if conn.reply != ReplyMode::Off {
                conn.reply = ReplyMode::Skip;
            }
        } else {
            conn.out.error(SYNTAX);
        }
    })
}

fn getname(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let name = conn.info.name.borrow().clone();
        if name.is_empty() {
            conn.out.null();
        } else {
            conn.out.bulk(&name);
        }
    })
}

fn info(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        conn.info.argv_mem.set(args.iter().map(Vec::len).sum());
        let mut line = conn.info.describe(unix_ms());
        conn.info.argv_mem.set(0);
        line.push('\n');
        conn.out.verbatim(line.as_bytes());
    })
}

/// Redis's client type names (`getClientTypeByName`).
fn client_type(name: &[u8]) -> Option<&'static str> {
    let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
    match lower.as_str() {
        "normal" => Some("normal"),
        "slave" | "replica" => Some("replica"),
        "pubsub" => Some("pubsub"),
        "master" => Some("master"),
        _ => None,
    }
}

/// Every client of every shard as (id, CLIENT LIST line), by id, which
/// is connection order.
async fn all_clients(conn: &Conn) -> Vec<(u64, String, &'static str)> {
    let now = unix_ms();
    let per_shard = mesh::run_on_all(&conn.rt, move |rt| {
        rt.clients
            .borrow()
            .iter()
            .map(|c| (c.id, c.describe(now), c.type_name()))
            .collect::<Vec<_>>()
    })
    .await;
    let mut all: Vec<_> = per_shard.into_iter().flatten().collect();
    all.sort_by_key(|c| c.0);
    all
}

/// CLIENT LIST [TYPE type | ID id [id ...]]
fn list(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let mut ty = None;
        let mut ids = None;
        if args.len() == 4 && is(&args[2], "type") {
            match client_type(&args[3]) {
                Some(t) => ty = Some(t),
                None => {
                    let t = String::from_utf8_lossy(&args[3]);
                    return conn.out.error(&format!("ERR Unknown client type '{t}'"));
                }
            }
        } else if args.len() > 3 && is(&args[2], "id") {
            let mut v = Vec::new();
            for a in &args[3..] {
                match arg_i64(a) {
                    Some(n) => v.push(n),
                    None => return conn.out.error("ERR Invalid client ID"),
                }
            }
            ids = Some(v);
        } else if args.len() != 2 {
            return conn.out.error(SYNTAX);
        }
        conn.info.argv_mem.set(args.iter().map(Vec::len).sum());
        let all = all_clients(conn).await;
        conn.info.argv_mem.set(0);
        let mut text = String::new();
        match ids {
            Some(ids) => {
                for id in ids {
                    if let Some((_, line, _)) = all.iter().find(|c| c.0 as i64 == id) {
                        text.push_str(line);
                        text.push('\n');
                    }
                }
            }
            None => {
                for (_, line, t) in &all {
                    if ty.is_none_or(|ty| ty == *t) {
                        text.push_str(line);
                        text.push('\n');
                    }
                }
            }
        }
        conn.out.verbatim(text.as_bytes());
    })
}

/// What CLIENT KILL selects.
#[derive(Clone, Default)]
struct KillFilter {
    id: Option<u64>,
    addr: Option<String>,
    laddr: Option<String>,
    ty: Option<&'static str>,
    user: Option<Vec<u8>>,
    skip: Option<u64>,
}

impl KillFilter {
    fn matches(&self, c: &crate::server::clients::ClientInfo) -> bool {
        self.addr.as_ref().is_none_or(|a| *a == c.addr)
            && self.laddr.as_ref().is_none_or(|a| *a == c.laddr)
            && self.ty.is_none_or(|t| t == c.type_name())
            && self.id.is_none_or(|id| id == c.id)
            && self.user.as_ref().is_none_or(|u| *u == *c.user.borrow())
            && self.skip != Some(c.id)
    }
}

/// CLIENT KILL ip:port | CLIENT KILL [ID id] [TYPE t] [ADDR a] [LADDR a]
/// [USER u] [SKIPME yes|no] ...
fn kill(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let mut f = KillFilter::default();
        let mut skipme = true;
        let old_form = args.len() == 3;
        if old_form {
            f.addr = Some(String::from_utf8_lossy(&args[2]).into_owned());
            skipme = false;
        } else if args.len().is_multiple_of(2) {
            let mut i = 2;
            while i < args.len() {
                let (opt, val) = (&args[i], &args[i + 1]);
                if is(opt, "id") {
                    match arg_i64(val) {
                        Some(n) if n >= 1 => f.id = Some(n as u64),
                        _ => return conn.out.error("ERR client-id should be greater than 0"),
                    }
                } else if is(opt, "type") {
                    match client_type(val) {
                        Some(t) => f.ty = Some(t),
                        None => {
                            let t = String::from_utf8_lossy(val);
                            return conn.out.error(&format!("ERR Unknown client type '{t}'"));
                        }
                    }
                } else if is(opt, "addr") {
                    f.addr = Some(String::from_utf8_lossy(val).into_owned());
                } else if is(opt, "laddr") {
                    f.laddr = Some(String::from_utf8_lossy(val).into_owned());
                } else if is(opt, "user") {
                    if conn.rt.shared.acl.get(val).is_none() {
                        let u = String::from_utf8_lossy(val);
                        return conn.out.error(&format!("ERR No such user '{u}'"));
                    }
                    f.user = Some(val.clone());
                } else if is(opt, "skipme") {
                    if is(val, "yes") {
                        skipme = true;
                    } else if is(val, "no") {
                        skipme = false;
                    } else {
                        return conn.out.error(SYNTAX);
                    }
                } else {
                    return conn.out.error(SYNTAX);
                }
                i += 2;
            }
        } else {
            return conn.out.error(SYNTAX);
        }
        // This connection is never closed from the registry: it closes
        // itself once the reply is written.
        let me = conn.info.id;
        let kill_me = !skipme && f.matches(&conn.info);
        f.skip = Some(me);
        let filter = f.clone();
        let killed: usize = mesh::run_on_all(&conn.rt, move |rt| {
            rt.clients.borrow_mut().kill(|c| filter.matches(c))
        })
        .await
        .into_iter()
        .sum();
        let killed = killed + kill_me as usize;
        if kill_me {
            conn.close = true;
        }
        if old_form {
            if killed == 0 {
                conn.out.error("ERR No such client");
            } else {
                conn.out.ok();
            }
        } else {
            conn.out.int(killed as i64);
        }
    })
}

/// CLIENT NO-EVICT ON|OFF
fn no_evict(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        if is(&args[2], "on") {
            conn.info.no_evict.set(true);
        } else if is(&args[2], "off") {
            conn.info.no_evict.set(false);
        } else {
            return conn.out.error(SYNTAX);
        }
        conn.out.ok();
    })
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: completes the blocking command the
/// client waits on as its timeout would, or with `-UNBLOCKED ...`;
/// `:1` when the client was blocked, else `:0`.
fn unblock(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        if args.len() > 4 {
            return subcommand_syntax_error(conn, &args);
        }
        if args.len() == 4 && !is(&args[3], "timeout") && !is(&args[3], "error") {
            return conn
                .out
                .error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
        }
        let Some(id) = arg_i64(&args[2]) else {
            return conn.out.error(NOT_INTEGER);
        };
        let error = args.len() == 4 && is(&args[3], "error");
        let done = mesh::run_on_all(&conn.rt, move |rt| {
            let clients = rt.clients.borrow();
            let Some(w) = clients.get(id as u64).and_then(|c| c.block.waiter()) else {
                return false;
            };
            if !w.claim() {
                return false;
            }
            w.deliver(if error { Wake::Error } else { Wake::Timeout });
            true
        })
        .await;
        conn.out.int(done.contains(&true) as i64);
    })
}
