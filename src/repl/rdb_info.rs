//! The replication fields of an RDB file, `repl-stream-db`, `repl-id`
//! and `repl-offset`: a save writes them while this node belongs to a
//! replication history (Redis's rdbPopulateSaveInfo), and a restart
//! from the file continues that history with a partial resync instead
//! of a full one (Redis's loadDataFromDisk).

use super::host::ReplShared;
use crate::config::keys as conf;
use crate::persist::aof::record::encode_command;
use crate::persist::rdb::file::LoadStats;

/// The AUX fields a save writes: none unless this node is a master with
/// a backlog, or a replica with a master (linked or cached).
pub fn save_aux<S: ReplShared + ?Sized>(shared: &S) -> Vec<(String, String)> {
    let st = &shared.repl().replica;
    let db = if st.is_replica() {
        let inner = st.inner.lock().unwrap();
        (inner.linked || inner.cached.is_some()).then_some(inner.cached_db)
    } else {
        // A master that fed nothing since its last full sync may say 0:
        // the next write starts with a SELECT anyway.
        shared
            .log()
            .with_repl(|r, _| r.as_ref().map(|b| b.stream_db().unwrap_or(0)))
    };
    let Some(db) = db else {
        return Vec::new();
    };
    let offset = super::primary::master_offset(shared);
    let replid = shared.repl().identity.lock().unwrap().replid.clone();
    vec![
        ("repl-stream-db".to_string(), db.to_string()),
        ("repl-id".to_string(), replid),
        ("repl-offset".to_string(), offset.to_string()),
    ]
}

/// The history a loaded RDB file recorded: (replid, offset, stream db).
fn saved_history(stats: &LoadStats) -> Option<(String, i64, usize)> {
    let field = |name: &str| {
        let (_, v) = stats.aux.iter().find(|(k, _)| k == name.as_bytes())?;
        std::str::from_utf8(v).ok()
    };
    let replid = field("repl-id").filter(|id| id.len() == 40)?;
    let offset = field("repl-offset")?.parse::<i64>().ok()?;
    let db = field("repl-stream-db")?.parse::<i64>().ok()?;
    // -1 from older versions means "unknown" (Redis ignores the fields).
    if offset == -1 || db < 0 {
        return None;
    }
    Some((replid.to_string(), offset, db as usize))
}

/// At start-up, after loading `dbfilename`: a replica (`replicaof` set)
/// takes the saved history as its cached master, to PSYNC from; a master
/// keeps it as its previous history (replid2) and starts a backlog at the
/// saved offset, holding the deletions of the keys that expired while it
/// was down, so its replicas can continue.
pub fn restore<S: ReplShared + ?Sized>(shared: &S, stats: &LoadStats, replica: bool) {
    let Some((replid, offset, db)) = saved_history(stats) else {
        return;
    };
    if replica {
        let mut inner = shared.repl().replica.inner.lock().unwrap();
        let mut id = shared.repl().identity.lock().unwrap();
        id.replid = replid.clone();
        id.offset = offset;
        inner.cached = Some((replid, offset));
        inner.cached_db = db;
        inner.reploff = offset;
        inner.read_reploff = offset;
        return;
    }
    {
        let mut id = shared.repl().identity.lock().unwrap();
        id.replid2 = replid;
        id.second_offset = offset + 1;
        id.offset = offset;
    }
    super::primary::ensure_replica_backlog(shared);
    let verb: &[u8] = if shared.read_config(|c| c.flag(conf::LAZYFREE_LAZY_EXPIRE)) {
        b"UNLINK"
    } else {
        b"DEL"
    };
    shared.log().with_repl(|r, wake| {
        let Some(b) = r.as_mut() else { return };
        let mut record = Vec::new();
        for (db, key) in &stats.expired_keys {
            record.clear();
            encode_command(&mut record, &[verb, key.as_slice()]);
            b.feed(Some(*db), &record, wake);
        }
    });
}
