//! Lua scripting (EVAL, EVALSHA, SCRIPT): the shared script cache
//! (`cache`), each shard thread's Lua state and the `redis` library
//! (`engine`, with the `bit`, `cjson`, `cmsgpack` and `struct`
//! libraries Redis links in), and running a script as one atomic step
//! (`run`) on a stack of its own (`fiber`), watched against
//! `busy-reply-threshold` (`timeout`, `busy`: SCRIPT KILL, -BUSY).

mod bit;
pub mod busy;
mod c_api;
pub mod cache;
mod call_stats;
mod cjson;
mod cmsgpack;
pub mod engine;
mod fiber;
pub mod library;
mod repl_flags;
pub mod replay;
pub mod run;
mod structlib;
mod timeout;
mod unpack;

/// The flags a script run by `spec` (EVAL, EVALSHA, FCALL and their _RO
/// forms) declares, for the checks made before it runs (Redis's
/// evalGetCommandFlags / fcallGetCommandFlags). None: no declared flags
/// (no shebang, an unknown script or function): the spec's own apply.
pub fn declared_flags(
    spec: &crate::server::spec::CommandSpec,
    argv: &[&[u8]],
) -> Option<cache::ScriptFlags> {
    let target = argv.get(1)?;
    let flags = if spec.name.starts_with("fcall") {
        library::find(target)?.info().flags
    } else if spec.name.starts_with("evalsha") {
        cache::get(target)?.flags
    } else {
        cache::body_flags(target).ok()?
    };
    (!flags.compat).then_some(flags)
}

/// `lua-enable-deprecated-api` (immutable, set at start-up): scripts see
/// setfenv, getfenv and newproxy.
pub static DEPRECATED_API: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// DEBUG SET-DISABLE-DENY-SCRIPTS: scripts may call commands whose spec
/// says `noscript` (Redis's script_disable_deny_script, for its tests).
pub static ALLOW_NOSCRIPT: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);
