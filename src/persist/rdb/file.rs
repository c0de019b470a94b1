//! Whole RDB files, as redis-server 7.0 writes (`rdbSaveRio`) and reads
//! (`rdbLoadRio`) them:
//!
//! ```text
//! "REDIS0010"
//! AUX redis-ver 7.0.15, AUX redis-bits 64, AUX ctime <s>, AUX used-mem <n>,
//! AUX aof-base 0
//! per non-empty db: SELECTDB <db> RESIZEDB <keys> <expires>
//!   per key: [EXPIRETIME_MS <i64 LE>] [IDLE <len>] <type> <key> <object>
//! EOF <CRC64 of everything before it: u64 LE, 0 with rdbchecksum no>
//! ```
//!
//! Redis 7.0 writes IDLE only under an LRU `maxmemory-policy` (FREQ only
//! under LFU, which Shardis does not track: never written). Reading
//! accepts versions 1..=10 and every opcode 7.0 knows; module data and
//! functions are refused (Shardis has neither). Errors name the offset.

use super::decode::read_object;
use super::encode::{write_value, EncodeOpts};
use super::length::write_len;
use super::reader::Reader;
use super::string::write_string;
use super::{crc64::crc64, RdbError, RDB_VERSION};
use crate::store::{EncodingLimits, Value};
use std::collections::HashSet;

/// Opcodes (`rdb.h`).
pub mod opcodes {
    pub const FUNCTION2: u8 = 245;
    pub const FUNCTION: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

/// The `redis-ver` AUX field: the version this server answers as.
pub const REDIS_VER: &str = "7.0.15";

/// Appends the magic, the version and the AUX fields Redis 7.0 writes for
/// a SAVE on a master without replication backlog.
pub fn write_header(out: &mut Vec<u8>, ctime_secs: u64, used_mem: u64) {
    write_header_with(out, ctime_secs, used_mem, &[]);
}

/// [`write_header`], with `aof-base 1` for an AOF base file.
pub fn write_header_for(out: &mut Vec<u8>, ctime_secs: u64, used_mem: u64, aof_base: bool) {
    let extra = [(
        "aof-base".to_string(),
        if aof_base { "1" } else { "0" }.to_string(),
    )];
    write_header_with(out, ctime_secs, used_mem, &extra);
}

/// [`write_header`] with `extra` AUX fields: one named like a standard
/// field replaces its value (an AOF base carries `aof-base 1`); others
/// go before `aof-base`, where Redis puts its `repl-*` fields.
pub fn write_header_with(
    out: &mut Vec<u8>,
    ctime_secs: u64,
    used_mem: u64,
    extra: &[(String, String)],
) {
    write_aux_fields(out, ctime_secs, used_mem, extra);
    super::functions::write_all(out);
}

/// The magic, the version and the AUX fields of [`write_header_with`].
fn write_aux_fields(out: &mut Vec<u8>, ctime_secs: u64, used_mem: u64, extra: &[(String, String)]) {
    out.extend_from_slice(format!("REDIS{RDB_VERSION:04}").as_bytes());
    let aux = |out: &mut Vec<u8>, k: &str, v: &str| {
        let v = extra
            .iter()
            .find(|(name, _)| name == k)
            .map_or(v, |(_, v)| v.as_str());
        out.push(opcodes::AUX);
        write_string(out, k.as_bytes(), false);
        write_string(out, v.as_bytes(), false);
    };
    aux(out, "redis-ver", REDIS_VER);
    aux(out, "redis-bits", &(usize::BITS).to_string());
    aux(out, "ctime", &ctime_secs.to_string());
    aux(out, "used-mem", &used_mem.to_string());
    const STANDARD: &[&str] = &["redis-ver", "redis-bits", "ctime", "used-mem", "aof-base"];
    for (k, v) in extra
        .iter()
        .filter(|(k, _)| !STANDARD.contains(&k.as_str()))
    {
        aux(out, k, v);
    }
    aux(out, "aof-base", "0");
}

/// An RDB without keys, for `REPLCONF rdb-filter-only`: the header with
/// `extra` AUX fields, the function libraries when `functions`, EOF.
pub fn keyless(ctime_secs: u64, extra: &[(String, String)], functions: bool) -> Vec<u8> {
    let mut out = Vec::new();
    write_aux_fields(&mut out, ctime_secs, 0, extra);
    if functions {
        super::functions::write_all(&mut out);
    }
    write_footer(&mut out, true);
    out
}

/// SELECTDB + RESIZEDB, before the keys of a non-empty database.
pub fn write_db_header(out: &mut Vec<u8>, db: usize, keys: usize, expires: usize) {
    out.push(opcodes::SELECTDB);
    write_len(out, db as u64);
    out.push(opcodes::RESIZEDB);
    write_len(out, keys as u64);
    write_len(out, expires as u64);
}

/// One key: its expire time, idle time (LRU policies only), type, name
/// and object (`rdbSaveKeyValuePair`).
pub fn write_key(
    out: &mut Vec<u8>,
    key: &[u8],
    value: &Value,
    expire_ms: Option<u64>,
    idle_secs: Option<u64>,
    opts: &EncodeOpts,
) {
    if let Some(at) = expire_ms {
        out.push(opcodes::EXPIRETIME_MS);
        out.extend_from_slice(&(at as i64).to_le_bytes());
    }
    if let Some(idle) = idle_secs {
        out.push(opcodes::IDLE);
        write_len(out, idle);
    }
    // write_value puts the type byte first, the key goes between: write
    // the value aside and splice.
    let start = out.len();
    write_value(out, value, opts);
    let t = out[start];
    let mut name = Vec::with_capacity(key.len() + 5);
    write_string(&mut name, key, opts.compress);
    out.splice(start + 1..start + 1, name);
    debug_assert_eq!(out[start], t);
}

/// EOF and the checksum (0 when `checksum` is off, as `rdbchecksum no`).
pub fn write_footer(out: &mut Vec<u8>, checksum: bool) {
    out.push(opcodes::EOF);
    let crc = if checksum { crc64(0, out) } else { 0 };
    out.extend_from_slice(&crc.to_le_bytes());
}

/// A key read from a file.
#[derive(Debug)]
pub struct LoadedKey {
    pub db: usize,
    pub key: Vec<u8>,
    pub value: Value,
    pub expire_ms: Option<u64>,
}

/// What loading found besides the keys.
#[derive(Debug, Default)]
pub struct LoadStats {
    pub version: u32,
    pub loaded: u64,
    /// Keys skipped because their expire time had passed.
    pub expired: u64,
    /// Those keys, by database: a master restoring its history feeds
    /// their deletion to its backlog (Redis's RDBFLAGS_FEED_REPL).
    pub expired_keys: Vec<(usize, Vec<u8>)>,
    /// Keys skipped because their collection was empty (as Redis does).
    pub empty: u64,
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    /// The function libraries' codes (RDB_OPCODE_FUNCTION2), in file order.
    pub functions: Vec<Vec<u8>>,
    /// Where the file's RDB part ends (an AOF base may go on with commands).
    pub end: usize,
}

/// Why a file could not be loaded, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub offset: usize,
    pub reason: String,
    /// The key whose value failed to load, and its type byte.
    pub key: Option<(Vec<u8>, u8)>,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at offset {}: {}", self.offset, self.reason)
    }
}

