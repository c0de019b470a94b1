//! The Redis Cluster bus codec, byte-compatible with redis-server 7.0
//! (`clusterMsg` in `cluster.h`). Pure encode/decode, no I/O.
//!
//! A link is a TCP stream of messages with no delimiter; each message is
//! a fixed 2256-byte header followed by a payload whose size the header
//! gives:
//!
//! ```text
//! +------+--------+-----+------+------+-------+-----  ...  -----+---------+
//! | RCmb | totlen | ver | port | type | count | epochs, sender, | payload |
//! |  4   | u32 BE | u16 | u16  | u16  |  u16  | slots, flags... |         |
//! +------+--------+-----+------+------+-------+-----  ...  -----+---------+
//! 0      4        8     10     12     14      16             2256    totlen
//! ```
//!
//! [`frame_len`] cuts a stream into frames (after 8 bytes it knows the
//! length); [`Message::decode`] parses one frame and [`Message::encode`]
//! writes one. Field offsets: [`message`], gossip and ping extensions:
//! [`gossip`], node IDs and slot bitmaps: [`ids`], constants: [`flags`].

pub mod flags;
pub mod gossip;
pub mod ids;
pub mod message;
mod wire;

#[cfg(test)]
mod tests;

pub use flags::{flags_text, parse_flags_text};
pub use ids::{NodeId, SlotBitmap};
pub use message::{
    frame_len, frame_type, Body, DecodeError, FrameError, GossipEntry, Gossips, Header, Message,
    PingExt, HEADER_LEN,
};
