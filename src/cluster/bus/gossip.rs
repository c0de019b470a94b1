//! The PING/PONG/MEET payload: `count` gossip entries of 104 bytes, then
//! `extensions` ping extensions.
//!
//! ```text
//! 2256            count × gossip entry (104 bytes each)
//! 2256 + 104·count  extension: length u32 (incl. this 8-byte head),
//!                              type u16, unused u16, data NUL-padded to 8
//!                   ... next extension
//! ```
//!
//! 7.0 checks extension lengths only when `mflags[0]` has EXT_DATA: each
//! a multiple of 8, fitting in `totlen`, summing to it exactly. This codec
//! also refuses lengths below 8 (7.0 would loop on the same bytes).

use super::flags::{EXT_DATA, EXT_HOSTNAME};
use super::ids::NodeId;
use super::message::{
    DecodeError, GossipEntry, Gossips, PingExt, EXTENSIONS_OFFSET, GOSSIP_COUNT_OFFSET, GOSSIP_LEN,
    HEADER_LEN, IP_LEN, MFLAGS_OFFSET,
};
use super::wire::*;

/// Appends entries and extensions; returns `(count, extensions)`.
pub(crate) fn encode(g: &Gossips, out: &mut Vec<u8>) -> (u16, u16) {
    for e in &g.entries {
        let at = out.len();
        out.resize(at + GOSSIP_LEN, 0);
        let b = &mut out[at..];
        b[..40].copy_from_slice(&e.node.0);
        put_u32(b, 40, e.ping_sent);
        put_u32(b, 44, e.pong_received);
        put_c_text(&mut b[48..48 + IP_LEN], &e.ip);
        put_u16(b, 94, e.port);
        put_u16(b, 96, e.cport);
        put_u16(b, 98, e.flags);
        put_u16(b, 100, e.pport);
    }
    for x in &g.extensions {
        let (kind, data): (u16, &[u8]) = match x {
            PingExt::Hostname(h) => (EXT_HOSTNAME, h),
            PingExt::Other { kind, data } => (*kind, data),
        };
        // Hostname: text + NUL; both: NUL-padded to a multiple of 8.
        let nul = matches!(x, PingExt::Hostname(_)) as usize;
        let padded = (data.len() + nul).div_ceil(8) * 8;
        out.extend_from_slice(&((8 + padded) as u32).to_be_bytes());
        out.extend_from_slice(&kind.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(data);
        out.resize(out.len() + padded - data.len(), 0);
    }
    (g.entries.len() as u16, g.extensions.len() as u16)
}

/// Decodes the payload of a whole PING/PONG/MEET frame of type `kind`.
pub(crate) fn decode(frame: &[u8], kind: u16) -> Result<Gossips, DecodeError> {
    let totlen = frame.len();
    let count = u16_at(frame, GOSSIP_COUNT_OFFSET) as usize;
    let mut explen = HEADER_LEN + GOSSIP_LEN * count;
    let length = |expected| DecodeError::Length {
        kind,
        totlen,
        expected,
    };
    if explen > totlen {
        return Err(length(explen));
    }
    let entries = frame[HEADER_LEN..explen]
        .chunks_exact(GOSSIP_LEN)
        .map(decode_entry)
        .collect();
    let mut extensions = Vec::new();
    if frame[MFLAGS_OFFSET] & EXT_DATA != 0 {
        for index in 0..u16_at(frame, EXTENSIONS_OFFSET) as usize {
            if totlen - explen < 8 {
                return Err(length(explen + 8));
            }
            let ext_len = u32_at(frame, explen);
            let n = ext_len as usize;
            if !n.is_multiple_of(8) || n < 8 || n > totlen - explen {
                return Err(DecodeError::Extension {
                    index,
                    length: ext_len,
                });
            }
            let ext = &frame[explen..explen + n];
            if u16_at(ext, 4) == EXT_HOSTNAME && ext.last() != Some(&0) {
                return Err(DecodeError::Unterminated { index });
            }
            extensions.push(decode_ext(ext));
            explen += n;
        }
    }
    if explen != totlen {
        return Err(length(explen));
    }
    Ok(Gossips {
        entries,
        extensions,
    })
}

fn decode_entry(b: &[u8]) -> GossipEntry {
    GossipEntry {
        node: NodeId::from_wire(b),
        ping_sent: u32_at(b, 40),
        pong_received: u32_at(b, 44),
        ip: c_text(&b[48..48 + IP_LEN]),
        port: u16_at(b, 94),
        cport: u16_at(b, 96),
        flags: u16_at(b, 98),
        pport: u16_at(b, 100),
    }
}

/// `ext` is one whole extension, length already checked.
fn decode_ext(ext: &[u8]) -> PingExt {
    let kind = u16_at(ext, 4);
    let data = &ext[8..];
    if kind == EXT_HOSTNAME {
        let text = c_text(data);
        // Only the canonical form (text, NUL, zero padding to 8), so that
        // re-encoding gives the same bytes; anything else stays raw.
        let canonical = (text.len() + 1).div_ceil(8) * 8 == data.len()
            && data[text.len()..].iter().all(|&b| b == 0)
            && ext[6..8] == [0, 0];
        if canonical {
            return PingExt::Hostname(text);
        }
    }
    PingExt::Other {
        kind,
        data: data.to_vec(),
    }
}
