//! Applying an AOF's commands at start-up, before any shard serves: every
//! command runs through its ordinary handler against one scratch keyspace
//! holding all slots; the result is then handed out to the shards.
//! MULTI ... EXEC blocks are applied only once their EXEC is read.

use crate::command::{self, arity_ok, Ctx, ExecLimits, Handler};
use crate::persist::rdb::file::LoadedKey;
use crate::resp::Out;
use crate::store::Store;

pub struct Replayer {
    pub store: Store,
    db: usize,
    limits: ExecLimits,
    out: Out,
    /// Commands of an open MULTI, not applied yet.
    multi: Option<Vec<Vec<Vec<u8>>>>,
    pub commands: u64,
    lru: u32,
}

impl Replayer {
    pub fn new(databases: usize, limits: ExecLimits, lru: u32) -> Replayer {
        Replayer {
            store: Store::new(databases, 1),
            db: 0,
            limits,
            out: Out::new(false),
            multi: None,
            commands: 0,
            lru,
        }
    }

    pub fn limits_copy(&self) -> crate::store::EncodingLimits {
        self.limits.encodings.clone()
    }

    /// Whether a MULTI is open (a file must not end inside one).
    pub fn in_multi(&self) -> bool {
        self.multi.is_some()
    }

    /// Drops an unfinished MULTI (cut off by a crash).
    pub fn discard_multi(&mut self) {
        self.multi = None;
    }

    /// Each file starts in database 0, as Redis's loader does.
    pub fn start_file(&mut self) {
        self.db = 0;
        self.multi = None;
    }

    /// Applies one command; the error says why loading must stop.
    pub fn apply(&mut self, argv: &[&[u8]]) -> Result<(), String> {
        let name = String::from_utf8_lossy(argv[0]).to_ascii_lowercase();
        match name.as_str() {
            "multi" => {
                self.multi = Some(Vec::new());
                return Ok(());
            }
            "exec" => {
                let queued = self.multi.take().ok_or("EXEC without MULTI")?;
                for cmd in queued {
                    let argv: Vec<&[u8]> = cmd.iter().map(|a| a.as_slice()).collect();
                    self.run(&argv)?;
                }
                return Ok(());
            }
            _ => {}
        }
        if let Some(q) = self.multi.as_mut() {
            q.push(argv.iter().map(|a| a.to_vec()).collect());
            return Ok(());
        }
        self.run(argv)
    }

    fn run(&mut self, argv: &[&[u8]]) -> Result<(), String> {
        self.commands += 1;
        let name = String::from_utf8_lossy(argv[0]).to_ascii_lowercase();
        let now_ms = crate::sys::clock::unix_ms();
        match name.as_str() {
            "select" => {
                let db = std::str::from_utf8(argv.get(1).copied().unwrap_or_default())
                    .ok()
                    .and_then(|s| s.parse::<usize>().ok())
                    .filter(|&d| d < self.store.dbs.len())
                    .ok_or("SELECT of a database that does not exist")?;
                self.db = db;
                return Ok(());
            }
            "flushall" => {
                self.store.dbs.iter_mut().for_each(|d| d.clear());
                return Ok(());
            }
            "flushdb" => {
                self.store.dbs[self.db].clear();
                return Ok(());
            }
            "swapdb" => {
                let idx = |a: Option<&&[u8]>| {
                    a.and_then(|a| std::str::from_utf8(a).ok())
                        .and_then(|s| s.parse::<usize>().ok())
                        .filter(|&d| d < self.store.dbs.len())
                };
                let (Some(a), Some(b)) = (idx(argv.get(1)), idx(argv.get(2))) else {
                    return Err("bad SWAPDB".into());
                };
                self.store.dbs.swap(a, b);
                return Ok(());
            }
            // Keepalives of a replication stream: nothing to apply.
            "ping" => return Ok(()),
            _ => {}
        }
        let unknown = || format!("Unknown command '{name}' reading the append only file");
        let spec = command::resolve(argv).map_err(|_| unknown())?;
        let Handler::Shard(handler) = spec.handler else {
            return Err(unknown());
        };
        if !arity_ok(spec, argv.len()) {
            return Err(format!("Wrong number of arguments for '{name}'"));
        }
        self.out.buf.clear();
        // Not effects::apply: loading fills one keyspace before any shard
        // runs (no record, no clients to notify, track or wake), routed to
        // the shards afterwards (`into_shards`).
        let at = crate::command::Moment {
            now_ms,
            lru: self.lru,
            access: crate::store::access::Access {
                lru_secs: self.lru,
                lfu: None,
            },
        };
        let mut ctx = Ctx::new(
            &mut self.store,
            self.db,
            &mut self.out,
            at,
            &self.limits,
            false,
            Default::default(),
        );
        handler(&mut ctx, argv);
        Ok(())
    }

    /// The keys, routed to their shards (slot % nshards).
    pub fn into_shards(self, nshards: usize, now_ms: u64) -> Vec<Vec<LoadedKey>> {
        let mut per: Vec<Vec<LoadedKey>> = (0..nshards).map(|_| Vec::new()).collect();
        for (dbi, mut db) in self.store.dbs.into_iter().enumerate() {
            let (tables, _) = db.take_all();
            for mut t in tables {
                for (k, e) in t.keys.drain() {
                    let expire_ms = t.expires.get(k.as_slice()).copied();
                    if expire_ms.is_some_and(|at| at <= now_ms) {
                        continue;
                    }
                    let key = k.to_vec();
                    let shard = crate::slot::key_slot(&key) as usize % nshards;
                    per[shard].push(LoadedKey {
                        db: dbi,
                        key,
                        value: e.value,
                        expire_ms,
                    });
                }
            }
        }
        per
    }
}
