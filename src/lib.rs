//! Shardis: a thread-per-core, Redis- and Redis-Cluster-compatible
//! in-memory data server.
//!
//! Layout (see docs/architecture.md; "Layers" there gives the order in
//! which these may use each other, checked by scripts/check-layers.py):
//! - [`resp`]: the wire protocol, knows nothing of the engine;
//! - [`sys`]: wall clock, usable cores, the log file;
//! - [`events`]: keyspace-notification facts;
//! - [`config`]: redis.conf and the directive table;
//! - [`server`]: executors, listeners, connections, the shard mesh;
//! - [`command`]: the command table, one module per family;
//! - [`store`]: the keyspace a shard owns;
//! - [`slot`]: hash slots, which decide the owning shard;
//! - [`cluster`]: cluster mode: node table, nodes.conf, routing, the bus.

pub mod alloc;
pub mod cluster;
pub mod command;
pub mod config;
pub mod events;
pub mod glob;
pub mod persist;
pub mod repl;
pub mod resp;
pub mod server;
pub mod slot;
pub mod store;
pub mod sys;
