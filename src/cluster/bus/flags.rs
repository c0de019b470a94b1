//! Constants of the bus: node flags (header `flags` at 2250, gossip
//! `flags`), message flags (`mflags[0]` at 2253), message types (`type` at
//! 12) and ping extension types.
//!
//! ```text
//! node flags  bit: 0 master  1 slave  2 fail?(PFAIL)  3 fail  4 myself
//!                  5 handshake  6 noaddr  7 MEET  8 MIGRATE_TO  9 nofailover
//! mflags[0]   bit: 0 PAUSED  1 FORCEACK  2 EXT_DATA
//! ```

/// Node is a master.
pub const MASTER: u16 = 1;
/// Node is a replica.
pub const SLAVE: u16 = 2;
/// Local failure verdict (`fail?`).
pub const PFAIL: u16 = 4;
/// Agreed failure (`fail`).
pub const FAIL: u16 = 8;
/// This node; set in the header `flags` of every message a node sends.
pub const MYSELF: u16 = 16;
/// First PONG not received yet; the name is a random placeholder.
pub const HANDSHAKE: u16 = 32;
/// Address unknown.
pub const NOADDR: u16 = 64;
/// Send MEET instead of PING on next connect (local only, no text name).
pub const MEET: u16 = 128;
/// Master eligible as replica-migration target (no text name).
pub const MIGRATE_TO: u16 = 256;
/// Replica with `cluster-replica-no-failover yes`.
pub const NOFAILOVER: u16 = 512;

/// `mflags[0]`: master paused for a manual failover.
pub const PAUSED: u8 = 1;
/// `mflags[0]`: FAILOVER_AUTH_REQUEST of a manual failover, vote even if the master is up.
pub const FORCEACK: u8 = 2;
/// `mflags[0]`: the message carries ping extensions.
pub const EXT_DATA: u8 = 4;

/// Message type: PING.
pub const TYPE_PING: u16 = 0;
/// Message type: PONG (reply to PING/MEET, also broadcast).
pub const TYPE_PONG: u16 = 1;
/// Message type: MEET (PING that makes the receiver add the sender).
pub const TYPE_MEET: u16 = 2;
/// Message type: FAIL (a node is marked failed).
pub const TYPE_FAIL: u16 = 3;
/// Message type: PUBLISH (cluster-wide Pub/Sub).
pub const TYPE_PUBLISH: u16 = 4;
/// Message type: FAILOVER_AUTH_REQUEST (replica asks for votes).
pub const TYPE_FAILOVER_AUTH_REQUEST: u16 = 5;
/// Message type: FAILOVER_AUTH_ACK (a master's vote).
pub const TYPE_FAILOVER_AUTH_ACK: u16 = 6;
/// Message type: UPDATE (another node's slot configuration).
pub const TYPE_UPDATE: u16 = 7;
/// Message type: MFSTART (replica asks its master to pause for manual failover).
pub const TYPE_MFSTART: u16 = 8;
/// Message type: MODULE (module-defined payload).
pub const TYPE_MODULE: u16 = 9;
/// Message type: PUBLISHSHARD (SPUBLISH, sent to the shard's nodes only).
pub const TYPE_PUBLISHSHARD: u16 = 10;

/// Ping extension type: `cluster-announce-hostname` (the only one 7.0 knows).
pub const EXT_HOSTNAME: u16 = 0;

/// Text names in `representClusterNodeFlags()` order.
const NAMES: [(u16, &str); 8] = [
    (MYSELF, "myself"),
    (MASTER, "master"),
    (SLAVE, "slave"),
    (PFAIL, "fail?"),
    (FAIL, "fail"),
    (HANDSHAKE, "handshake"),
    (NOADDR, "noaddr"),
    (NOFAILOVER, "nofailover"),
];

/// The flags column of `CLUSTER NODES` / nodes.conf, e.g.
/// `myself,master`; `noflags` when no named flag is set.
pub fn flags_text(flags: u16) -> String {
    let names: Vec<&str> = NAMES
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|&(_, name)| name)
        .collect();
    if names.is_empty() {
        "noflags".to_string()
    } else {
        names.join(",")
    }
}

/// Parses the flags column of nodes.conf (case-insensitive, as
/// `clusterLoadConfig()`); `None` on an unknown name.
pub fn parse_flags_text(text: &str) -> Option<u16> {
    let mut flags = 0;
    for word in text.split(',') {
        if word.eq_ignore_ascii_case("noflags") {
            continue;
        }
        let &(bit, _) = NAMES
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(word))?;
        flags |= bit;
    }
    Some(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_order_matches_redis() {
        assert_eq!(flags_text(0), "noflags");
        assert_eq!(flags_text(MASTER | MYSELF), "myself,master");
        assert_eq!(flags_text(MASTER | MYSELF | MIGRATE_TO), "myself,master");
        assert_eq!(flags_text(SLAVE | FAIL | PFAIL), "slave,fail?,fail");
        assert_eq!(flags_text(MEET | MIGRATE_TO), "noflags");
        assert_eq!(
            flags_text(MASTER | HANDSHAKE | NOADDR | NOFAILOVER),
            "master,handshake,noaddr,nofailover"
        );
    }

    #[test]
    fn parse_round_trips() {
        for f in [0, 1, 2, 17, 18, 4 | 1, 8 | 2, 32 | 1, 64, 512 | 2] {
            assert_eq!(parse_flags_text(&flags_text(f)), Some(f), "{f}");
        }
        assert_eq!(parse_flags_text("MYSELF,Master"), Some(MYSELF | MASTER));
        assert_eq!(parse_flags_text("master,bogus"), None);
        assert_eq!(parse_flags_text(""), None);
    }
}
