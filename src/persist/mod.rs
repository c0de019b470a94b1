//! Persistence formats: the RDB value codec shared by DUMP / RESTORE, RDB
//! files, and saving / loading the keyspace as one (`snapshot`).

pub mod rdb;
pub mod snapshot;
