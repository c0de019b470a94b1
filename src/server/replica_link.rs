//! Commands a replica sends on its link besides its ACKs: run as any
//! client's (dispatch refuses the keyspace to a replica), but a reply
//! cannot go back on a link that carries the replication stream, so a
//! command that makes one disconnects the replica, logged as Redis 7.0's
//! `_addReplyToBufferOrList` / `addReplyDeferredLen` do; an error reply
//! is also a `== CRITICAL ==` line (master_errors.rs).

use super::conn::Conn;
use super::dispatch;
use super::master_errors::{self, Link};
use crate::repl::host::ReplicaConn;
use crate::sys::clock::unix_ms;

impl ReplicaConn for Conn {
    fn id(&self) -> u64 {
        self.info.id
    }

    fn addr(&self) -> &str {
        &self.info.addr
    }

    fn set_role(&self, role: Option<&'static str>) {
        self.info.repl_role.set(role);
    }

    async fn command<'a>(&'a mut self, argv: &'a [&'a [u8]]) -> bool {
        let argcs = [argv.len()];
        let batch = dispatch::Batch::new(argv, &argcs);
        self.settings = self.rt.settings();
        self.out.buf.clear();
        dispatch::run_batch(self, &batch).await;
        if self.out.buf.is_empty() {
            return true;
        }
        // Redis names the command it looked up (none for an unknown one).
        let name = super::table::resolve(argv).map_or("<unknown>", |s| s.name);
        crate::warning!(
            "Replica generated a reply to command '{name}', disconnecting it: {}",
            self.info.describe(unix_ms())
        );
        let reply = std::mem::take(&mut self.out.buf);
        if reply.first() == Some(&b'-') {
            let len = crate::resp::reply_len(&reply).unwrap_or(reply.len());
            master_errors::log_error(&self.rt.shared.config, Link::ToReplica, &reply[..len], name);
        }
        false
    }
}
