//! The AOF at start-up (`appendonly yes`): find or create the directory
//! and manifest, load the base and incr files into the keyspace, and open
//! the last incr file for appending.
//!
//! As Redis 7.0: an old single `appendfilename` in `dir` is moved into
//! the directory as the base; with no files at all an empty base (an RDB
//! with `aof-base 1`, or an empty command file) and incr are created; a
//! file cut short by a crash is truncated to its last whole command when
//! it is the last file and `aof-load-truncated` is on.

use super::files::{self, AofFiles};
use super::manifest::{self, AofFile, FileKind, Manifest};
use super::parse::{for_each_command, ParseStop};
use super::replay::Replayer;
use super::sink::CommandSink;
use crate::config::keys as conf;
use crate::config::Config;
use crate::persist::rdb::file::{self as rdbfile, LoadOpts, LoadedKey};
use crate::store::EncodingLimits;
use std::path::{Path, PathBuf};

/// What start-up loaded and opened.
pub struct Opened {
    pub files: AofFiles,
    /// Keys per shard.
    pub keys: Vec<Vec<LoadedKey>>,
    pub loaded_keys: u64,
}

struct Settings {
    dir: PathBuf,
    name: String,
    preamble: bool,
    truncated_ok: bool,
    checksum: bool,
    databases: usize,
    /// For the values an RDB preamble loads.
    encodings: EncodingLimits,
}

/// The files for turning the AOF on at runtime (CONFIG SET appendonly
/// yes): the manifest on disk (if any) left as it is, records going to a
/// temporary incr file; the rewrite that follows makes the base and lists
/// that file (Redis's AOF_WAIT_REWRITE).
pub fn open_for_enable(config: &Config) -> Result<AofFiles, String> {
    let (dir, name, manifest) = for_rewrite_while_off(config)?;
    AofFiles::open_temp(dir, name, manifest)
}

/// BGREWRITEAOF with `appendonly no` (Redis writes a base anyway): the
/// directory, the file name and the manifest on disk (an empty one when
/// there is none), the directory created; no incr file is made.
pub fn for_rewrite_while_off(config: &Config) -> Result<(PathBuf, String, Manifest), String> {
    let s = settings(config)?;
    let manifest = read_manifest(&s)?.unwrap_or_default();
    std::fs::create_dir_all(&s.dir).map_err(|e| {
        format!(
            "Can't open or create append-only dir {}: {e}",
            s.dir.display()
        )
    })?;
    Ok((s.dir, s.name, manifest))
}

fn settings(config: &Config) -> Result<Settings, String> {
    let dirname = config.text(conf::APPENDDIRNAME);
    let name = config.text(conf::APPENDFILENAME);
    for (what, v) in [("appenddirname", &dirname), ("appendfilename", &name)] {
        if v.is_empty() || v.contains('/') || v == "." || v == ".." {
            return Err(format!("{what} can't be a path, just a filename"));
        }
    }
    Ok(Settings {
        dir: PathBuf::from(&dirname),
        name,
        preamble: config.flag(conf::AOF_USE_RDB_PREAMBLE),
        truncated_ok: config.flag(conf::AOF_LOAD_TRUNCATED),
        checksum: config.flag(conf::RDBCHECKSUM),
        databases: config.int(conf::DATABASES) as usize,
        encodings: EncodingLimits::from_config(config),
    })
}

/// `sink` runs the commands read (server/aof_replay.rs).
pub fn open_at_start(
    config: &Config,
    nshards: usize,
    sink: &mut dyn CommandSink,
) -> Result<Opened, String> {
    let s = settings(config)?;
    let manifest = find_or_create(&s)?;
    let (keys, loaded_keys) = load_listed(&s, &manifest, nshards, sink)?;
    let files = AofFiles::open(s.dir.clone(), s.name.clone(), manifest)?;
    Ok(Opened {
        files,
        keys,
        loaded_keys,
    })
}

/// DEBUG LOADAOF: the keys of the AOF the manifest on disk lists, per
/// shard; `None` when there is no manifest or it lists no file (Redis
/// then exits: there is nothing to load). Nothing is created or opened.
pub fn load_for_debug(
    config: &Config,
    nshards: usize,
    sink: &mut dyn CommandSink,
) -> Result<Option<Vec<Vec<LoadedKey>>>, String> {
    let s = settings(config)?;
    let Some(manifest) = read_manifest(&s)? else {
        return Ok(None);
    };
    if manifest.base.is_none() && manifest.incrs.is_empty() {
        return Ok(None);
    }
    Ok(Some(load_listed(&s, &manifest, nshards, sink)?.0))
}

