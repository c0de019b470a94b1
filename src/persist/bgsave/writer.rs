//! The snapshot's writer: a plain thread, so that no shard ever blocks on
//! the disk or a replica's socket. Shards send finished chunks of RDB
//! bytes (each begins with its own SELECTDB); the writer appends them to
//! a temp file in the target's directory, keeping the CRC-64 as it goes,
//! and on [`ToWriter::Finish`] adds EOF and the checksum, fsyncs, renames
//! the file over the target and fsyncs the directory, as SAVE does. For
//! a diskless full sync it sends them to replica sockets instead
//! (socket_sink.rs).

use crate::persist::rdb::crc64::crc64;
use crate::persist::rdb::file::opcodes;
use futures::channel::oneshot;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

/// With `rdb-save-incremental-fsync yes`, fsync every this many bytes
/// (Redis's REDIS_AUTOSYNC_BYTES) so the page cache never holds a huge
/// dirty backlog that one final fsync would have to push at once.
const AUTOSYNC_BYTES: u64 = 4 * 1024 * 1024;

/// The writer checksums and writes a chunk this much at a time, giving
/// the core back between pieces (about 50 µs of work each).
const PIECE_BYTES: usize = 64 * 1024;

pub enum ToWriter {
    /// RDB bytes to append.
    Chunk(Vec<u8>),
    /// Every chunk has been sent: finish the file; the reply is the
    /// file's size or the line to log.
    Finish(oneshot::Sender<Result<u64, String>>),
    /// Give up: remove the temp file, then answer, so the snapshot ends
    /// only once its temp file is gone.
    Abort(oneshot::Sender<()>),
}

/// Shared between the writer and the shards feeding it.
#[derive(Default)]
pub struct Flow {
    /// Bytes sent but not yet written: shards pause their time slices
    /// above a limit, so memory does not have to hold the whole file.
    pub backlog: AtomicUsize,
    /// The file cannot be written: shards stop serializing.
    pub failed: AtomicBool,
    /// Written chunks' buffers, emptied, for the shards to fill again: a
    /// fresh buffer per chunk cost its page faults on the shard's thread
    /// and an munmap on the writer's.
    spare: std::sync::Mutex<Vec<Vec<u8>>>,
}

/// Spare buffers kept at most (per snapshot).
const SPARE_BUFFERS: usize = 8;

impl Flow {
    /// A buffer for the next chunk, with room for `capacity` bytes.
    pub fn buffer(&self, capacity: usize) -> Vec<u8> {
        let spare = self.spare.lock().unwrap_or_else(|e| e.into_inner()).pop();
        spare.unwrap_or_else(|| Vec::with_capacity(capacity))
    }

    fn give_back(&self, mut buf: Vec<u8>) {
        buf.clear();
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        if spare.len() < SPARE_BUFFERS {
            spare.push(buf);
        }
    }
}

pub struct Target {
    pub temp: PathBuf,
    pub path: PathBuf,
    pub checksum: bool,
    pub incremental_fsync: bool,
    /// Fsync the file and its directory at the end (false for a file
    /// that only carries a full sync to replicas and is then removed).
    pub durable: bool,
    /// Diskless full sync: the replicas' sockets instead of the file.
    pub sockets: Option<super::socket_sink::Sockets>,
}

/// Starts the writer thread with the file's header as its first bytes.
pub fn spawn(
    target: Target,
    header: Vec<u8>,
    flow: Arc<Flow>,
) -> Result<mpsc::Sender<ToWriter>, String> {
    let (tx, rx) = mpsc::channel();
    crate::sys::cpus::spawn_background("bgsave-writer", move || {
        crate::sys::cpus::lower_to_idle_priority();
        write_loop(target, header, &flow, rx)
    })
    .map_err(|e| format!("Can't save in background: thread: {e}"))?;
    Ok(tx)
}

