//! One cluster bus message (`clusterMsg`): a 2256-byte header and a
//! type-specific payload. All integers big-endian.
//!
//! ```text
//! off  size field          off  size field
//!    0    4 sig "RCmb"     2128   40 slaveof (40 NUL = master)
//!    4    4 totlen         2168   46 myip (NUL-padded, all NUL = none)
//!    8    2 ver = 1        2214    2 extensions (ping extension count)
//!   10    2 port           2216   30 unused, zero
//!   12    2 type           2246    2 pport (plaintext port with TLS)
//!   14    2 count (gossip) 2248    2 cport (bus port)
//!   16    8 currentEpoch   2250    2 flags (node flags, incl. MYSELF)
//!   24    8 configEpoch    2252    1 state (0 ok, 1 fail)
//!   32    8 offset         2253    3 mflags (byte 0 used)
//!   40   40 sender         2256      payload
//!   80 2048 myslots
//!
//! payload  PING/PONG/MEET  count × 104-byte gossip, then `extensions` ping exts
//!          FAIL            node id (40)                              totlen 2296
//!          PUBLISH(SHARD)  chan_len u32, msg_len u32, chan, msg      2264 + lens
//!          AUTH_REQ/ACK, MFSTART: none                               totlen 2256
//!          UPDATE          configEpoch u64, node id (40), slots 2048 totlen 4352
//!          MODULE          module_id 8 (raw host order), len u32, type u8, data
//! ```

use std::fmt;

use super::flags::*;
use super::gossip;
use super::ids::{NodeId, SlotBitmap, NODE_ID_LEN, SLOT_BITMAP_LEN};
use super::wire::*;

/// Header size (`CLUSTERMSG_MIN_LEN`); the payload starts here.
pub const HEADER_LEN: usize = 2256;
/// Size of a gossip entry (`clusterMsgDataGossip`).
pub const GOSSIP_LEN: usize = 104;
/// `ver` this codec speaks and accepts (`CLUSTER_PROTO_VER`).
pub const PROTO_VER: u16 = 1;
/// Size of an IP text field (`NET_IP_STR_LEN`).
pub const IP_LEN: usize = 46;
/// The 4 signature bytes every message starts with.
pub const SIGNATURE: &[u8; 4] = b"RCmb";

// Header offsets.
const OFF_TOTLEN: usize = 4;
const OFF_VER: usize = 8;
const OFF_PORT: usize = 10;
const OFF_TYPE: usize = 12;
const OFF_COUNT: usize = 14;
const OFF_CURRENT_EPOCH: usize = 16;
const OFF_CONFIG_EPOCH: usize = 24;
const OFF_OFFSET: usize = 32;
const OFF_SENDER: usize = 40;
const OFF_MYSLOTS: usize = 80;
const OFF_SLAVEOF: usize = 2128;
const OFF_MYIP: usize = 2168;
const OFF_EXTENSIONS: usize = 2214;
const OFF_PPORT: usize = 2246;
const OFF_CPORT: usize = 2248;
const OFF_FLAGS: usize = 2250;
const OFF_STATE: usize = 2252;
const OFF_MFLAGS: usize = 2253;

/// The header fields a sender chooses. `sig`, `totlen`, `ver`, `type`,
/// `count` and `extensions` are derived from the body by
/// [`Message::encode`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Sender's client port.
    pub port: u16,
    pub current_epoch: u64,
    /// Sender's configEpoch (its master's if the sender is a replica).
    pub config_epoch: u64,
    /// Replication offset.
    pub offset: u64,
    pub sender: NodeId,
    /// Sender's slots (its master's if the sender is a replica).
    pub myslots: SlotBitmap,
    /// Sender's master, `None` on the wire as 40 NUL bytes.
    pub slaveof: Option<NodeId>,
    /// `cluster-announce-ip`; empty = none (receiver uses the peer address).
    pub myip: Vec<u8>,
    /// Plaintext client port (TLS clusters), else 0.
    pub pport: u16,
    /// Sender's bus port.
    pub cport: u16,
    /// Sender's node flags ([`MYSELF`] included).
    pub flags: u16,
    /// 0 = cluster ok, 1 = fail (informational).
    pub state: u8,
    /// `mflags[0]`: [`PAUSED`], [`FORCEACK`], [`EXT_DATA`].
    pub mflags: u8,
}

