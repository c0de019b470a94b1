//! CLIENT PAUSE timeout [WRITE|ALL] and CLIENT UNPAUSE, on the node-wide
//! pause of `server/pause.rs` (the CLIENT PAUSE purpose; a manual
//! failover's pause is separate and outlives CLIENT UNPAUSE).

use super::client::subcommand_syntax_error;
use super::util::{arg_i64, is};
use crate::server::conn::Conn;
use crate::sys::clock::unix_ms;
use futures::future::LocalBoxFuture;

/// CLIENT PAUSE timeout [WRITE|ALL]: ALL when no mode is given.
pub fn pause(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        // Redis checks the mode before the timeout.
        let all = match args.len() {
            3 => true,
            4 if is(&args[3], "all") => true,
            4 if is(&args[3], "write") => false,
            4 => return conn.out.error("ERR CLIENT PAUSE mode must be WRITE or ALL"),
            _ => return subcommand_syntax_error(conn, &args),
        };
        let Some(ms) = arg_i64(&args[2]) else {
            return conn
                .out
                .error("ERR timeout is not an integer or out of range");
        };
        if ms < 0 {
            return conn.out.error("ERR timeout is negative");
        }
        // As Redis: 0 is an end in the past, and so is an end past the
        // clock's range (7.0 lets `now + timeout` overflow, ending it).
        let end = match ms {
            0 => 0,
            _ => (unix_ms() as i64).checked_add(ms).unwrap_or(0) as u64,
        };
        conn.rt.shared.write_pause.pause_clients(end, all);
        conn.out.ok();
    })
}

/// CLIENT UNPAUSE
pub fn unpause(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        conn.rt.shared.write_pause.unpause_clients();
        conn.out.ok();
    })
}
