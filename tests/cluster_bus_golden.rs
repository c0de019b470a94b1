//! Golden tests of the cluster bus codec against messages captured from
//! real redis-server 7.0.15 (`tests/golden/cluster_bus/`, made by
//! `cargo run --example capture_cluster_bus`; see the README there).
//!
//! Each `<name>.bin` is one message as received; `<name>.txt` lists
//! `key=value` facts known from the capture's setup (ports, node IDs from
//! `CLUSTER MYID`, assigned slots, the published channel...). Every
//! capture must decode, match its facts, and re-encode to the same bytes.
//! No redis-server needed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use shardis::cluster::bus::flags::*;
use shardis::cluster::bus::*;

struct Capture {
    name: String,
    bytes: Vec<u8>,
    facts: BTreeMap<String, String>,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/cluster_bus")
}

fn captures() -> Vec<Capture> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir()).expect("tests/golden/cluster_bus") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "bin") {
            let txt = std::fs::read_to_string(path.with_extension("txt")).expect("sidecar .txt");
            let facts = txt
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            out.push(Capture {
                name: path.file_stem().unwrap().to_string_lossy().into_owned(),
                bytes: std::fs::read(&path).unwrap(),
                facts,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn capture(name: &str) -> Capture {
    captures()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("missing golden capture {name}.bin"))
}

fn decode(c: &Capture) -> Message {
    Message::decode(&c.bytes).unwrap_or_else(|e| panic!("{}: {e}", c.name))
}

fn ranges(slots: &SlotBitmap) -> String {
    let r: Vec<String> = slots
        .iter_ranges()
        .map(|(a, b)| format!("{a}-{b}"))
        .collect();
    r.join(",")
}

fn gossips(m: &Message) -> Option<&Gossips> {
    match &m.body {
        Body::Ping(g) | Body::Pong(g) | Body::Meet(g) => Some(g),
        _ => None,
    }
}

/// What the decoded message says for a fact key.
fn fact(m: &Message, bytes: &[u8], key: &str) -> Option<String> {
    let h = &m.header;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Some(match key {
        "totlen" => bytes.len().to_string(),
        "type" => m.type_code().to_string(),
        "sender" => h.sender.to_string(),
        "port" => h.port.to_string(),
        "cport" => h.cport.to_string(),
        "count" => gossips(m)?.entries.len().to_string(),
        "slots" => ranges(&h.myslots),
        "slaveof" => h.slaveof?.to_string(),
        "flags" => flags_text(h.flags),
        "hostname" => gossips(m)?.extensions.iter().find_map(|x| match x {
            PingExt::Hostname(h) => Some(text(h)),
            _ => None,
        })?,
        "channel" | "message" => match &m.body {
            Body::Publish { channel, message } | Body::PublishShard { channel, message } => {
                text(if key == "channel" { channel } else { message })
            }
            _ => return None,
        },
        "node" => match &m.body {
            Body::Fail { node } | Body::Update { node, .. } => node.to_string(),
            _ => return None,
        },
        "update_slots" => match &m.body {
            Body::Update { slots, .. } => ranges(slots),
            _ => return None,
        },
        _ => panic!("unknown fact {key}"),
    })
}

#[test]
fn the_expected_captures_exist() {
    let names: Vec<String> = captures().into_iter().map(|c| c.name).collect();
    for n in [
        "meet",
        "meet_hostname",
        "pong",
        "ping_gossip",
        "ping_replica",
        "ping_hostname",
        "publish",
        "publishshard",
        "fail",
        "auth_request",
        "update",
        "mfstart",
        "auth_ack",
    ] {
        assert!(names.iter().any(|x| x == n), "{n}.bin missing: {names:?}");
    }
}

#[test]
fn every_capture_reencodes_byte_for_byte() {
    for c in captures() {
        let m = decode(&c);
        assert_eq!(m.to_bytes(), c.bytes, "{}: re-encoding differs", c.name);
    }
}

#[test]
fn every_capture_matches_its_setup_facts() {
    for c in captures() {
        let m = decode(&c);
        for (k, v) in &c.facts {
            assert_eq!(
                fact(&m, &c.bytes, k).as_deref(),
                Some(v.as_str()),
                "{}: {k}",
                c.name
            );
        }
    }
}

#[test]
fn raw_header_fields() {
    for c in captures() {
        let b = &c.bytes;
        let m = decode(&c);
        assert_eq!(&b[..4], b"RCmb", "{}", c.name);
        assert_eq!(
            u32::from_be_bytes(b[4..8].try_into().unwrap()) as usize,
            b.len()
        );
        assert_eq!(&b[8..10], &[0, 1], "{}: ver", c.name);
        assert_eq!(u16::from_be_bytes([b[12], b[13]]), m.type_code());
        assert_eq!(frame_len(b), Ok(Some(b.len())));
        // The sender is a real node: 40 lowercase hex, and it flags itself.
        let sender = m.header.sender.as_str();
        assert!(
            sender.len() == 40
                && sender
                    .bytes()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
            "{}: sender {sender:?}",
            c.name
        );
        assert!(m.header.flags & MYSELF != 0, "{}", c.name);
        // No cluster-announce-ip in the captures, no TLS.
        assert!(m.header.myip.is_empty() && m.header.pport == 0);
        assert!(b[2216..2246].iter().all(|&x| x == 0), "{}: unused", c.name);
        assert_eq!(&b[2254..2256], &[0, 0]);
    }
}

#[test]
fn observed_lengths() {
    for (name, len) in [
        ("meet", 2256),
        ("fail", 2296),
        ("publish", 2274),
        ("auth_request", 2256),
        ("mfstart", 2256),
        ("auth_ack", 2256),
        ("update", 4352),
    ] {
        assert_eq!(capture(name).bytes.len(), len, "{name}");
    }
}

#[test]
fn gossip_entries_describe_the_capture_nodes() {
    for c in captures() {
        let m = decode(&c);
        let Some(g) = gossips(&m) else { continue };
        assert_eq!(c.bytes.len() - HEADER_LEN - 104 * g.entries.len(), {
            let ext: usize = g.extensions.iter().map(ext_len).sum();
            ext
        });
        for e in &g.entries {
            assert!(NodeId::parse(&e.node.0).is_some(), "{}", c.name);
            assert_eq!(e.ip, b"127.0.0.1", "{}", c.name);
            // Real nodes 7601-7605 (bus +10000) or the fake 7690@7691.
            let ok = (7601..=7605).contains(&e.port) && e.cport == e.port + 10000
                || (e.port, e.cport) == (7690, 7691);
            assert!(ok, "{}: {e:?}", c.name);
            assert_eq!(e.flags & (MYSELF | MEET), 0, "{}", c.name);
        }
    }
}

fn ext_len(x: &PingExt) -> usize {
    match x {
        PingExt::Hostname(h) => 8 + (h.len() + 1).div_ceil(8) * 8,
        PingExt::Other { data, .. } => 8 + data.len(),
    }
}

#[test]
fn hostname_extension_layout() {
    for name in ["ping_hostname", "meet_hostname"] {
        let c = capture(name);
        let b = &c.bytes;
        let count = u16::from_be_bytes([b[14], b[15]]) as usize;
        assert_eq!(&b[2214..2216], &[0, 1], "{name}: extensions");
        assert_eq!(b[2253] & EXT_DATA, EXT_DATA, "{name}: mflags");
        let x = &b[HEADER_LEN + 104 * count..];
        assert_eq!(&x[..8], &[0, 0, 0, 24, 0, 0, 0, 0], "{name}");
        assert_eq!(&x[8..], b"host-a.example\0\0", "{name}");
    }
    // Nodes without a hostname send no extension and no EXT_DATA bit.
    for name in ["meet", "pong", "ping_gossip", "ping_replica"] {
        let b = capture(name).bytes;
        assert_eq!(&b[2214..2216], &[0, 0], "{name}");
        assert_eq!(b[2253], 0, "{name}");
    }
}

#[test]
fn replica_messages_carry_the_masters_slots() {
    for name in ["ping_replica", "auth_request"] {
        let c = capture(name);
        let m = decode(&c);
        assert_eq!(m.header.flags & (SLAVE | MYSELF), SLAVE | MYSELF, "{name}");
        assert_eq!(m.header.myslots.count(), 5461, "{name}");
        assert_eq!(c.bytes[80], 0xff, "{name}: slots 0-7, LSB first");
        assert_eq!(c.bytes[80 + 682], 0x1f, "{name}: slots 5456-5460");
    }
    let m = decode(&capture("auth_request"));
    assert_eq!(m.header.mflags & FORCEACK, 0, "automatic failover");
}

#[test]
fn auth_ack_comes_from_a_master_with_slots() {
    let m = decode(&capture("auth_ack"));
    assert!(matches!(m.body, Body::FailoverAuthAck));
    assert_eq!(m.header.flags & (MASTER | SLAVE), MASTER);
    assert!(m.header.slaveof.is_none());
    assert!(m.header.myslots.count() > 0);
}

#[test]
fn update_names_the_promoted_replica() {
    let c = capture("update");
    let m = decode(&c);
    let Body::Update {
        config_epoch,
        node,
        slots,
    } = &m.body
    else {
        panic!("not an UPDATE")
    };
    assert!(*config_epoch > 0);
    assert_eq!(node.to_string(), c.facts["node"]);
    assert_eq!(slots.count(), 5461);
}

#[test]
fn fail_names_the_stopped_master() {
    let c = capture("fail");
    let m = decode(&c);
    assert_eq!(&c.bytes[2256..], c.facts["node"].as_bytes());
    assert!(matches!(m.body, Body::Fail { .. }));
}
