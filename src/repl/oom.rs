//! The OOM score follows the role (Redis calls `setOOMScoreAdj(-1)` on
//! REPLICAOF, REPLICAOF NO ONE, CONFIG SET and at start-up): the
//! `oom-score-adj-values` entry of a master or of a replica.

use super::host::ReplShared;
use crate::config::keys as conf;

/// Writes the score for the current role; Err (already logged) when it
/// could not be written.
pub fn apply<S: ReplShared + ?Sized>(shared: &S) -> Result<(), String> {
    let replica = shared.repl().replica.is_replica();
    let (mode, values) = shared.read_config(|c| {
        (
            c.text(conf::OOM_SCORE_ADJ),
            c.text(conf::OOM_SCORE_ADJ_VALUES),
        )
    });
    crate::sys::oom::apply(&mode, &values, replica)
}
