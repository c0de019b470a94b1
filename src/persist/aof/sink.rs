//! Where AOF loading hands the commands it reads. Persist owns the files,
//! their parsing and the keyspace they load into; running a command is
//! the engine's (server/aof_replay.rs runs each through its handler).

use crate::store::Store;

pub trait CommandSink {
    /// A new file begins: each starts in database 0, as Redis's loader does.
    fn start_file(&mut self);

    /// Runs one command against `keyspace`. Never MULTI or EXEC: a block's
    /// commands arrive only once its EXEC is read. The error says why
    /// loading must stop.
    fn run(&mut self, keyspace: &mut Store, argv: &[&[u8]]) -> Result<(), String>;
}
