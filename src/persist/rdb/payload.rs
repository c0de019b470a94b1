//! The DUMP payload (`createDumpPayload` / `verifyDumpPayload`):
//!
//! ```text
//! <type byte> <object as in an RDB> <RDB version: u16 LE> <CRC64: u64 LE>
//! ```
//!
//! The CRC64 covers everything before it, the version included.

use super::decode::read_value;
use super::encode::{write_value, EncodeOpts};
use super::reader::Reader;
use super::{crc64::crc64, Result, RDB_VERSION};
use crate::store::{EncodingLimits, Value};

/// The DUMP payload of `v`.
pub fn create(v: &Value, opts: &EncodeOpts) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    write_value(&mut out, v, opts);
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// DEBUG SET-SKIP-CHECKSUM-VALIDATION: RESTORE takes payloads whatever
/// their CRC (Redis's suite feeds it hand-made corrupt payloads this
/// way; the content is still checked in depth).
pub static SKIP_CHECKSUM: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether the footer is acceptable: a version this server reads (<= 10)
/// and a matching checksum (unless [`SKIP_CHECKSUM`]).
pub fn verify(p: &[u8]) -> bool {
    if p.len() < 10 {
        return false;
    }
    let footer = &p[p.len() - 10..];
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > RDB_VERSION {
        return false;
    }
    if SKIP_CHECKSUM.load(std::sync::atomic::Ordering::Relaxed) {
        return true;
    }
    let crc = crc64(0, &p[..p.len() - 8]);
    crc.to_le_bytes() == footer[2..10]
}

/// The value of a verified payload. Like Redis, the object is read from
/// the whole payload and need not end right at the footer.
pub fn load(p: &[u8], lim: &EncodingLimits) -> Result<Value> {
    read_value(&mut Reader::new(p), lim)
}
