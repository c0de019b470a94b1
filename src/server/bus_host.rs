//! The engine as the cluster bus sees it (cluster/bus_host.rs): the
//! process state's write pause, replication state and shutdown flag.

use super::shared::Shared;
use crate::cluster::bus_host::BusHost;
use crate::repl::Repl;
use std::sync::atomic::Ordering;

impl BusHost for Shared {
    fn shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }

    fn pause_writes(&self, until_ms: u64) {
        self.write_pause.pause(until_ms);
    }

    fn unpause_writes(&self) {
        self.write_pause.unpause();
    }

    fn writes_settled(&self) -> bool {
        self.write_pause.settled()
    }

    fn repl(&self) -> &Repl {
        &self.repl
    }

    fn master_offset(&self) -> i64 {
        crate::repl::primary::master_offset(self)
    }
}
