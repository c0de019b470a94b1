//! The script cache every shard shares (SCRIPT LOAD on one connection,
//! EVALSHA on a connection of another shard), and the shebang flags of a
//! script body (Redis 7.0's evalExtractShebangFlags).
//!
//! Each shard thread compiles a cached body into its own Lua state when it
//! first runs it; SCRIPT FLUSH bumps a generation, and a thread seeing a
//! newer one starts a fresh Lua state (Redis resets its interpreter).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, RwLock};

/// The `#!lua flags=...` flags of a script.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptFlags {
    /// No shebang: EVAL's compatibility mode (flags from the command).
    pub compat: bool,
    pub no_writes: bool,
    pub allow_oom: bool,
    pub allow_stale: bool,
    pub no_cluster: bool,
    pub allow_cross_slot: bool,
}

/// One cached script.
pub struct Script {
    pub body: Vec<u8>,
    pub flags: ScriptFlags,
    /// Length of the shebang line (kept out of the compiled code; its
    /// newline stays so line numbers hold).
    pub shebang_len: usize,
}

static SCRIPTS: LazyLock<RwLock<HashMap<[u8; 40], Arc<Script>>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The lower-case hex SHA1 of `body` (redis.sha1hex, script names).
pub fn sha1hex(body: &[u8]) -> [u8; 40] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let d = crate::sys::sha1::sha1(body);
    let mut out = [0u8; 40];
    for (i, b) in d.iter().enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 15) as usize];
    }
    out
}

/// The cached script named by `sha` (any case, as Redis lower-cases it).
pub fn get(sha: &[u8]) -> Option<Arc<Script>> {
    let key: [u8; 40] = sha.to_ascii_lowercase().try_into().ok()?;
    SCRIPTS.read().expect("script cache").get(&key).cloned()
}

pub fn exists(sha: &[u8]) -> bool {
    get(sha).is_some()
}

/// Checks `body`'s shebang: the entry to compile and cache, or Redis's
/// message.
pub fn prepare(body: &[u8]) -> Result<Script, String> {
    let (flags, shebang_len) = shebang(body)?;
    Ok(Script {
        body: body.to_vec(),
        flags,
        shebang_len,
    })
}

/// Caches a compiled script under its SHA.
pub fn insert(sha: [u8; 40], script: Script) -> Arc<Script> {
    SCRIPTS
        .write()
        .expect("script cache")
        .entry(sha)
        .or_insert_with(|| Arc::new(script))
        .clone()
}

/// SCRIPT FLUSH: forgets every script; every Lua state starts afresh.
pub fn flush() {
    SCRIPTS.write().expect("script cache").clear();
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

pub fn generation() -> u64 {
    GENERATION.load(Ordering::SeqCst)
}

/// How many scripts are cached and their bodies' bytes (INFO memory).
pub fn stats() -> (usize, usize) {
    let m = SCRIPTS.read().expect("script cache");
    (m.len(), m.values().map(|s| s.body.len() + 40).sum())
}

/// The shebang flags of an EVAL body (Err: a bad shebang, which the run
/// reports).
pub fn body_flags(body: &[u8]) -> Result<ScriptFlags, String> {
    shebang(body).map(|(flags, _)| flags)
}

/// Parses a `#!` first line: `#!lua [flags=a,b,...]`.
fn shebang(body: &[u8]) -> Result<(ScriptFlags, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((
            ScriptFlags {
                compat: true,
                ..Default::default()
            },
            0,
        ));
    }
    let end = memchr::memchr(b'\n', body).unwrap_or(body.len());
    let line = String::from_utf8_lossy(&body[..end]).into_owned();
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if engine != "#!lua" {
        return Err(format!("Unexpected engine in script shebang: {engine}"));
    }
    let mut flags = ScriptFlags::default();
    for part in parts {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(format!("Unknown lua shebang option: {part}"));
        };
        for f in list.split(',').filter(|f| !f.is_empty()) {
            match f {
                "no-writes" => flags.no_writes = true,
                "allow-oom" => flags.allow_oom = true,
                "allow-stale" => flags.allow_stale = true,
                "no-cluster" => flags.no_cluster = true,
                "allow-cross-slot-keys" => flags.allow_cross_slot = true,
                _ => return Err(format!("Unexpected flag in script shebang: {f}")),
            }
        }
    }
    Ok((flags, end))
}