/// Reader settings.
pub struct LoadOpts<'a> {
    pub databases: usize,
    pub limits: &'a EncodingLimits,
    /// Keys whose expire time is before this are skipped (as a master).
    pub now_ms: u64,
    /// `rdbchecksum`: verify the CRC64 (a stored 0 means "not computed").
    pub checksum: bool,
}

fn err(offset: usize, reason: impl Into<String>) -> FileError {
    FileError {
        offset,
        reason: reason.into(),
        key: None,
    }
}

fn at(r: &Reader, e: RdbError) -> FileError {
    err(r.pos(), e.0)
}

/// Whether `t` is an object type byte Redis 7.0 knows (`rdbIsObjectType`).
fn is_object_type(t: u8) -> bool {
    matches!(t, 0..=7 | 9..=21)
}

/// Reads a whole file, calling `on_key` for each key to keep. Nothing is
/// trusted: every failure is a [`FileError`], never a panic.
pub fn read_file(
    buf: &[u8],
    opts: &LoadOpts,
    mut on_key: impl FnMut(LoadedKey),
) -> Result<LoadStats, FileError> {
    let mut r = Reader::new(buf);
    let magic = r.take(9).map_err(|_| err(0, "short read: no RDB header"))?;
    if &magic[..5] != b"REDIS" {
        return Err(err(0, "wrong signature trying to load DB from file"));
    }
    let version = std::str::from_utf8(&magic[5..])
        .ok()
        .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse::<u32>().ok())
        .ok_or_else(|| err(5, "bad RDB format version"))?;
    if version < 1 || version > RDB_VERSION as u32 {
        return Err(err(5, format!("can't handle RDB format version {version}")));
    }
    let mut stats = LoadStats {
        version,
        ..LoadStats::default()
    };
    let mut db = 0usize;
    let mut expire: Option<i64> = None;
    let mut seen: Vec<HashSet<Vec<u8>>> = Vec::new();
    seen.resize_with(opts.databases, HashSet::new);
    loop {
        let op_at = r.pos();
        let t = r.u8().map_err(|e| at(&r, e))?;
        match t {
            opcodes::EXPIRETIME => {
                let s = i32::from_le_bytes(r.array().map_err(|e| at(&r, e))?);
                expire = Some(s as i64 * 1000);
            }
            opcodes::EXPIRETIME_MS => {
                expire = Some(i64::from_le_bytes(r.array().map_err(|e| at(&r, e))?));
            }
            opcodes::IDLE => {
                r.length().map_err(|e| at(&r, e))?;
            }
            opcodes::FREQ => {
                r.u8().map_err(|e| at(&r, e))?;
            }
            opcodes::SELECTDB => {
                let n = r.length().map_err(|e| at(&r, e))?;
                if n >= opts.databases as u64 {
                    return Err(err(
                        op_at,
                        format!(
                            "data file was created with a server configured to handle more than {} databases",
                            opts.databases
                        ),
                    ));
                }
                db = n as usize;
            }
            opcodes::RESIZEDB => {
                r.length().map_err(|e| at(&r, e))?;
                r.length().map_err(|e| at(&r, e))?;
            }
            opcodes::AUX => {
                let k = r.string().map_err(|e| at(&r, e))?;
                let v = r.string().map_err(|e| at(&r, e))?;
                stats.aux.push((k, v));
            }
            opcodes::MODULE_AUX => {
                return Err(err(
                    op_at,
                    "module auxiliary data found, but modules are not supported",
                ))
            }
            opcodes::FUNCTION2 => {
                let code = r.string().map_err(|e| at(&r, e))?;
                stats.functions.push(code);
            }
            opcodes::FUNCTION => {
                return Err(err(
                    op_at,
                    "functions in the format of Redis 7.0's release candidates are not supported",
                ))
            }
            opcodes::EOF => {
                if version >= 5 {
                    let end = r.pos();
                    let stored = u64::from_le_bytes(
                        r.array()
                            .map_err(|_| err(end, "short read: RDB checksum missing"))?,
                    );
                    if opts.checksum && stored != 0 {
                        let actual = crc64(0, &buf[..end]);
                        if actual != stored {
                            // Redis's two lines: the sums, then the
                            // corruption report's reason.
                            crate::warning!(
                                "Wrong RDB checksum expected: ({stored:x}) got ({actual:x}). Aborting now."
                            );
                            return Err(err(end, "RDB CRC error"));
                        }
                    }
                }
                stats.end = r.pos();
                return Ok(stats);
            }
            t if is_object_type(t) => {
                let key = r.string().map_err(|e| at(&r, e))?;
                let value = match read_object(&mut r, t, opts.limits) {
                    Ok(v) => Some(v),
                    // Redis skips empty keys (RDB_LOAD_ERR_EMPTY_KEY).
                    Err(RdbError("empty collection")) => None,
                    Err(RdbError("unknown or unsupported object type")) => {
                        return Err(err(
                            op_at,
                            format!("object type {t} (module or stream) is not supported"),
                        ))
                    }
                    Err(e) => {
                        return Err(FileError {
                            key: Some((key, t)),
                            ..at(&r, e)
                        })
                    }
                };
                let exp = expire.take();
                let Some(value) = value else {
                    crate::warning!(
                        "rdbLoadObject skipping empty key: {}",
                        String::from_utf8_lossy(&key)
                    );
                    stats.empty += 1;
                    continue;
                };
                if !seen[db].insert(key.clone()) {
                    return Err(err(
                        op_at,
                        format!(
                            "RDB has duplicated key '{}' in DB {db}",
                            String::from_utf8_lossy(&key)
                        ),
                    ));
                }
                if let Some(e) = exp {
                    if e < opts.now_ms as i64 {
                        stats.expired += 1;
                        stats.expired_keys.push((db, key));
                        continue;
                    }
                }
                stats.loaded += 1;
                on_key(LoadedKey {
                    db,
                    key,
                    value,
                    expire_ms: exp.map(|e| e.max(0) as u64),
                });
            }
            t => return Err(err(op_at, format!("unknown RDB type or opcode {t}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> EncodingLimits {
        EncodingLimits::from_config(&crate::config::Config::default())
    }

    fn opts(lim: &EncodingLimits) -> LoadOpts<'_> {
        LoadOpts {
            databases: 16,
            limits: lim,
            now_ms: 1_000,
            checksum: true,
        }
    }

    fn sample() -> Vec<u8> {
        let e = EncodeOpts::default();
        let mut out = Vec::new();
        write_header(&mut out, 1_700_000_000, 12345);
        write_db_header(&mut out, 0, 2, 1);
        write_key(&mut out, b"a", &Value::from_bytes(b"1"), None, None, &e);
        let long = vec![b'x'; 100];
        write_key(
            &mut out,
            b"a-rather-long-key-name-that-compresses-compresses",
            &Value::from_bytes(&long),
            Some(5_000),
            None,
            &e,
        );
        write_db_header(&mut out, 3, 2, 1);
        write_key(
            &mut out,
            b"gone",
            &Value::from_bytes(b"v"),
            Some(10),
            None,
            &e,
        );
        write_key(
            &mut out,
            b"b",
            &Value::from_bytes(b"hello"),
            None,
            Some(7),
            &e,
        );
        write_footer(&mut out, true);
        out
    }

    #[test]
    fn round_trip() {
        let lim = limits();
        let mut keys = Vec::new();
        let st = read_file(&sample(), &opts(&lim), |k| keys.push(k)).unwrap();
        assert_eq!(st.version, 10);
        assert_eq!((st.loaded, st.expired), (3, 1));
        assert_eq!(st.aux.len(), 5);
        assert_eq!(st.aux[0], (b"redis-ver".to_vec(), b"7.0.15".to_vec()));
        let summary: Vec<_> = keys
            .iter()
            .map(|k| (k.db, k.key.clone(), k.expire_ms))
            .collect();
        assert_eq!(
            summary,
            vec![
                (0, b"a".to_vec(), None),
                (
                    0,
                    b"a-rather-long-key-name-that-compresses-compresses".to_vec(),
                    Some(5_000)
                ),
                (3, b"b".to_vec(), None),
            ]
        );
        assert_eq!(keys[1].value.as_str().unwrap().len(), 100);
    }

    #[test]
    fn header_bytes_as_redis() {
        let mut out = Vec::new();
        write_header(&mut out, 0x6b06c8be, 0x0eb5f0);
        let want: &[u8] = b"REDIS0010\xfa\x09redis-ver\x067.0.15\xfa\x0aredis-bits\xc0\x40\xfa\x05ctime\xc2\xbe\xc8\x06\x6b\xfa\x08used-mem\xc2\xf0\xb5\x0e\x00\xfa\x08aof-base\xc0\x00";
        assert_eq!(out, want);
    }

    #[test]
    fn every_truncation_and_flip_is_an_error() {
        let lim = limits();
        let f = sample();
        for n in 0..f.len() {
            assert!(read_file(&f[..n], &opts(&lim), |_| {}).is_err(), "len {n}");
        }
        for i in 0..f.len() {
            for bit in 0..8 {
                let mut g = f.clone();
                g[i] ^= 1 << bit;
                // Never panics; a flip in the checksum or data is caught.
                let _ = read_file(&g, &opts(&lim), |_| {});
            }
        }
        let mut g = f.clone();
        let mid = g.len() / 2;
        g[mid] ^= 0x01;
        assert!(read_file(&g, &opts(&lim), |_| {}).is_err());
    }

    #[test]
    fn refusals() {
        let lim = limits();
        let e = read_file(b"RADIS0010\xff", &opts(&lim), |_| {}).unwrap_err();
        assert!(e.reason.contains("signature"));
        let e = read_file(b"REDIS0011\xff", &opts(&lim), |_| {}).unwrap_err();
        assert!(e.reason.contains("version 11"));
        // A library (FUNCTION2) cut short; the release candidates' form.
        let e = read_file(b"REDIS0010\xf5", &opts(&lim), |_| {}).unwrap_err();
        assert!(e.reason.contains("unexpected end"), "{e}");
        let e = read_file(b"REDIS0010\xf6", &opts(&lim), |_| {}).unwrap_err();
        assert!(e.reason.contains("release candidates"), "{e}");
        let e = read_file(b"REDIS0010\xf7", &opts(&lim), |_| {}).unwrap_err();
        assert!(e.reason.contains("module"), "{e}");
        let e = read_file(b"REDIS0010\xfe\x10", &opts(&lim), |_| {}).unwrap_err();
        assert!(e.reason.contains("databases"), "{e}");
        // Version 4: no checksum after EOF.
        let st = read_file(b"REDIS0004\x00\x01k\x01v\xff", &opts(&lim), |_| {}).unwrap();
        assert_eq!(st.loaded, 1);
        // Checksum 0: not verified.
        let st = read_file(
            b"REDIS0010\x00\x01k\x01v\xff\0\0\0\0\0\0\0\0",
            &opts(&lim),
            |_| {},
        )
        .unwrap();
        assert_eq!(st.loaded, 1);
        // A duplicated key.
        let e = read_file(
            b"REDIS0009\x00\x01k\x01v\x00\x01k\x01v\xff",
            &opts(&lim),
            |_| {},
        )
        .unwrap_err();
        assert!(e.reason.contains("duplicated"), "{e}");
    }
}
