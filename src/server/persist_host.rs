//! The engine as persistence sees it (persist/host.rs): the shared state's
//! configuration, AOF and LASTSAVE; a shard's keyspace and change counter;
//! and the mesh that runs steps on shards and holds them.

use super::mesh::{self, Held};
use super::shard::ShardRt;
use super::shared::Shared;
use crate::config::Config;
use crate::persist::aof::Aof;
use crate::persist::host::{HeldShards, NodeState, ShardData, ShardHost};
use crate::store::Store;
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

impl NodeState for Shared {
    #[inline]
    fn read_config<R>(&self, f: impl FnOnce(&Config) -> R) -> R {
        Shared::read_config(self, f)
    }

    #[inline]
    fn aof(&self) -> &Arc<Aof> {
        &self.aof
    }

    #[inline]
    fn lastsave_unix(&self) -> &AtomicU64 {
        &self.lastsave_unix
    }

    fn repl_save_aux(&self) -> Vec<(String, String)> {
        crate::repl::rdb_info::save_aux(self)
    }
}

impl ShardData for ShardRt {
    type Node = Shared;

    #[inline]
    fn node(&self) -> &Shared {
        &self.shared
    }

    #[inline]
    fn shard_id(&self) -> usize {
        self.id
    }

    #[inline]
    fn shard_count(&self) -> usize {
        self.nshards
    }

    #[inline]
    fn shard_of_slot(&self, slot: u16) -> usize {
        ShardRt::shard_of_slot(self, slot)
    }

    #[inline]
    fn with_store<R>(&self, f: impl FnOnce(&Store) -> R) -> R {
        f(&self.core.borrow().store)
    }
}

impl ShardHost for ShardRt {
    type Held<'a> = Held<'a>;

    fn list_fill(&self) -> i64 {
        self.settings().exec.encodings.list_max_listpack_size
    }

    fn lru_seconds(&self) -> u32 {
        ShardRt::lru_seconds(self)
    }

    fn dirty(&self) -> u64 {
        self.core.borrow().dirty
    }

    fn sub_dirty(&self, covered: u64) {
        let mut core = self.core.borrow_mut();
        core.dirty = core.dirty.saturating_sub(covered);
    }

    fn clear_dirty(&self) {
        self.core.borrow_mut().dirty = 0;
    }

    fn wait_gate(&self) -> impl Future<Output = ()> {
        ShardRt::wait_hold(self)
    }

    fn in_exec() -> bool {
        mesh::in_exec()
    }

    fn run_on<R, F>(rt: &Rc<Self>, shard: usize, f: F) -> impl Future<Output = R>
    where
        R: Send + 'static,
        F: FnOnce(&Rc<Self>) -> R + Send + 'static,
    {
        mesh::run_on(rt, shard, f)
    }

    fn run_on_all<R, F>(rt: &Rc<Self>, f: F) -> impl Future<Output = Vec<R>>
    where
        R: Send + 'static,
        F: Fn(&Rc<Self>) -> R + Send + Sync + Clone + 'static,
    {
        mesh::run_on_all(rt, f)
    }

    fn hold<'a>(rt: &'a Rc<Self>, shards: &[usize]) -> impl Future<Output = Held<'a>> {
        mesh::hold(rt, shards)
    }
}

impl HeldShards<ShardRt> for Held<'_> {
    fn run<R, F>(&self, shard: usize, f: F) -> impl Future<Output = R>
    where
        R: Send + 'static,
        F: FnOnce(&Rc<ShardRt>) -> R + Send + 'static,
    {
        Held::run(self, shard, f)
    }
}
