//! Big-endian field access and NUL-padded text fields, shared by the
//! encoder and the decoder. Readers take a slice already checked to be
//! long enough.

pub(crate) fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}

pub(crate) fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes(b[off..off + 4].try_into().unwrap())
}

pub(crate) fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_be_bytes(b[off..off + 8].try_into().unwrap())
}

pub(crate) fn put_u16(out: &mut [u8], off: usize, v: u16) {
    out[off..off + 2].copy_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_u32(out: &mut [u8], off: usize, v: u32) {
    out[off..off + 4].copy_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_u64(out: &mut [u8], off: usize, v: u64) {
    out[off..off + 8].copy_from_slice(&v.to_be_bytes());
}

/// The text of a NUL-padded field: bytes up to the first NUL.
pub(crate) fn c_text(field: &[u8]) -> Vec<u8> {
    let end = memchr::memchr(0, field).unwrap_or(field.len());
    field[..end].to_vec()
}

/// Writes `text` into a zeroed field of `field.len()` bytes, truncating.
pub(crate) fn put_c_text(field: &mut [u8], text: &[u8]) {
    let n = text.len().min(field.len());
    field[..n].copy_from_slice(&text[..n]);
}
