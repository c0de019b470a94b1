//! The AOF's files on disk: the directory, the manifest and the open incr
//! file, and the steps that change them (append, fsync, rotate to a new
//! incr file, install a new base). Manifest changes are atomic: temp
//! file, fsync, rename, fsync of the directory.

use super::manifest::{self, AofFile, FileKind, Manifest};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct AofFiles {
    /// `appenddirname`, relative to `dir` (the working directory).
    pub dir: PathBuf,
    /// `appendfilename`.
    pub name: String,
    pub manifest: Manifest,
    incr: File,
    /// Bytes in the current incr file.
    pub incr_len: u64,
    /// Total size of the files (for auto-aof-rewrite-*).
    pub total_len: u64,
    /// Size right after the last rewrite (or start).
    pub base_len: u64,
    /// The AOF was turned on at runtime and its first rewrite has not
    /// finished: records go to `temp-<appendfilename>.incr`, which no
    /// manifest lists, until that rewrite makes it the new incr file
    /// (Redis's AOF_WAIT_REWRITE). A crash meanwhile leaves the files on
    /// disk as they were, never a manifest listing part of the data.
    temp_incr: bool,
}

impl AofFiles {
    /// Opens the last incr file of `manifest` for appending.
    pub fn open(dir: PathBuf, name: String, manifest: Manifest) -> Result<AofFiles, String> {
        let incr_file = manifest
            .incrs
            .last()
            .cloned()
            .ok_or("the AOF manifest lists no incr file")?;
        let path = dir.join(&incr_file.name);
        AofFiles::with_incr(dir, name, manifest, &path, false)
    }

    /// For turning the AOF on at runtime: records go to a new, empty
    /// `temp-<name>.incr` until the first rewrite installs a base; the
    /// manifest (`manifest`, as on disk) is not touched until then.
    pub fn open_temp(dir: PathBuf, name: String, manifest: Manifest) -> Result<AofFiles, String> {
        let path = dir.join(temp_incr_name(&name));
        AofFiles::with_incr(dir, name, manifest, &path, true)
    }

    /// Opens `path` for appending (emptied first when `temp`).
    fn with_incr(
        dir: PathBuf,
        name: String,
        manifest: Manifest,
        path: &Path,
        temp: bool,
    ) -> Result<AofFiles, String> {
        let incr = OpenOptions::new()
            .append(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| format!("Can't open the append-only file {}: {e}", path.display()))?;
        if temp {
            incr.set_len(0)
                .map_err(|e| format!("Can't truncate {}: {e}", path.display()))?;
        }
        let incr_len = incr.metadata().map(|m| m.len()).unwrap_or(0);
        let mut files = AofFiles {
            dir,
            name,
            manifest,
            incr,
            incr_len,
            total_len: 0,
            base_len: 0,
            temp_incr: temp,
        };
        files.total_len = files.sum_sizes();
        files.base_len = files.total_len;
        Ok(files)
    }

    /// CONFIG SET aof-disable-auto-gc no: the kept history goes now.
    pub fn delete_history(&mut self) -> Result<(), String> {
        let target = Target {
            dir: &self.dir,
            name: &self.name,
        };
        target.delete_history(&mut self.manifest)
    }

    /// Deletes the temporary incr file if records still go there (the
    /// AOF turned off before its first rewrite finished).
    pub fn discard_temp(&self) {
        if self.temp_incr {
            let _ = std::fs::remove_file(self.dir.join(temp_incr_name(&self.name)));
        }
    }

