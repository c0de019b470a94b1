//! Persistence formats. So far: the RDB value codec shared by DUMP /
//! RESTORE (and, later, RDB files and replication).

pub mod rdb;
