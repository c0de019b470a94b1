//! Replaying an AOF's commands at start-up, before any shard serves, into
//! one scratch keyspace holding all slots; the result is then handed out
//! to the shards. MULTI ... EXEC blocks are applied only once their EXEC
//! is read. Each command runs through the caller's [`CommandSink`].

use super::sink::CommandSink;
use crate::persist::rdb::file::LoadedKey;
use crate::store::Store;

pub struct Replayer<'a> {
    pub store: Store,
    sink: &'a mut dyn CommandSink,
    /// Commands of an open MULTI, not applied yet.
    multi: Option<Vec<Vec<Vec<u8>>>>,
    pub commands: u64,
}

impl<'a> Replayer<'a> {
    pub fn new(databases: usize, sink: &'a mut dyn CommandSink) -> Replayer<'a> {
        Replayer {
            store: Store::new(databases, 1),
            sink,
            multi: None,
            commands: 0,
        }
    }

    /// Whether a MULTI is open (a file must not end inside one).
    pub fn in_multi(&self) -> bool {
        self.multi.is_some()
    }

    /// Drops an unfinished MULTI (cut off by a crash).
    pub fn discard_multi(&mut self) {
        self.multi = None;
    }

    pub fn start_file(&mut self) {
        self.sink.start_file();
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
        self.sink.run(&mut self.store, argv)
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
