//! Lua scripting (EVAL, EVALSHA, SCRIPT): the shared script cache
//! (`cache`), each shard thread's Lua state and the `redis` library
//! (`engine`), and running a script as one atomic step (`run`).

pub mod cache;
pub mod engine;
pub mod library;
pub mod run;

/// `lua-enable-deprecated-api` (immutable, set at start-up): scripts see
/// setfenv, getfenv and newproxy.
pub static DEPRECATED_API: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// DEBUG SET-DISABLE-DENY-SCRIPTS: scripts may call commands whose spec
/// says `noscript` (Redis's script_disable_deny_script, for its tests).
pub static ALLOW_NOSCRIPT: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);