    fn sum_sizes(&self) -> u64 {
        let listed = self.manifest.base.iter().chain(&self.manifest.incrs);
        listed
            .filter_map(|f| std::fs::metadata(self.dir.join(&f.name)).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Appends `bytes` to the incr file. On failure the file is cut back
    /// to where it was, so no half record stays behind.
    pub fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self.incr.write_all(bytes) {
            Ok(()) => {
                self.incr_len += bytes.len() as u64;
                self.total_len += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                let _ = self.incr.set_len(self.incr_len);
                Err(e)
            }
        }
    }

    pub fn fsync(&mut self) -> std::io::Result<()> {
        self.incr.sync_data()
    }

    /// A second handle on the current incr file, to fsync it without
    /// holding the files' lock.
    pub fn incr_handle(&self) -> std::io::Result<File> {
        self.incr.try_clone()
    }

    /// Starts a new incr file and lists it in the manifest: what follows
    /// goes there. The caller has flushed and synced the old one.
    pub fn rotate(&mut self) -> Result<(), String> {
        if self.temp_incr {
            // Everything in the temporary file is in the snapshot being
            // taken: it starts again empty, to become the new incr file.
            self.total_len -= self.incr_len.min(self.total_len);
            self.incr_len = 0;
            return self
                .incr
                .set_len(0)
                .map_err(|e| format!("Can't truncate the temporary AOF incr file: {e}"));
        }
        let mut next = self.manifest.clone();
        let seq = next.new_incr_seq();
        let name = manifest::incr_name(&self.name, seq);
        let path = self.dir.join(&name);
        let incr = OpenOptions::new()
            .append(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| format!("Can't open the append-only file {}: {e}", path.display()))?;
        next.incrs.push(AofFile {
            name,
            seq,
            kind: FileKind::Incr,
        });
        write_manifest(&self.dir, &self.name, &next)?;
        self.manifest = next;
        self.incr = incr;
        self.incr_len = 0;
        Ok(())
    }

    /// Makes `temp` (a complete, synced file) the new base. The old base
    /// and every incr file before the current one become history and are
    /// deleted (unless `keep_history`, Redis's aof-disable-auto-gc).
    pub fn install_base(
        &mut self,
        temp: &Path,
        rdb: bool,
        keep_history: bool,
    ) -> Result<(), String> {
        let target = Target {
            dir: &self.dir,
            name: &self.name,
        };
        let current = if self.temp_incr {
            Current::Temp
        } else {
            Current::Listed
        };
        self.manifest = target.install_base(&self.manifest, temp, rdb, keep_history, current)?;
        self.temp_incr = false;
        self.total_len = self.sum_sizes();
        self.base_len = self.total_len;
        Ok(())
    }
}

/// Which incr file records go to while a base is installed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Current {
    /// None: the AOF is off (BGREWRITEAOF with `appendonly no`).
    None,
    /// The manifest's last incr file.
    Listed,
    /// The temporary incr file of an AOF turned on at runtime, listed
    /// now under the next incr number.
    Temp,
}

/// Redis's getTempIncrAofName.
fn temp_incr_name(appendfilename: &str) -> String {
    format!("temp-{appendfilename}.incr")
}

/// Where an AOF's files live: `appenddirname` and `appendfilename`.
pub struct Target<'a> {
    pub dir: &'a Path,
    pub name: &'a str,
}

impl Target<'_> {
    /// Makes `temp` (a complete, synced file) the base after `manifest`;
    /// returns the new manifest, written. The old base and the incr files
    /// (all of them, or all but the one being written, see [`Current`])
    /// become history, deleted unless `keep_history`; history lists the
    /// newest first, as Redis's.
    pub fn install_base(
        &self,
        manifest: &Manifest,
        temp: &Path,
        rdb: bool,
        keep_history: bool,
        current: Current,
    ) -> Result<Manifest, String> {
        let mut next = manifest.clone();
        let seq = next.new_base_seq();
        let name = manifest::base_name(self.name, seq, rdb);
        let target = self.dir.join(&name);
        std::fs::rename(temp, &target).map_err(|e| {
            format!(
                "Error trying to rename the temporary AOF base file {} into {}: {e}",
                temp.display(),
                target.display()
            )
        })?;
        let current = match current {
            Current::None => None,
            Current::Listed => next.incrs.pop(),
            Current::Temp => {
                let seq = next.new_incr_seq();
                let incr = manifest::incr_name(self.name, seq);
                let from = self.dir.join(temp_incr_name(self.name));
                std::fs::rename(&from, self.dir.join(&incr)).map_err(|e| {
                    // The base just renamed is listed nowhere: it goes.
                    let _ = std::fs::remove_file(&target);
                    format!(
                        "Error trying to rename the temporary AOF incr file {} into {incr}: {e}",
                        from.display()
                    )
                })?;
                Some(AofFile {
                    name: incr,
                    seq,
                    kind: FileKind::Incr,
                })
            }
        };
        let old = next.incrs.drain(..).chain(next.base.take());
        let mut history: Vec<AofFile> = old
            .map(|f| AofFile {
                kind: FileKind::History,
                ..f
            })
            .collect();
        history.append(&mut next.history);
        next.history = history;
        next.base = Some(AofFile {
            name,
            seq,
            kind: FileKind::Base,
        });
        next.incrs.extend(current);
        write_manifest(self.dir, self.name, &next)?;
        if !keep_history {
            self.delete_history(&mut next)?;
        }
        Ok(next)
    }

    /// Deletes the history files `m` lists and writes it without them
    /// (Redis's aofDelHistoryFiles).
    pub fn delete_history(&self, m: &mut Manifest) -> Result<(), String> {
        if m.history.is_empty() {
            return Ok(());
        }
        for f in &m.history {
            let _ = std::fs::remove_file(self.dir.join(&f.name));
        }
        m.history.clear();
        write_manifest(self.dir, self.name, m)
    }
}

/// Writes the manifest atomically.
pub fn write_manifest(dir: &Path, name: &str, m: &Manifest) -> Result<(), String> {
    let final_path = dir.join(manifest::manifest_name(name));
    let temp = dir.join(format!("temp-{}", manifest::manifest_name(name)));
    let result = (|| {
        let mut f = File::create(&temp)?;
        f.write_all(m.render().as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&temp, &final_path)?;
        sync_dir(dir)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        format!(
            "Can't persist the AOF manifest {}: {e}",
            final_path.display()
        )
    })
}

pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}
