//! Full resync: replicas join a sync job, which takes the fork-less
//! snapshot and places each joiner's stream cursor at its instant.

use super::*;
use crate::config::keys as conf;

/// The RDB file of a full sync, removed when the last sender is done
/// (its blocks freed off the shard, `lazyfree::remove_file_later`).
pub(super) struct RdbFile {
    pub(super) path: PathBuf,
    /// The RDB's size.
    pub(super) bytes: u64,
}

impl Drop for RdbFile {
    fn drop(&mut self) {
        crate::store::lazyfree::remove_file_later(&self.path);
    }
}

pub(super) enum JobEvent {
    /// The snapshot instant: `+FULLRESYNC <replid> <offset>`.
    Started {
        replid: String,
        offset: i64,
    },
    Done(Result<Arc<RdbFile>, String>),
}

struct Joiner {
    id: u64,
    /// Gets the RDB only: no stream cursor.
    rdb_only: bool,
    tx: fmpsc::UnboundedSender<JobEvent>,
    /// Diskless: its socket, for the snapshot writer.
    socket: Option<SocketOut>,
}

/// A full sync being prepared: replicas join until the snapshot starts.
pub(super) struct SyncJob {
    joiners: Mutex<Option<Vec<Joiner>>>,
    /// Whether it streams to sockets (`repl-diskless-sync`): the delay
    /// applies only then.
    diskless: bool,
}

/// Joins the pending full sync (or starts one) for replica `id`.
pub(super) fn join_full_sync<H: ReplHost>(
    rt: &Rc<H>,
    id: u64,
    rdb_only: bool,
    socket: Option<SocketOut>,
) -> fmpsc::UnboundedReceiver<JobEvent> {
    let diskless = socket.is_some();
    let shared = rt.shared();
    let (tx, rx) = fmpsc::unbounded();
    let mut slot = shared.repl().primary.job.lock().unwrap();
    if let Some(job) = slot.as_ref() {
        if job.diskless == diskless {
            if let Some(j) = job.joiners.lock().unwrap().as_mut() {
                j.push(Joiner {
                    id,
                    rdb_only,
                    tx,
                    socket,
                });
                return rx;
            }
        }
    }
    let job = Arc::new(SyncJob {
        joiners: Mutex::new(Some(vec![Joiner {
            id,
            rdb_only,
            tx,
            socket,
        }])),
        diskless,
    });
    *slot = Some(job.clone());
    drop(slot);
    crate::sys::exec::spawn(run_job(rt.clone(), job)).detach();
    rx
}

/// Waits for more replicas (diskless), takes the snapshot, hands every
/// joiner its FULLRESYNC offset and then the file.
async fn run_job<H: ReplHost>(rt: Rc<H>, job: Arc<SyncJob>) {
    let shared = rt.shared().clone();
    let (delay, max_replicas) = shared.read_config(|c| {
        (
            c.int(conf::REPL_DISKLESS_SYNC_DELAY).max(0) as u64,
            c.int(conf::REPL_DISKLESS_SYNC_MAX_REPLICAS).max(0) as usize,
        )
    });
    if job.diskless && delay > 0 {
        let until = std::time::Instant::now() + Duration::from_secs(delay);
        while std::time::Instant::now() < until {
            let n = job.joiners.lock().unwrap().as_ref().map_or(0, Vec::len);
            if max_replicas > 0 && n >= max_replicas {
                break;
            }
            glommio::timer::sleep(Duration::from_millis(100)).await;
        }
    }
    // One snapshot at a time: wait for a BGSAVE or rewrite to finish.
    // It is an RDB snapshot, as Redis's RDB child for a full sync.
    let slot = loop {
        if let Some(s) = crate::persist::bgsave::status::try_reserve(true) {
            break s;
        }
        glommio::timer::sleep(Duration::from_millis(100)).await;
    };
    {
        let mut current = shared.repl().primary.job.lock().unwrap();
        if current.as_ref().is_some_and(|j| Arc::ptr_eq(j, &job)) {
            *current = None;
        }
    }
    let n = shared.repl().primary.jobs.fetch_add(1, Ordering::Relaxed);
    let path = PathBuf::from(format!("temp-repl-{}-{n}.rdb", std::process::id()));
    crate::notice!(
        "Starting BGSAVE for SYNC with target: {}",
        if job.diskless {
            "replicas sockets"
        } else {
            "disk"
        }
    );
    let taken: Arc<Mutex<Vec<Joiner>>> = Arc::default();
    let at_start_job = job.clone();
    let at_start_taken = taken.clone();
    let at_start_shared = shared.clone();
    let diskless = job.diskless;
    let at_start: crate::persist::bgsave::AtStart = Box::new(move || {
        // Every shard is held: no record can slip in between.
        let mut joiners = at_start_job
            .joiners
            .lock()
            .unwrap()
            .take()
            .unwrap_or_default();
        // Replicas that went away meanwhile get no cursor.
        joiners.retain(|j| !j.tx.is_closed());
        let replid = at_start_shared
            .repl()
            .identity
            .lock()
            .unwrap()
            .replid
            .clone();
        let offset = at_start_shared.log().with_repl(|r, _| {
            // Freed meanwhile (the node turned replica): the joiners find
            // no cursor and disconnect.
            let b = r.as_mut()?;
            b.reset_db();
            let offset = b.end();
            for j in joiners.iter().filter(|j| !j.rdb_only) {
                b.attach(j.id, offset + 1);
            }
            Some(offset)
        });
        let offset =
            offset.unwrap_or_else(|| at_start_shared.repl().identity.lock().unwrap().offset);
        for j in &joiners {
            let _ = j.tx.unbounded_send(JobEvent::Started {
                replid: replid.clone(),
                offset,
            });
        }
        // Diskless: the writer sends the RDB to their sockets itself.
        let sockets = diskless.then(|| {
            let outs = joiners.iter_mut().filter_map(|j| j.socket.take()).collect();
            Sockets::new(outs, random_hex(40))
        });
        *at_start_taken.lock().unwrap() = joiners;
        let aux = vec![
            ("repl-stream-db".to_string(), "0".to_string()),
            ("repl-id".to_string(), replid),
            ("repl-offset".to_string(), offset.to_string()),
        ];
        (aux, sockets)
    });
    let result = H::snapshot_for_sync(&rt, &slot, &path, at_start).await;
    drop(slot);
    let mut joiners = std::mem::take(&mut *taken.lock().unwrap());
    // A failure before the instant leaves them in the job.
    joiners.extend(job.joiners.lock().unwrap().take().unwrap_or_default());
    let event = match result {
        Ok(stats) => {
            crate::notice!(
                "Background RDB transfer started ({} keys, {} bytes)",
                stats.keys,
                stats.bytes
            );
            Ok(Arc::new(RdbFile {
                path,
                bytes: stats.bytes,
            }))
        }
        Err(e) => {
            crate::warning!("Full sync snapshot failed: {e}");
            let _ = std::fs::remove_file(&path);
            Err(e)
        }
    };
    for j in joiners {
        if j.tx.unbounded_send(JobEvent::Done(event.clone())).is_err() {
            // Gone before the end: drop its cursor (it may have been
            // attached after its task cleaned up).
            shared.log().with_repl(|r, _| {
                if let Some(b) = r.as_mut() {
                    b.detach(j.id);
                }
            });
        }
    }
}
