//! Persistence formats: the RDB value codec shared by DUMP / RESTORE, RDB
//! files, saving / loading the keyspace as one (`snapshot`), the blocking
//! save (`blocking_save`), background snapshots (`bgsave`) and the write
//! refusal when saving fails (`health`). The engine is reached only
//! through the traits of `host`.

pub mod aof;
pub mod bgsave;
pub mod blocking_save;
pub mod health;
pub mod host;
pub mod rdb;
pub mod snapshot;
