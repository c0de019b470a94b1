//! Function libraries in RDB files and FUNCTION DUMP payloads: one
//! `RDB_OPCODE_FUNCTION2` and the library's code each (rdbSaveFunctions).
//!
//! The libraries are the server's (server/script/library.rs); it keeps
//! the copy of their codes here current, so every RDB this layer writes
//! (SAVE, BGSAVE, a full sync, an AOF base, DEBUG RELOAD) carries them, as
//! Redis's rdbSaveRio always does.

use super::file::opcodes;
use super::string::write_string;
use std::sync::{LazyLock, RwLock};

static CODES: LazyLock<RwLock<Vec<Vec<u8>>>> = LazyLock::new(Default::default);

/// The libraries' codes, by library name (the registry calls this on
/// every change).
pub fn set_codes(codes: Vec<Vec<u8>>) {
    *CODES.write().expect("function codes") = codes;
}

/// Appends every library, as an RDB writes them after its AUX fields.
pub fn write_all(out: &mut Vec<u8>) {
    for code in CODES.read().expect("function codes").iter() {
        out.push(opcodes::FUNCTION2);
        write_string(out, code, true);
    }
}
