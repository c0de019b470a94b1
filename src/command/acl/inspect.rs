//! ACL CAT, DRYRUN, GENPASS, LOG and HELP.

use crate::command::help::reply_help;
use crate::command::util::{arg_i64, is, NOT_INTEGER};
use crate::server::acl::catalog::{catalog, category, category_names};
use crate::server::acl::check::{check, Denial};
use crate::server::conn::Conn;
use crate::server::table;
use crate::sys::clock::unix_ms;
use futures::future::LocalBoxFuture;

/// ACL CAT [category]: the category names, or the commands (and
/// subcommands) in one.
pub fn cat(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        match args.len() {
            2 => {
                conn.out.array(category_names().count());
                for name in category_names() {
                    conn.out.bulk_str(name);
                }
            }
            3 => {
                let Some(flag) = category(&args[2]) else {
                    let name = String::from_utf8_lossy(&args[2][..args[2].len().min(128)]);
                    return conn.out.error(&format!("ERR Unknown category '{name}'"));
                };
                let names: Vec<&str> = (catalog().entries.iter())
                    .filter(|e| e.categories.has(flag))
                    .map(|e| e.spec.name)
                    .collect();
                conn.out.array(names.len());
                for name in names {
                    conn.out.bulk_str(name);
                }
            }
            _ => crate::command::client::subcommand_syntax_error(conn, &args),
        }
    })
}

/// ACL DRYRUN username command [arg ...]: +OK, or why the user may not
/// run it (as a bulk string).
pub fn dryrun(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(user) = conn.rt.shared.acl.get(&args[2]) else {
            let name = String::from_utf8_lossy(&args[2]);
            return conn.out.error(&format!("ERR User '{name}' not found"));
        };
        let argv: Vec<&[u8]> = args[3..].iter().map(|a| a.as_slice()).collect();
        let Some(spec) = table::lookup(&argv) else {
            let name = String::from_utf8_lossy(&args[3]);
            return conn.out.error(&format!("ERR Command '{name}' not found"));
        };
        if !table::arity_ok(spec, argv.len()) {
            return conn.out.error(&format!(
                "ERR wrong number of arguments for '{}' command",
                spec.name
            ));
        }
        let why = match check(&user, spec, &argv) {
            Ok(()) => return conn.out.ok(),
            Err(Denial::Command) => format!(
                "This user has no permissions to run the '{}' command",
                spec.name
            ),
            Err(Denial::Key(i)) => format!(
                "This user has no permissions to access the '{}' key",
                String::from_utf8_lossy(argv[i])
            ),
            Err(Denial::Channel(i)) => format!(
                "This user has no permissions to access the '{}' channel",
                String::from_utf8_lossy(argv[i])
            ),
        };
        conn.out.bulk_str(&why);
    })
}

/// Longest password ACL GENPASS makes, in bits.
const GENPASS_MAX_BITS: i64 = 4096;

/// ACL GENPASS [bits]: random hex, 256 bits unless told.
pub fn genpass(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        if args.len() > 3 {
            return crate::command::client::subcommand_syntax_error(conn, &args);
        }
        let bits = match args.get(2) {
            None => 256,
            Some(a) => match arg_i64(a) {
                Some(n) => n,
                None => return conn.out.error(NOT_INTEGER),
            },
        };
        if bits <= 0 || bits > GENPASS_MAX_BITS {
            return conn.out.error(&format!("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to {GENPASS_MAX_BITS}"));
        }
        let chars = (bits as usize).div_ceil(4);
        let pass = crate::sys::random::random_hex(chars);
        conn.out.bulk(&pass.as_bytes()[..chars]);
    })
}

/// ACL LOG [count | RESET]: the newest entries (10 unless told).
pub fn log(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        if args.len() > 3 {
            return crate::command::client::subcommand_syntax_error(conn, &args);
        }
        let mut count = 10;
        if let Some(a) = args.get(2) {
            if is(a, "reset") {
                conn.rt.shared.acl.log.lock().unwrap().entries.clear();
                return conn.out.ok();
            }
            match arg_i64(a) {
                Some(n) => count = n.max(0) as usize,
                None => return conn.out.error(NOT_INTEGER),
            }
        }
        let now = unix_ms();
        let log = conn.rt.shared.acl.log.lock().unwrap();
        let out = &mut conn.out;
        let n = count.min(log.entries.len());
        out.array(n);
        for e in log.entries.iter().take(n) {
            out.map(7);
            out.bulk_str("count");
            out.int(e.count as i64);
            out.bulk_str("reason");
            out.bulk_str(e.reason.name());
            out.bulk_str("context");
            out.bulk_str(e.context);
            out.bulk_str("object");
            out.bulk(&e.object);
            out.bulk_str("username");
            out.bulk(&e.username);
            out.bulk_str("age-seconds");
            out.double(now.saturating_sub(e.ctime_ms) as f64 / 1000.0);
            out.bulk_str("client-info");
            out.bulk_str(&e.client_info);
        }
    })
}

const HELP: &[&str] = &[
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
];

pub fn help(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move { reply_help(&mut conn.out, "ACL", HELP) })
}
