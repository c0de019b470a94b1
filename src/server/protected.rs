//! Redis 7.0's protected actions: DEBUG, MODULE LOAD/LOADEX/UNLOAD and
//! CONFIG SET of `dir` / `dbfilename` are allowed by their directive
//! (`enable-debug-command`, `enable-module-command`,
//! `enable-protected-configs`): `no` (the default) refuses everyone,
//! `yes` allows everyone, `local` allows loopback connections only.

use super::conn::Conn;
use super::spec::{Behavior, CommandSpec};
use crate::config::keys as conf;
use crate::config::TextKey;

/// Redis's `islocalClient`: the peer is 127.0.0.1 or ::1 (Shardis has
/// no Unix socket).
pub fn is_local(conn: &Conn) -> bool {
    let ip = conn
        .info
        .addr
        .rsplit_once(':')
        .map_or("", |(ip, _)| ip)
        .trim_matches(|c| c == '[' || c == ']');
    ip == "127.0.0.1" || ip == "::1"
}

/// Whether the protected action governed by `directive` is allowed for
/// this connection.
pub fn allowed(conn: &Conn, directive: TextKey) -> bool {
    match conn.rt.shared.read_config(|c| c.text(directive)).as_str() {
        "yes" => true,
        "local" => is_local(conn),
        _ => false,
    }
}

/// The directive that protects a command, if one does.
fn guard(spec: &CommandSpec) -> Option<(&'static str, TextKey)> {
    if spec.behavior.has(Behavior::DEBUG_PROTECTED) {
        Some(("DEBUG", conf::ENABLE_DEBUG_COMMAND))
    } else if spec.behavior.has(Behavior::MODULE_PROTECTED) {
        Some(("MODULE", conf::ENABLE_MODULE_COMMAND))
    } else {
        None
    }
}

/// Redis's refusal of a protected command the configuration does not
/// allow for this connection (checked after arity, before auth).
pub fn refusal(conn: &Conn, spec: &CommandSpec) -> Option<Vec<u8>> {
    let (cmd, directive) = guard(spec)?;
    if allowed(conn, directive) {
        return None;
    }
    Some(
        format!(
            "ERR {cmd} command not allowed. If the {} option is set to \"local\", \
             you can run it from a local connection, otherwise you need to set this option \
             in the configuration file, and then restart the server.",
            directive.0
        )
        .into_bytes(),
    )
}
