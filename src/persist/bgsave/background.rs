//! BGSAVE itself: a snapshot of the keyspace to `dbfilename` in the
//! working directory (the configured `dir`), run as a task on the shard
//! that asked, with Redis's bookkeeping when it ends: the change counters
//! lose the changes the file covers, LASTSAVE moves, and the status that
//! MISCONF and INFO read is set.

use super::status;
use crate::config::keys as conf;
use crate::persist::host::{NodeState, ShardData, ShardHost};
use crate::sys::clock::unix_ms;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::Ordering;

/// Why a BGSAVE did not start.
#[derive(Debug, PartialEq, Eq)]
pub enum BgsaveStart {
    Started,
    /// A BGSAVE runs already.
    AlreadyRunning,
    /// Another kind of snapshot (AOF rewrite, full sync) runs.
    OtherSnapshotRunning,
}

/// Starts a BGSAVE in the background, unless a snapshot runs.
pub fn start_bgsave<H: ShardHost>(rt: &Rc<H>) -> BgsaveStart {
    let Some(slot) = status::try_reserve(true) else {
        return if status::bgsave_running() {
            BgsaveStart::AlreadyRunning
        } else {
            BgsaveStart::OtherSnapshotRunning
        };
    };
    crate::persist::snapshot::RDB_SAVES.fetch_add(1, Ordering::Relaxed);
    status::bgsave_started(unix_ms());
    crate::notice!("Background saving started");
    let rt = rt.clone();
    let started = std::time::Instant::now();
    crate::sys::exec::spawn(async move {
        let path = PathBuf::from(rt.node().read_config(|c| c.text(conf::DBFILENAME)));
        // The replication fields are read at the snapshot instant.
        let at = rt.clone();
        let at_start: super::AtStart = Box::new(move || (at.node().repl_save_aux(), None));
        let result = super::snapshot_reserved_aux(&rt, &slot, &path, at_start, true).await;
        match result {
            Ok(stats) => {
                // Changes made after the instant stay counted.
                for (shard, covered) in stats.dirty_at_start.iter().copied().enumerate() {
                    H::run_on(&rt, shard, move |rt| rt.sub_dirty(covered)).await;
                }
                rt.node()
                    .lastsave_unix()
                    .store(unix_ms() / 1000, Ordering::Relaxed);
                status::bgsave_ended(true, stats.duration.as_secs() as i64);
                crate::notice!("DB saved on disk");
                crate::notice!("Background saving terminated with success");
            }
            Err(e) => {
                crate::warning!("{e}");
                status::bgsave_ended(false, started.elapsed().as_secs() as i64);
                crate::warning!("Background saving error");
            }
        }
        drop(slot);
    })
    .detach();
    BgsaveStart::Started
}
