//! Persistence formats: the RDB value codec shared by DUMP / RESTORE, RDB
//! files, saving / loading the keyspace as one (`snapshot`), background
//! snapshots (`bgsave`) and the write refusal when saving fails
//! (`health`).

pub mod aof;
pub mod bgsave;
pub mod health;
pub mod rdb;
pub mod snapshot;