/// Loads the base then the incr files `manifest` lists: keys per shard,
/// and how many came from the base's RDB part.
fn load_listed(
    s: &Settings,
    manifest: &Manifest,
    nshards: usize,
    sink: &mut dyn CommandSink,
) -> Result<(Vec<Vec<LoadedKey>>, u64), String> {
    let mut replayer = Replayer::new(s.databases, sink);
    let listed: Vec<&AofFile> = manifest.base.iter().chain(&manifest.incrs).collect();
    let mut loaded_keys = 0;
    for (i, f) in listed.iter().enumerate() {
        let last = i + 1 == listed.len();
        loaded_keys += load_one(s, f, last, &mut replayer)?;
    }
    let now = crate::sys::clock::unix_ms();
    let commands = replayer.commands;
    let keys = replayer.into_shards(nshards, now);
    let total: usize = keys.iter().map(|k| k.len()).sum();
    crate::notice!(
        "DB loaded from append only file: {} keys ({} from the base, {} commands replayed)",
        total,
        loaded_keys,
        commands
    );
    Ok((keys, loaded_keys))
}

/// The manifest on disk; None when there is none.
fn read_manifest(s: &Settings) -> Result<Option<Manifest>, String> {
    let mpath = s.dir.join(manifest::manifest_name(&s.name));
    match std::fs::read(&mpath) {
        Ok(text) => Manifest::parse(&text)
            .map(Some)
            .map_err(|e| format!("Bad AOF manifest {}: {e}", mpath.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!(
            "Can't read the AOF manifest {}: {e}",
            mpath.display()
        )),
    }
}

/// Moves Redis 6's single AOF (`appendfilename` in `dir`) into the AOF
/// directory, where it becomes the base.
fn migrate_old_style(s: &Settings) -> Result<(), String> {
    let target = s.dir.join(&s.name);
    std::fs::rename(&s.name, &target)
        .map_err(|e| format!("Error moving {} into {}: {e}", s.name, s.dir.display()))?;
    crate::notice!(
        "Successfully migrated an old-style AOF into the AOF directory {}",
        s.dir.display()
    );
    Ok(())
}

/// The manifest on disk; or one made by upgrading an old single-file
/// AOF, or for a fresh empty AOF.
fn find_or_create(s: &Settings) -> Result<Manifest, String> {
    let old_style = Path::new(&s.name).is_file();
    if let Some(mut m) = read_manifest(s)? {
        // An upgrade interrupted between writing the manifest and the
        // rename: the manifest lists only the old file, which is still
        // in `dir` (Redis 7.0's loadAppendOnlyFiles finishes it).
        let interrupted = old_style
            && m.incrs.is_empty()
            && m.base.as_ref().is_some_and(|b| b.name == s.name)
            && !s.dir.join(&s.name).exists();
        if interrupted {
            migrate_old_style(s)?;
        }
        if m.incrs.is_empty() {
            add_incr(s, &mut m)?;
        }
        return Ok(m);
    }
    std::fs::create_dir_all(&s.dir).map_err(|e| {
        format!(
            "Can't open or create append-only dir {}: {e}",
            s.dir.display()
        )
    })?;
    let mut m = Manifest::default();
    if old_style {
        // Redis before 7.0: one file in `dir`. It becomes the base.
        migrate_old_style(s)?;
        m.base = Some(AofFile {
            name: s.name.clone(),
            seq: m.new_base_seq(),
            kind: FileKind::Base,
        });
    } else {
        let seq = m.new_base_seq();
        let name = manifest::base_name(&s.name, seq, s.preamble);
        let mut bytes = Vec::new();
        if s.preamble {
            let now = crate::sys::clock::unix_ms() / 1000;
            rdbfile::write_header_for(&mut bytes, now, 0, true);
            rdbfile::write_footer(&mut bytes, s.checksum);
        }
        write_synced(&s.dir.join(&name), &bytes)?;
        crate::notice!("Creating AOF base file {} on server start", name);
        m.base = Some(AofFile {
            name,
            seq,
            kind: FileKind::Base,
        });
    }
    add_incr(s, &mut m)?;
    Ok(m)
}

/// Lists (and creates) a new empty incr file, persisting the manifest.
fn add_incr(s: &Settings, m: &mut Manifest) -> Result<(), String> {
    let seq = m.new_incr_seq();
    let name = manifest::incr_name(&s.name, seq);
    write_synced(&s.dir.join(&name), b"")?;
    m.incrs.push(AofFile {
        name,
        seq,
        kind: FileKind::Incr,
    });
    files::write_manifest(&s.dir, &s.name, m)?;
    crate::notice!(
        "Creating AOF incr file {} on server start",
        manifest::incr_name(&s.name, seq)
    );
    Ok(())
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let r = std::fs::File::create(path).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    r.map_err(|e| format!("Can't create the AOF file {}: {e}", path.display()))
}

/// Loads one listed file; returns the keys its RDB part held.
fn load_one(s: &Settings, f: &AofFile, last: bool, r: &mut Replayer<'_>) -> Result<u64, String> {
    let path = s.dir.join(&f.name);
    let bytes = std::fs::read(&path).map_err(|e| {
        format!(
            "The AOF file {} could not be read ({e}); it is listed in the manifest",
            f.name
        )
    })?;
    r.start_file();
    let mut from = 0;
    let mut keys = 0;
    if bytes.starts_with(b"REDIS") {
        let opts = LoadOpts {
            databases: s.databases,
            limits: &s.encodings,
            now_ms: crate::sys::clock::unix_ms(),
            checksum: s.checksum,
        };
        let store = &mut r.store;
        let stats = rdbfile::read_file(&bytes, &opts, |k| {
            if let Some(db) = store.dbs.get_mut(k.db) {
                db.set_with_expire(&k.key, k.value, k.expire_ms, 0);
            }
        })
        .map_err(|e| {
            format!(
                "Bad RDB preamble in the AOF file {} at offset {}: {}",
                f.name, e.offset, e.reason
            )
        })?;
        keys = stats.loaded;
        from = stats.end;
        // The preamble's function libraries, as the commands that load
        // them.
        for code in &stats.functions {
            r.apply(&[b"FUNCTION".as_slice(), b"LOAD", b"REPLACE", code])?;
        }
    }
    // Where the last MULTI began, to cut an unfinished one off.
    let mut multi_at = None;
    let outcome = for_each_command(&bytes[from..], |offset, argv| {
        if argv[0].eq_ignore_ascii_case(b"multi") {
            multi_at = Some(from + offset);
        } else if argv[0].eq_ignore_ascii_case(b"exec") {
            multi_at = None;
        }
        r.apply(argv)
            .map_err(|e| format!("{e} {} at offset {}", f.name, from + offset))
    })?;
    let mut valid = match outcome {
        Ok(()) => bytes.len(),
        Err(ParseStop::BadFormat { offset }) => {
            return Err(format!(
                "Bad file format reading the append only file {} at offset {}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>",
                f.name,
                from + offset
            ))
        }
        Err(ParseStop::Truncated { valid }) => {
            if !last || !s.truncated_ok {
                return Err(format!(
                    "Unexpected end of file reading the append only file {} at offset {}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
                    f.name,
                    from + valid
                ));
            }
            crate::warning!("!!! Warning: short read while loading the AOF file {}!!!", f.name);
            crate::warning!(
                "!!! Truncating the AOF {} at offset {} !!!",
                f.name,
                from + valid
            );
            from + valid
        }
    };
    if r.in_multi() {
        if !last || !s.truncated_ok {
            return Err(format!(
                "Unexpected end of file reading the append only file {}: it ends inside a MULTI. Use ./redis-check-aof --fix <filename.manifest>",
                f.name
            ));
        }
        crate::warning!(
            "Revert incomplete MULTI/EXEC transaction in AOF file {}",
            f.name
        );
        r.discard_multi();
        valid = multi_at.unwrap_or(valid);
    }
    if valid < bytes.len() {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|file| {
                file.set_len(valid as u64)?;
                file.sync_all()
            });
        file.map_err(|e| format!("Error truncating the AOF file {}: {e}", f.name))?;
        crate::warning!(
            "AOF {} loaded anyway because aof-load-truncated is enabled",
            f.name
        );
    }
    Ok(keys)
}
