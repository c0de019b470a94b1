//! The command table and one module per command family.
//!
//! Each family exports `COMMANDS: &[CommandSpec]`; adding a command means
//! adding one entry and its handler in that family's file.

pub mod acl;
pub mod aof;
pub mod bitmaps;
pub mod blocking;
pub mod client;
mod client_pause;
pub mod cluster;
mod cluster_admin;
mod cluster_view;
pub mod command_cmd;
pub mod command_docs;
pub mod config_cmd;
pub mod connection;
pub mod databases;
pub mod debug;
pub mod dump;
pub mod expire;
pub mod fcall;
pub mod function;
pub mod geo;
pub mod hashes;
pub mod help;
pub mod hll;
pub mod hll_debug;
pub mod info;
pub mod keys;
pub mod latency;
pub mod ldouble;
pub mod lists;
pub mod lolwut;
pub mod memory;
pub mod migrate;
pub mod migrate_conn;
pub mod module;
pub mod monitor;
pub mod object;
pub mod pubsub;
mod redact;
pub mod replication;
mod role_change;
pub mod save;
pub mod scan;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod slowlog;
pub mod sort;
mod sparkline;
pub mod streams;
pub mod strings;
pub mod tracking;
pub mod transactions;
pub mod util;
pub mod zsets;

pub use crate::events::Class;
pub use crate::server::ctx::{Ctx, ExecLimits, Moment};
pub use crate::server::spec::{
    self, Acl, BeginSearch, Behavior, CommandSpec, Cross, FindKeys, Flags, Handler, KeyFlags,
    KeySpec, Merge,
};
pub use crate::server::table::{arity_ok, lookup, resolve, Table};
// Handlers sample with it as `command::shard_random`; it lives in sys so
// the layers below (persist) can use it too.
pub use crate::sys::random::shard_random;

#[cfg(test)]
mod facts_tests;

/// Every command family, in `COMMAND`'s order.
const FAMILIES: &[&[CommandSpec]] = &[
    connection::COMMANDS,
    server::COMMANDS,
    info::COMMANDS,
    debug::COMMANDS,
    memory::COMMANDS,
    module::COMMANDS,
    fcall::COMMANDS,
    function::COMMANDS,
    scripting::COMMANDS,
    strings::COMMANDS,
    bitmaps::COMMANDS,
    keys::COMMANDS,
    databases::COMMANDS,
    sets::COMMANDS,
    lists::COMMANDS,
    hashes::COMMANDS,
    zsets::COMMANDS,
    hll::COMMANDS,
    geo::COMMANDS,
    streams::COMMANDS,
    hll_debug::COMMANDS,
    blocking::COMMANDS,
    sort::COMMANDS,
    dump::COMMANDS,
    migrate::COMMANDS,
    save::COMMANDS,
    aof::COMMANDS,
    transactions::COMMANDS,
    pubsub::COMMANDS,
    replication::COMMANDS,
    cluster::COMMANDS,
    role_change::COMMANDS,
    std::slice::from_ref(&cluster::CLUSTER),
    std::slice::from_ref(&slowlog::SLOWLOG),
    std::slice::from_ref(&latency::LATENCY),
    monitor::COMMANDS,
    lolwut::COMMANDS,
    std::slice::from_ref(&acl::ACL),
];

/// Registers every command family with the server (once; later calls
/// return the same table). The process calls it before it serves.
pub fn install() -> &'static Table {
    crate::server::table::install(FAMILIES)
}

/// [`install`] with the config's `rename-command` lines applied (the
/// process, at start-up).
pub fn install_renamed(
    renames: &[crate::config::Rename],
) -> Result<&'static Table, crate::config::ConfigError> {
    crate::server::table::install_renamed(FAMILIES, renames)
}

/// The command table, registered if it was not yet.
pub fn table() -> &'static Table {
    install()
}
