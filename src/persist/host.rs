//! What persistence asks of the engine it runs in. Snapshots (SAVE,
//! BGSAVE, `save` rules), the AOF rewrite and the MISCONF check reach the
//! shards and the node's state only through these traits; the server
//! implements them (server/persist_host.rs) for its shard runtime and its
//! shared state, and persist's entry points are generic over them (no
//! dynamic dispatch: the write hooks are on every write's path).
//!
//! Three levels, from narrow to wide:
//! - [`NodeState`]: the process-wide state (configuration, AOF, LASTSAVE);
//! - [`ShardData`]: one shard's keys and where slots live, what a write's
//!   copy-on-write hook needs;
//! - [`ShardHost`]: driving the shards, what a snapshot needs: running
//!   steps on shards, holding them all at an instant, the change counter.

use super::aof::Aof;
use crate::config::Config;
use crate::store::Store;
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// The node's state that persistence reads and updates.
pub trait NodeState {
    /// Runs `f` on the current configuration.
    fn read_config<R>(&self, f: impl FnOnce(&Config) -> R) -> R;

    /// This node's append-only file.
    fn aof(&self) -> &Arc<Aof>;

    /// LASTSAVE: the Unix time (seconds) of the last successful save.
    fn lastsave_unix(&self) -> &AtomicU64;

    /// The replication AUX fields of a save (`repl-id`, `repl-offset`,
    /// `repl-stream-db`), empty outside a replication history; read with
    /// every shard held, at the snapshot instant.
    fn repl_save_aux(&self) -> Vec<(String, String)>;
}

/// Callers hold the shared state behind an `Arc`.
impl<T: NodeState + ?Sized> NodeState for Arc<T> {
    #[inline]
    fn read_config<R>(&self, f: impl FnOnce(&Config) -> R) -> R {
        (**self).read_config(f)
    }

    #[inline]
    fn aof(&self) -> &Arc<Aof> {
        (**self).aof()
    }

    #[inline]
    fn lastsave_unix(&self) -> &AtomicU64 {
        (**self).lastsave_unix()
    }

    fn repl_save_aux(&self) -> Vec<(String, String)> {
        (**self).repl_save_aux()
    }
}

/// One shard's data, as a write's copy-on-write hook and a snapshot's
/// time slices see it. Called on the shard's own thread.
pub trait ShardData {
    /// The node state this shard belongs to.
    type Node: NodeState;

    fn node(&self) -> &Self::Node;

    /// This shard's id, and how many shards the node has.
    fn shard_id(&self) -> usize;
    fn shard_count(&self) -> usize;

    /// The shard that owns hash slot `slot`.
    fn shard_of_slot(&self, slot: u16) -> usize;

    /// Runs `f` on this shard's keyspace (borrowed for the call).
    fn with_store<R>(&self, f: impl FnOnce(&Store) -> R) -> R;
}

/// Callers hold the shard runtime behind an `Rc`.
impl<T: ShardData + ?Sized> ShardData for Rc<T> {
    type Node = T::Node;

    #[inline]
    fn node(&self) -> &Self::Node {
        (**self).node()
    }

    #[inline]
    fn shard_id(&self) -> usize {
        (**self).shard_id()
    }

    #[inline]
    fn shard_count(&self) -> usize {
        (**self).shard_count()
    }

    #[inline]
    fn shard_of_slot(&self, slot: u16) -> usize {
        (**self).shard_of_slot(slot)
    }

    #[inline]
    fn with_store<R>(&self, f: impl FnOnce(&Store) -> R) -> R {
        (**self).with_store(f)
    }
}

/// Driving the shards: what a snapshot, the blocking save, the save
/// rules and the AOF rewrite need. The steps run on the target shard's
/// thread and get that shard's runtime.
pub trait ShardHost: ShardData + Sized + 'static {
    /// An exclusive hold of a set of shards (see [`ShardHost::hold`]);
    /// dropping it lets them go.
    type Held<'a>: HeldShards<Self>
    where
        Self: 'a;

    /// `list-max-listpack-size` as this shard's settings hold it.
    fn list_fill(&self) -> i64;

    /// The LRU clock of this shard (the keys' `lru` stamps).
    fn lru_seconds(&self) -> u32;

    /// This shard's change counter (changes since the last save).
    fn dirty(&self) -> u64;

    /// Takes `covered` changes off the counter (those a save wrote).
    fn sub_dirty(&self, covered: u64);

    /// Resets the change counter.
    fn clear_dirty(&self);

    /// Waits until no multi-shard step holds this shard.
    fn wait_gate(&self) -> impl Future<Output = ()>;

    /// Whether the running command is inside EXEC (Redis's
    /// `server.in_exec`: some commands only schedule work then).
    fn in_exec() -> bool;

    /// Runs `f` on `shard` and returns its result.
    fn run_on<R, F>(rt: &Rc<Self>, shard: usize, f: F) -> impl Future<Output = R>
    where
        R: Send + 'static,
        F: FnOnce(&Rc<Self>) -> R + Send + 'static;

    /// Runs `f` on every shard concurrently; results in shard order.
    fn run_on_all<R, F>(rt: &Rc<Self>, f: F) -> impl Future<Output = Vec<R>>
    where
        R: Send + 'static,
        F: Fn(&Rc<Self>) -> R + Send + Sync + Clone + 'static;

    /// Holds `shards` (sorted, distinct) exclusively, all at once: no
    /// request runs on them until the hold is dropped.
    fn hold<'a>(rt: &'a Rc<Self>, shards: &[usize]) -> impl Future<Output = Self::Held<'a>>;
}

/// A hold of shards taken by [`ShardHost::hold`].
pub trait HeldShards<H> {
    /// Runs `f` on a held shard.
    fn run<R, F>(&self, shard: usize, f: F) -> impl Future<Output = R>
    where
        R: Send + 'static,
        F: FnOnce(&Rc<H>) -> R + Send + 'static;
}