/// A message payload, by type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    Ping(Gossips),
    Pong(Gossips),
    Meet(Gossips),
    Fail {
        node: NodeId,
    },
    Publish {
        channel: Vec<u8>,
        message: Vec<u8>,
    },
    PublishShard {
        channel: Vec<u8>,
        message: Vec<u8>,
    },
    FailoverAuthRequest,
    FailoverAuthAck,
    Update {
        config_epoch: u64,
        node: NodeId,
        slots: SlotBitmap,
    },
    MfStart,
    Module {
        /// Raw 8 bytes, host order of the sending module (not swapped).
        module_id: [u8; 8],
        kind: u8,
        payload: Vec<u8>,
    },
    /// A type 7.0 does not know: 7.0 runs the common header processing
    /// and drops it. `payload` is everything after the header.
    Unknown {
        kind: u16,
        payload: Vec<u8>,
    },
}

/// The payload of PING, PONG and MEET.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gossips {
    pub entries: Vec<GossipEntry>,
    pub extensions: Vec<PingExt>,
}

/// One gossip section: the sender's view of another node.
///
/// ```text
/// off size          off size
///   0   40 nodename  94  2 port
///  40    4 ping_sent 96  2 cport
///  44    4 pong_rcv  98  2 flags
///  48   46 ip       100  2 pport
///                   102  2 unused
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GossipEntry {
    pub node: NodeId,
    /// Seconds (unix), 0 = no ping pending.
    pub ping_sent: u32,
    /// Seconds (unix) of the last PONG.
    pub pong_received: u32,
    /// Text IP, without the NUL padding.
    pub ip: Vec<u8>,
    pub port: u16,
    pub cport: u16,
    pub flags: u16,
    pub pport: u16,
}

/// A ping extension: `length` u32 (whole extension), `type` u16,
/// 2 unused bytes, data NUL-padded to a multiple of 8.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PingExt {
    /// Type 0, `cluster-announce-hostname` without its NUL and padding.
    /// Decoded as such only when it re-encodes to the same bytes.
    Hostname(Vec<u8>),
    /// Any other extension, with its padded data as received.
    Other { kind: u16, data: Vec<u8> },
}

/// A whole bus message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub header: Header,
    pub body: Body,
}

/// Why a buffered stream cannot be framed: 7.0 closes the link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The first 4 bytes are not `RCmb`.
    Signature([u8; 4]),
    /// `totlen` is below [`HEADER_LEN`].
    TooShort(u32),
}

/// Why a framed message is rejected. 7.0 logs (or silently drops, for
/// [`DecodeError::Version`]) and keeps the link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Bad signature or `totlen` (see [`frame_len`]).
    Frame(FrameError),
    /// The frame is not exactly `totlen` bytes long.
    Truncated { totlen: usize, have: usize },
    /// `ver` is not 1: ignore the message.
    Version(u16),
    /// `totlen` differs from the length the type and counts imply.
    Length {
        kind: u16,
        totlen: usize,
        expected: usize,
    },
    /// A ping extension with a bad length (index among the extensions).
    Extension { index: usize, length: u32 },
    /// A hostname extension whose text has no NUL terminator (Redis
    /// drops such a message: CVE-2026-92925's check in Debian's build).
    Unterminated { index: usize },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Signature(s) => write!(f, "bad bus signature {:?}", s.escape_ascii()),
            FrameError::TooShort(n) => write!(f, "bus message length {n} < {HEADER_LEN}"),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Frame(e) => e.fmt(f),
            DecodeError::Truncated { totlen, have } => {
                write!(f, "frame of {have} bytes for totlen {totlen}")
            }
            DecodeError::Version(v) => write!(f, "bus protocol version {v} (not 1)"),
            DecodeError::Length {
                kind,
                totlen,
                expected,
            } => write!(
                f,
                "message type {kind}: totlen {totlen}, expected {expected}"
            ),
            DecodeError::Extension { index, length } => {
                write!(f, "ping extension {index}: bad length {length}")
            }
            DecodeError::Unterminated { index } => {
                write!(
                    f,
                    "ping extension {index}: hostname without a NUL terminator"
                )
            }
        }
    }
}

impl std::error::Error for FrameError {}
impl std::error::Error for DecodeError {}

/// Length of the message at the start of `buf`: `None` until 8 bytes are
/// buffered, then `totlen` (the caller waits for that many bytes). A
/// [`FrameError`] means the caller must close the link.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, FrameError> {
    if buf.len() < 8 {
        return Ok(None);
    }
    if &buf[..4] != SIGNATURE {
        return Err(FrameError::Signature(buf[..4].try_into().unwrap()));
    }
    let totlen = u32_at(buf, OFF_TOTLEN);
    if (totlen as usize) < HEADER_LEN {
        return Err(FrameError::TooShort(totlen));
    }
    Ok(Some(totlen as usize))
}

/// The `type` of a whole frame that speaks our version, read before its
/// body is checked: Redis counts a message as received (CLUSTER INFO
/// `cluster_stats_messages_*_received`) before it validates the body, so
/// one dropped as malformed still counts.
pub fn frame_type(frame: &[u8]) -> Option<u16> {
    if frame.len() < OFF_COUNT || u16_at(frame, OFF_VER) != PROTO_VER {
        return None;
    }
    Some(u16_at(frame, OFF_TYPE))
}

