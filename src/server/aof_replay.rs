//! Running an AOF's commands at start-up and for DEBUG LOADAOF: each
//! through its ordinary handler against the scratch keyspace persist
//! loads into (persist/aof/startup.rs reads the files, replay.rs keeps
//! MULTI blocks whole), as effects.rs's loading step (a logged script
//! too: script/replay.rs): loading fills one
//! keyspace before any shard runs (no record, no clients to notify,
//! track or wake), routed to the shards afterwards.

use super::ctx::{ExecLimits, Moment};
use super::master_errors::{log_error_then, Link};
use super::script::replay;
use super::spec::Handler;
use super::table::{arity_ok, resolve};
use crate::config::Config;
use crate::persist::aof::sink::CommandSink;
use crate::persist::aof::startup::{self, Opened};
use crate::persist::rdb::file::LoadedKey;
use crate::resp::Out;
use crate::store::Store;

/// Start-up with `appendonly yes`: the AOF's directory and manifest,
/// its keys per shard, and the incr file opened for appending.
pub fn open_at_start(config: &Config, nshards: usize, lru: u32) -> Result<Opened, String> {
    startup::open_at_start(config, nshards, &mut HandlerSink::for_config(config, lru))
}

/// DEBUG LOADAOF: the keys per shard of the AOF the manifest on disk
/// lists; `None` when there is nothing to load.
pub fn load_for_debug(
    config: &Config,
    nshards: usize,
    lru: u32,
) -> Result<Option<Vec<Vec<LoadedKey>>>, String> {
    startup::load_for_debug(config, nshards, &mut HandlerSink::for_config(config, lru))
}

/// Runs each command through its handler; keys it creates are stamped
/// with `lru`. Also the AOF fuzz target's sink.
pub struct HandlerSink {
    db: usize,
    limits: ExecLimits,
    out: Out,
    lru: u32,
    /// `propagation-error-behavior panic`: a command's error crashes.
    panic_on_error: bool,
}

impl HandlerSink {
    pub fn new(limits: ExecLimits, lru: u32) -> HandlerSink {
        HandlerSink {
            db: 0,
            limits,
            out: Out::new(false),
            lru,
            panic_on_error: false,
        }
    }

    fn for_config(config: &Config, lru: u32) -> HandlerSink {
        // Replaying the log checks no cluster rules (db 0 only).
        let limits = ExecLimits {
            cluster: false,
            ..ExecLimits::from_config(config)
        };
        HandlerSink {
            panic_on_error: Link::ToAofLoading.panics(config),
            ..HandlerSink::new(limits, lru)
        }
    }
}

impl CommandSink for HandlerSink {
    fn start_file(&mut self) {
        self.db = 0;
    }

    fn run(&mut self, store: &mut Store, argv: &[&[u8]]) -> Result<(), String> {
        let name = String::from_utf8_lossy(argv[0]).to_ascii_lowercase();
        // Nothing expires while loading (Redis's keyIsExpired and
        // checkAlreadyExpired when server.loading): a PEXPIREAT in the
        // past sets the TTL, later commands still see the key, and it
        // expires once served. The log's times are absolute (relative
        // TTLs are logged as PEXPIREAT / PXAT), so the clock reads 0, as
        // for a replica's master link.
        let now_ms = 0;
        match name.as_str() {
            "select" => {
                let db = std::str::from_utf8(argv.get(1).copied().unwrap_or_default())
                    .ok()
                    .and_then(|s| s.parse::<usize>().ok())
                    .filter(|&d| d < store.dbs.len())
                    .ok_or("SELECT of a database that does not exist")?;
                self.db = db;
                return Ok(());
            }
            "flushall" => {
                store.dbs.iter_mut().for_each(|d| d.clear());
                return Ok(());
            }
            "flushdb" => {
                store.dbs[self.db].clear();
                return Ok(());
            }
            "swapdb" => {
                let idx = |a: Option<&&[u8]>| {
                    a.and_then(|a| std::str::from_utf8(a).ok())
                        .and_then(|s| s.parse::<usize>().ok())
                        .filter(|&d| d < store.dbs.len())
                };
                let (Some(a), Some(b)) = (idx(argv.get(1)), idx(argv.get(2))) else {
                    return Err("bad SWAPDB".into());
                };
                store.dbs.swap(a, b);
                return Ok(());
            }
            // Keepalives of a replication stream: nothing to apply.
            "ping" => return Ok(()),
            // The function libraries are the node's, not the keyspace's.
            "function" => {
                if let Err(e) = super::script::library::replay(argv) {
                    crate::warning!("Error replaying FUNCTION from the append only file: {e}");
                }
                return Ok(());
            }
            _ => {}
        }
        let unknown = || format!("Unknown command '{name}' reading the append only file");
        let spec = resolve(argv).map_err(|_| unknown())?;
        let script = replay::is_script(spec);
        let shard_handler = match spec.handler {
            Handler::Shard(handler) => Some(handler),
            Handler::Conn(_) if script => None,
            Handler::Conn(_) => return Err(unknown()),
        };
        if !arity_ok(spec, argv.len()) {
            return Err(format!("Wrong number of arguments for '{name}'"));
        }
        self.out.buf.clear();
        let at = Moment {
            now_ms,
            lru: self.lru,
            access: crate::store::access::Access {
                lru_secs: self.lru,
                lfu: None,
            },
        };
        match shard_handler {
            Some(handler) => super::effects::apply_loading(
                store,
                self.db,
                handler,
                argv,
                at,
                &self.limits,
                &mut self.out,
            ),
            None => self.out.buf = replay::run_logged(store, spec, argv, self.db, at, &self.limits),
        }
        // An error nobody reads (Redis's afterErrorReply for its AOF
        // client): logged, counted, maybe a crash.
        if self.out.buf.first() == Some(&b'-') {
            let len = crate::resp::reply_len(&self.out.buf).unwrap_or(self.out.buf.len());
            let panics = self.panic_on_error;
            log_error_then(Link::ToAofLoading, &self.out.buf[..len], spec.name, || {
                panics
            });
        }
        Ok(())
    }
}
