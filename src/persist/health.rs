//! Whether writes must be refused because persistence is failing
//! (Redis's writeCommandsDeniedByDiskError): one function, asked by the
//! request planning for every write command (and PING, as Redis 7.0
//! does), so every persistence failure mode is decided in one place.

use super::bgsave::status;
use super::host::NodeState;
use crate::config::keys as conf;

/// Redis 7.0's reply when the last background save failed.
pub const MISCONF_RDB: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// The error a write gets while persistence is failing, None while all
/// is well (the common case costs one atomic load).
pub fn write_refusal<S: NodeState + ?Sized>(shared: &S) -> Option<String> {
    if !status::last_bgsave_ok() {
        let refuse = shared.read_config(|c| {
            c.flag(conf::STOP_WRITES_ON_BGSAVE_ERROR) && !c.text(conf::SAVE).trim().is_empty()
        });
        if refuse {
            return Some(MISCONF_RDB.to_string());
        }
    }
    // The AOF could not be written or synced: nothing more is accepted
    // until a retry succeeds (what was accepted stays in memory and goes
    // to the file then).
    let log = &shared.aof().log;
    if log.is_on() && !log.write_ok() {
        return Some(format!(
            "MISCONF Errors writing to the AOF file: {}",
            log.last_error()
        ));
    }
    None
}