impl Message {
    /// The wire `type` of this message.
    pub fn type_code(&self) -> u16 {
        match &self.body {
            Body::Ping(_) => TYPE_PING,
            Body::Pong(_) => TYPE_PONG,
            Body::Meet(_) => TYPE_MEET,
            Body::Fail { .. } => TYPE_FAIL,
            Body::Publish { .. } => TYPE_PUBLISH,
            Body::PublishShard { .. } => TYPE_PUBLISHSHARD,
            Body::FailoverAuthRequest => TYPE_FAILOVER_AUTH_REQUEST,
            Body::FailoverAuthAck => TYPE_FAILOVER_AUTH_ACK,
            Body::Update { .. } => TYPE_UPDATE,
            Body::MfStart => TYPE_MFSTART,
            Body::Module { .. } => TYPE_MODULE,
            Body::Unknown { kind, .. } => *kind,
        }
    }

    /// Appends the message to `out`. `totlen`, `type`, `count` and
    /// `extensions` come from the body; [`EXT_DATA`] is added to
    /// `header.mflags` when there are extensions (other bits, and an
    /// EXT_DATA the caller set, are kept).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + HEADER_LEN, 0);
        let (count, extensions) = match &self.body {
            Body::Ping(g) | Body::Pong(g) | Body::Meet(g) => gossip::encode(g, out),
            Body::Fail { node } => {
                out.extend_from_slice(&node.0);
                (0, 0)
            }
            Body::Publish { channel, message } | Body::PublishShard { channel, message } => {
                out.extend_from_slice(&(channel.len() as u32).to_be_bytes());
                out.extend_from_slice(&(message.len() as u32).to_be_bytes());
                out.extend_from_slice(channel);
                out.extend_from_slice(message);
                (0, 0)
            }
            Body::FailoverAuthRequest | Body::FailoverAuthAck | Body::MfStart => (0, 0),
            Body::Update {
                config_epoch,
                node,
                slots,
            } => {
                out.extend_from_slice(&config_epoch.to_be_bytes());
                out.extend_from_slice(&node.0);
                out.extend_from_slice(&slots.0[..]);
                (0, 0)
            }
            Body::Module {
                module_id,
                kind,
                payload,
            } => {
                out.extend_from_slice(module_id);
                out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
                out.push(*kind);
                out.extend_from_slice(payload);
                (0, 0)
            }
            Body::Unknown { payload, .. } => {
                out.extend_from_slice(payload);
                (0, 0)
            }
        };
        let totlen = (out.len() - start) as u32;
        let h = &self.header;
        let b = &mut out[start..start + HEADER_LEN];
        b[..4].copy_from_slice(SIGNATURE);
        put_u32(b, OFF_TOTLEN, totlen);
        put_u16(b, OFF_VER, PROTO_VER);
        put_u16(b, OFF_PORT, h.port);
        put_u16(b, OFF_TYPE, self.type_code());
        put_u16(b, OFF_COUNT, count);
        put_u64(b, OFF_CURRENT_EPOCH, h.current_epoch);
        put_u64(b, OFF_CONFIG_EPOCH, h.config_epoch);
        put_u64(b, OFF_OFFSET, h.offset);
        b[OFF_SENDER..OFF_SENDER + NODE_ID_LEN].copy_from_slice(&h.sender.0);
        b[OFF_MYSLOTS..OFF_MYSLOTS + SLOT_BITMAP_LEN].copy_from_slice(&h.myslots.0[..]);
        if let Some(m) = &h.slaveof {
            b[OFF_SLAVEOF..OFF_SLAVEOF + NODE_ID_LEN].copy_from_slice(&m.0);
        }
        put_c_text(&mut b[OFF_MYIP..OFF_MYIP + IP_LEN], &h.myip);
        put_u16(b, OFF_EXTENSIONS, extensions);
        put_u16(b, OFF_PPORT, h.pport);
        put_u16(b, OFF_CPORT, h.cport);
        put_u16(b, OFF_FLAGS, h.flags);
        b[OFF_STATE] = h.state;
        b[OFF_MFLAGS] = h.mflags | if extensions > 0 { EXT_DATA } else { 0 };
    }

    /// Encodes into a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Decodes one whole frame (exactly `totlen` bytes, as cut by
    /// [`frame_len`]), with the checks of 7.0's `clusterProcessPacket()`:
    /// `ver` 1, `totlen` exact for the type, extension lengths (only
    /// looked at when [`EXT_DATA`] is set, as 7.0; without it, extensions
    /// are not decoded). Never panics.
    pub fn decode(frame: &[u8]) -> Result<Message, DecodeError> {
        let totlen = match frame_len(frame) {
            Err(e) => return Err(DecodeError::Frame(e)),
            Ok(None) => {
                return Err(DecodeError::Truncated {
                    totlen: HEADER_LEN,
                    have: frame.len(),
                })
            }
            Ok(Some(n)) => n,
        };
        if frame.len() != totlen {
            return Err(DecodeError::Truncated {
                totlen,
                have: frame.len(),
            });
        }
        let ver = u16_at(frame, OFF_VER);
        if ver != PROTO_VER {
            return Err(DecodeError::Version(ver));
        }
        let header = decode_header(frame);
        let kind = u16_at(frame, OFF_TYPE);
        let data = &frame[HEADER_LEN..];
        let length = |expected: usize| DecodeError::Length {
            kind,
            totlen,
            expected,
        };
        let exact = |n: usize| {
            if data.len() == n {
                Ok(())
            } else {
                Err(length(HEADER_LEN.saturating_add(n)))
            }
        };
        let body = match kind {
            TYPE_PING | TYPE_PONG | TYPE_MEET => {
                let g = gossip::decode(frame, kind)?;
                match kind {
                    TYPE_PING => Body::Ping(g),
                    TYPE_PONG => Body::Pong(g),
                    _ => Body::Meet(g),
                }
            }
            TYPE_FAIL => {
                exact(NODE_ID_LEN)?;
                Body::Fail {
                    node: NodeId::from_wire(data),
                }
            }
            TYPE_PUBLISH | TYPE_PUBLISHSHARD => {
                if data.len() < 8 {
                    return Err(length(HEADER_LEN + 8));
                }
                let clen = u32_at(data, 0) as usize;
                let mlen = u32_at(data, 4) as usize;
                let expected = 8usize.saturating_add(clen).saturating_add(mlen);
                exact(expected)?;
                let channel = data[8..8 + clen].to_vec();
                let message = data[8 + clen..].to_vec();
                if kind == TYPE_PUBLISH {
                    Body::Publish { channel, message }
                } else {
                    Body::PublishShard { channel, message }
                }
            }
            TYPE_FAILOVER_AUTH_REQUEST | TYPE_FAILOVER_AUTH_ACK | TYPE_MFSTART => {
                exact(0)?;
                match kind {
                    TYPE_FAILOVER_AUTH_REQUEST => Body::FailoverAuthRequest,
                    TYPE_FAILOVER_AUTH_ACK => Body::FailoverAuthAck,
                    _ => Body::MfStart,
                }
            }
            TYPE_UPDATE => {
                exact(8 + NODE_ID_LEN + SLOT_BITMAP_LEN)?;
                Body::Update {
                    config_epoch: u64_at(data, 0),
                    node: NodeId::from_wire(&data[8..]),
                    slots: SlotBitmap::from_wire(&data[8 + NODE_ID_LEN..]),
                }
            }
            TYPE_MODULE => {
                if data.len() < 13 {
                    return Err(length(HEADER_LEN + 13));
                }
                exact(13usize.saturating_add(u32_at(data, 8) as usize))?;
                Body::Module {
                    module_id: data[..8].try_into().unwrap(),
                    kind: data[12],
                    payload: data[13..].to_vec(),
                }
            }
            _ => Body::Unknown {
                kind,
                payload: data.to_vec(),
            },
        };
        Ok(Message { header, body })
    }
}

