//! Scripts read back from an AOF: EVAL, EVALSHA and FCALL logged as
//! themselves (Redis 6's logs, `lua-replicate-commands no`), run while
//! loading, each `redis.call` on the keyspace being loaded through
//! effects.rs's loading step as a logged command (aof_replay.rs). The log
//! is obeyed, as Redis's AOF client: no check of the server's state, of
//! ACL rules or of cluster slots.

use super::engine::Calls;
use crate::resp::Out;
use crate::server::acl::check::Denial;
use crate::server::ctx::{ExecLimits, Moment};
use crate::server::dispatch::StateFacts;
use crate::server::spec::{CommandSpec, Handler};
use crate::store::Store;

/// Whether `spec` runs a script (EVAL, EVALSHA, FCALL and their _RO
/// forms).
pub fn is_script(spec: &CommandSpec) -> bool {
    spec.name.starts_with("eval") || spec.name.starts_with("fcall")
}

/// Runs the logged script `argv` of `spec` in `db` of `store`; its reply
/// (an error reply when it failed).
pub fn run_logged(
    store: &mut Store,
    spec: &CommandSpec,
    argv: &[&[u8]],
    db: usize,
    at: Moment,
    limits: &ExecLimits,
) -> Vec<u8> {
    let args: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
    let (by_sha, ro) = super::run::kind(spec);
    let prepared = if spec.name.starts_with("fcall") {
        super::run::prepare_fcall(&args, ro, false)
    } else {
        super::run::prepare(&args, by_sha, ro, false)
    };
    let p = match prepared {
        Ok(p) => p,
        Err(e) => {
            let mut out = Out::new(false);
            out.error(&e);
            return out.buf;
        }
    };
    let name = super::run::watched_name(&p);
    let eval = super::run::is_eval(&p);
    let _watch = super::timeout::watch_loading(limits.busy_reply_threshold_ms, &args, name, eval);
    let mut calls = OnLoading { store, at, limits };
    super::run::invoke(&p, &args, ro, db, false, &mut calls)
}

/// A script's commands on the keyspace being loaded.
struct OnLoading<'a> {
    store: &'a mut Store,
    at: Moment,
    limits: &'a ExecLimits,
}

impl Calls for OnLoading<'_> {
    fn call(&mut self, argv: &[&[u8]], db: usize, resp3: bool) -> Vec<u8> {
        let spec = crate::server::table::lookup(argv).expect("checked");
        let mut out = Out::new(resp3);
        match spec.handler {
            Handler::Shard(handler) => crate::server::effects::apply_loading(
                self.store,
                db,
                handler,
                argv,
                self.at,
                self.limits,
                &mut out,
            ),
            // PING needs no connection (the script's client answers it).
            Handler::Conn(_) if spec.name == "ping" => match argv {
                [_] => out.simple("PONG"),
                [_, message] => out.bulk(message),
                _ => out.error("ERR wrong number of arguments for 'ping' command"),
            },
            Handler::Conn(_) => out.error(&format!(
                "ERR Shardis does not run '{}' from scripts while loading",
                spec.name
            )),
        }
        out.buf
    }
    fn databases(&self) -> usize {
        self.store.dbs.len()
    }
    fn state_refusal(&self, _facts: StateFacts) -> Option<String> {
        None
    }
    fn acl_denial(&self, _spec: &CommandSpec, _argv: &[&[u8]], _log: bool) -> Option<Denial> {
        None
    }
    fn cluster_slot(
        &self,
        _spec: &CommandSpec,
        _argv: &[&[u8]],
        _db: usize,
    ) -> Result<Option<u16>, String> {
        Ok(None)
    }
    fn track_declared(&mut self, _keys: &[&[u8]]) {}
    fn home(&self) -> Option<(&crate::server::shard::ShardRt, u64)> {
        None
    }
}
