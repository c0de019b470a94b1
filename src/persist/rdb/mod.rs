//! The RDB value codec, as redis-server 7.0 (RDB version 10) writes and
//! reads values: one concept per file.
//!
//! - [`crc64`]: the checksum of DUMP payloads and RDB files;
//! - [`lzf`]: LZF compression of long strings;
//! - [`reader`]: a bounds-checked cursor over untrusted bytes;
//! - [`length`]: length encoding;
//! - [`string`]: string encoding (plain, integer, LZF);
//! - [`stream`]: streams (node listpacks and their metadata);
//! - [`ziplist`]: the pre-7.0 ziplist and zipmap blobs (read only);
//! - [`encode`] / [`decode`]: whole values, type byte first;
//! - [`payload`]: the DUMP payload (value + version + CRC64);
//! - [`functions`]: function libraries (FUNCTION2 + code);
//! - [`file`]: whole RDB files (header, AUX, SELECTDB, keys, EOF + CRC64).
//!
//! Decoding never panics: every length, blob and member is checked and a
//! bad input is an [`RdbError`].

pub mod crc64;
pub mod decode;
pub mod encode;
pub mod file;
pub mod functions;
pub mod length;
pub mod lzf;
pub mod payload;
pub mod reader;
pub mod stream;
mod stream_groups;
pub mod string;
pub mod ziplist;

/// The RDB format version Redis 7.0 writes.
pub const RDB_VERSION: u16 = 10;

/// Object type bytes (`rdb.h`).
pub mod types {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const STREAM_LISTPACKS_2: u8 = 19;
}

/// Why an RDB value could not be read (the text names the check that
/// failed, for logs; RESTORE answers "ERR Bad data format" whatever it is).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RdbError(pub &'static str);

impl std::fmt::Display for RdbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for RdbError {}

pub type Result<T> = std::result::Result<T, RdbError>;