fn decode_header(b: &[u8]) -> Header {
    let slaveof = NodeId::from_wire(&b[OFF_SLAVEOF..]);
    Header {
        port: u16_at(b, OFF_PORT),
        current_epoch: u64_at(b, OFF_CURRENT_EPOCH),
        config_epoch: u64_at(b, OFF_CONFIG_EPOCH),
        offset: u64_at(b, OFF_OFFSET),
        sender: NodeId::from_wire(&b[OFF_SENDER..]),
        myslots: SlotBitmap::from_wire(&b[OFF_MYSLOTS..]),
        slaveof: (!slaveof.is_null()).then_some(slaveof),
        myip: c_text(&b[OFF_MYIP..OFF_MYIP + IP_LEN]),
        pport: u16_at(b, OFF_PPORT),
        cport: u16_at(b, OFF_CPORT),
        flags: u16_at(b, OFF_FLAGS),
        state: b[OFF_STATE],
        mflags: b[OFF_MFLAGS],
    }
}

/// Header field offsets the gossip decoder needs.
pub(crate) const GOSSIP_COUNT_OFFSET: usize = OFF_COUNT;
pub(crate) const EXTENSIONS_OFFSET: usize = OFF_EXTENSIONS;
pub(crate) const MFLAGS_OFFSET: usize = OFF_MFLAGS;