fn cwd() -> String {
    std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// Where the bytes go: the temp file, or replica sockets.
enum Dest {
    File { file: File, since_sync: u64 },
    Sockets(super::socket_sink::Sockets),
}

/// The open destination and what has been written to it.
struct Out {
    dest: Dest,
    crc: u64,
    written: u64,
}

impl Out {
    fn append(&mut self, bytes: &[u8], t: &Target) -> Result<(), String> {
        for piece in bytes.chunks(PIECE_BYTES) {
            self.append_piece(piece, t)?;
            crate::sys::cpus::yield_to_foreground();
        }
        Ok(())
    }

    fn append_piece(&mut self, bytes: &[u8], t: &Target) -> Result<(), String> {
        if t.checksum {
            self.crc = crc64(self.crc, bytes);
        }
        match &mut self.dest {
            Dest::File { file, since_sync } => {
                file.write_all(bytes)
                    .map_err(|e| format!("Write error saving DB on disk: {e}"))?;
                *since_sync += bytes.len() as u64;
                if t.incremental_fsync && *since_sync >= AUTOSYNC_BYTES {
                    *since_sync = 0;
                    file.sync_data()
                        .map_err(|e| format!("Write error saving DB on disk: {e}"))?;
                }
            }
            Dest::Sockets(sockets) => sockets.append(bytes)?,
        }
        self.written += bytes.len() as u64;
        Ok(())
    }
}

fn write_loop(mut t: Target, header: Vec<u8>, flow: &Flow, rx: mpsc::Receiver<ToWriter>) {
    let opened = match t.sockets.take() {
        Some(sockets) => Ok(Dest::Sockets(sockets)),
        None => File::create(&t.temp)
            .map(|file| Dest::File {
                file,
                since_sync: 0,
            })
            .map_err(|e| {
                format!(
                    "Failed opening the temp RDB file {} (in server root dir {}) for saving: {e}",
                    t.temp.display(),
                    cwd()
                )
            }),
    };
    let t = &t;
    let mut state: Result<Out, String> = opened.map(|dest| Out {
        dest,
        crc: 0,
        written: 0,
    });
    if let Ok(out) = &mut state {
        if let Err(e) = out.append(&header, t) {
            state = Err(e);
        }
    }
    if state.is_err() {
        flow.failed.store(true, Ordering::Release);
    }
    // Until Finish or Abort; a closed channel (the coordinator went
    // away) counts as Abort.
    while let Ok(msg) = rx.recv() {
        match msg {
            ToWriter::Chunk(bytes) => {
                if let Ok(out) = &mut state {
                    if let Err(e) = out.append(&bytes, t) {
                        flow.failed.store(true, Ordering::Release);
                        state = Err(e);
                    }
                }
                flow.backlog.fetch_sub(bytes.len(), Ordering::AcqRel);
                flow.give_back(bytes);
            }
            ToWriter::Finish(reply) => {
                let result = state.and_then(|out| finish(out, t));
                if result.is_err() {
                    let _ = std::fs::remove_file(&t.temp);
                }
                let _ = reply.send(result);
                return;
            }
            ToWriter::Abort(done) => {
                let _ = std::fs::remove_file(&t.temp);
                let _ = done.send(());
                return;
            }
        }
    }
    let _ = std::fs::remove_file(&t.temp);
}

/// EOF, checksum, fsync, rename, fsync of the directory (for sockets:
/// EOF, checksum and the end mark).
fn finish(mut out: Out, t: &Target) -> Result<u64, String> {
    out.append(&[opcodes::EOF], t)?;
    let crc = if t.checksum { out.crc } else { 0 };
    out.append(&crc.to_le_bytes(), t)?;
    let file = match out.dest {
        Dest::Sockets(mut sockets) => {
            sockets.finish()?;
            return Ok(out.written);
        }
        Dest::File { file, .. } => file,
    };
    if t.durable {
        file.sync_all()
            .map_err(|e| format!("Write error saving DB on disk: {e}"))?;
    }
    drop(file);
    std::fs::rename(&t.temp, &t.path).map_err(|e| {
        format!(
            "Error moving temp DB file {} on the final destination {} (in server root dir {}): {e}",
            t.temp.display(),
            t.path.display(),
            cwd()
        )
    })?;
    let dir = t
        .path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if t.durable {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(out.written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::rdb::file::write_footer;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("shardis-writer-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn finish_sync(tx: &mpsc::Sender<ToWriter>) -> Result<u64, String> {
        let (reply, rx) = oneshot::channel();
        tx.send(ToWriter::Finish(reply)).unwrap();
        futures::executor::block_on(rx).unwrap()
    }

    #[test]
    fn streamed_file_equals_the_one_shot_footer() {
        let dir = scratch("ok");
        let target = Target {
            temp: dir.join("temp.rdb"),
            path: dir.join("dump.rdb"),
            checksum: true,
            incremental_fsync: true,
            durable: true,
            sockets: None,
        };
        let flow = Arc::new(Flow::default());
        let tx = spawn(target, b"REDIS0010".to_vec(), flow.clone()).unwrap();
        for part in [&b"abc"[..], b"", b"defgh"] {
            flow.backlog.fetch_add(part.len(), Ordering::AcqRel);
            tx.send(ToWriter::Chunk(part.to_vec())).unwrap();
        }
        let size = finish_sync(&tx).unwrap();
        let mut expected = b"REDIS0010abcdefgh".to_vec();
        write_footer(&mut expected, true);
        let got = std::fs::read(dir.join("dump.rdb")).unwrap();
        assert_eq!(got, expected);
        assert_eq!(size, expected.len() as u64);
        assert!(!dir.join("temp.rdb").exists());
        assert_eq!(flow.backlog.load(Ordering::Acquire), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_directory_in_the_way_fails_and_leaves_no_temp_file() {
        let dir = scratch("fail");
        std::fs::create_dir_all(dir.join("dump.rdb")).unwrap();
        let target = Target {
            temp: dir.join("temp.rdb"),
            path: dir.join("dump.rdb"),
            checksum: false,
            incremental_fsync: false,
            durable: true,
            sockets: None,
        };
        let flow = Arc::new(Flow::default());
        let tx = spawn(target, b"REDIS0010".to_vec(), flow).unwrap();
        let err = finish_sync(&tx).unwrap_err();
        assert!(err.starts_with("Error moving temp DB file"), "{err}");
        assert!(!dir.join("temp.rdb").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
