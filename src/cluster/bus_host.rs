//! What the cluster bus asks of the engine it runs beside. The bus runs
//! on its own executor (`control`) and reaches the engine only through
//! this; the server implements it (server/bus_host.rs) and hands it over
//! when it starts the bus.

use crate::repl::Repl;

/// The engine's part in the bus cron and a replica's manual failover.
pub trait BusHost: Send + Sync + 'static {
    /// The process is shutting down: the bus cron stops.
    fn shutting_down(&self) -> bool;

    /// Pauses client writes until `until_ms` (unix ms) for a replica's
    /// manual failover.
    fn pause_writes(&self, until_ms: u64);

    /// Ends the pause of `pause_writes`.
    fn unpause_writes(&self);

    /// Writes are paused and none is in flight, so the replication offset
    /// no longer moves.
    fn writes_settled(&self) -> bool;

    /// This node's replication state, both roles.
    fn repl(&self) -> &Repl;

    /// The master's replication offset, brought up to date with what the
    /// command log holds.
    fn master_offset(&self) -> i64;
}
