//! Codec unit tests: round trips of every type, fixed offsets, 7.0's
//! receiver checks, and decoding of random/truncated bytes.

use super::flags::*;
use super::message::GOSSIP_LEN;
use super::*;

fn id(c: u8) -> NodeId {
    NodeId([c; 40])
}

fn header() -> Header {
    let mut myslots = SlotBitmap::new();
    myslots.set_range(0, 5460);
    Header {
        port: 7101,
        current_epoch: 6,
        config_epoch: 3,
        offset: 0x0102_0304_0506_0708,
        sender: id(b'a'),
        myslots,
        slaveof: None,
        myip: b"10.0.0.1".to_vec(),
        pport: 0,
        cport: 17101,
        flags: MASTER | MYSELF,
        state: 0,
        mflags: 0,
    }
}

fn entry(c: u8) -> GossipEntry {
    GossipEntry {
        node: id(c),
        ping_sent: 0,
        pong_received: 1_700_000_000,
        ip: b"127.0.0.1".to_vec(),
        port: 7102,
        cport: 17102,
        flags: MASTER | PFAIL,
        pport: 0,
    }
}

fn bodies() -> Vec<Body> {
    let mut slots = SlotBitmap::new();
    slots.set(16383);
    let g = Gossips {
        entries: vec![entry(b'b'), entry(b'c')],
        extensions: vec![
            PingExt::Hostname(b"host-a.example".to_vec()),
            PingExt::Other {
                kind: 3,
                data: [b'd'; 40].to_vec(),
            },
        ],
    };
    vec![
        Body::Ping(Gossips::default()),
        Body::Pong(g.clone()),
        Body::Meet(g),
        Body::Fail { node: id(b'f') },
        Body::Publish {
            channel: b"chan1".to_vec(),
            message: b"hello".to_vec(),
        },
        Body::PublishShard {
            channel: b"".to_vec(),
            message: b"x".to_vec(),
        },
        Body::FailoverAuthRequest,
        Body::FailoverAuthAck,
        Body::Update {
            config_epoch: 9,
            node: id(b'e'),
            slots,
        },
        Body::MfStart,
        Body::Module {
            module_id: *b"\x01\x02\x03\x04\x05\x06\x07\x08",
            kind: 7,
            payload: b"payload".to_vec(),
        },
        Body::Unknown {
            kind: 42,
            payload: b"whatever".to_vec(),
        },
    ]
}

#[test]
fn every_type_round_trips() {
    for body in bodies() {
        let mut m = Message {
            header: header(),
            body,
        };
        let bytes = m.to_bytes();
        assert_eq!(frame_len(&bytes), Ok(Some(bytes.len())));
        let back = Message::decode(&bytes).unwrap();
        if let Body::Pong(g) | Body::Meet(g) = &m.body {
            if !g.extensions.is_empty() {
                m.header.mflags |= EXT_DATA;
            }
        }
        assert_eq!(back, m);
        assert_eq!(back.to_bytes(), bytes);
    }
}

#[test]
fn totlen_per_type() {
    let lens: Vec<usize> = bodies()
        .into_iter()
        .map(|body| {
            Message {
                header: header(),
                body,
            }
            .to_bytes()
            .len()
        })
        .collect();
    // PING 0 entries; PONG/MEET 2 entries + hostname(8+16) + shard id(8+40).
    let gossip = 2256 + 2 * 104 + 24 + 48;
    assert_eq!(
        lens,
        [2256, gossip, gossip, 2296, 2274, 2265, 2256, 2256, 4352, 2256, 2276, 2264]
    );
}

#[test]
fn header_offsets() {
    let mut h = header();
    h.slaveof = Some(id(b'm'));
    h.mflags = PAUSED;
    h.state = 1;
    h.pport = 0x1234;
    let m = Message {
        header: h,
        body: Body::Ping(Gossips {
            entries: vec![entry(b'b')],
            extensions: vec![PingExt::Hostname(b"fake-host.example".to_vec())],
        }),
    };
    let b = m.to_bytes();
    assert_eq!(
        &b[..16],
        b"RCmb\x00\x00\x09\x58\x00\x01\x1b\xbd\x00\x00\x00\x01"
    );
    assert_eq!(b.len(), 2256 + 104 + 32);
    assert_eq!(&b[16..24], &6u64.to_be_bytes());
    assert_eq!(&b[24..32], &3u64.to_be_bytes());
    assert_eq!(&b[32..40], &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(&b[40..80], &[b'a'; 40]);
    assert_eq!(b[80], 0xff);
    assert_eq!(b[80 + 682], 0x1f); // slots 5456..5460
    assert_eq!(&b[2128..2168], &[b'm'; 40]);
    assert_eq!(&b[2168..2177], b"10.0.0.1\0");
    assert_eq!(&b[2214..2216], &[0, 1]);
    assert!(b[2216..2246].iter().all(|&x| x == 0));
    assert_eq!(&b[2246..2256], &[0x12, 0x34, 0x42, 0xcd, 0, 17, 1, 5, 0, 0]);
    let g = &b[2256..2256 + GOSSIP_LEN];
    assert_eq!(&g[44..48], &1_700_000_000u32.to_be_bytes());
    assert_eq!(&g[48..58], b"127.0.0.1\0");
    assert_eq!(&g[94..104], &[0x1b, 0xbe, 0x42, 0xce, 0, 5, 0, 0, 0, 0]);
    let x = &b[2360..];
    assert_eq!(&x[..8], &[0, 0, 0, 32, 0, 0, 0, 0]);
    assert_eq!(&x[8..32], b"fake-host.example\0\0\0\0\0\0\0");
}

#[test]
fn frame_len_rules() {
    let b = Message {
        header: header(),
        body: Body::MfStart,
    }
    .to_bytes();
    for n in 0..8 {
        assert_eq!(frame_len(&b[..n]), Ok(None));
    }
    assert_eq!(frame_len(&b[..8]), Ok(Some(2256)));
    assert_eq!(
        frame_len(b"RCmc\0\0\x08\xd0"),
        Err(FrameError::Signature(*b"RCmc"))
    );
    assert_eq!(
        frame_len(b"RCmb\0\0\x08\xcf"),
        Err(FrameError::TooShort(2255))
    );
}

#[test]
fn receiver_checks() {
    let fail = Message {
        header: header(),
        body: Body::Fail { node: id(b'f') },
    }
    .to_bytes();
    let mut v2 = fail.clone();
    v2[9] = 2;
    assert_eq!(Message::decode(&v2), Err(DecodeError::Version(2)));
    // FAIL with a totlen of 2256 + 41.
    let mut long = fail.clone();
    long.push(0);
    long[7] += 1;
    assert!(matches!(
        Message::decode(&long),
        Err(DecodeError::Length {
            kind: 3,
            expected: 2296,
            ..
        })
    ));
    assert!(matches!(
        Message::decode(&fail[..2295]),
        Err(DecodeError::Truncated { totlen: 2296, .. })
    ));
    // PUBLISH whose lengths disagree with totlen.
    let mut p = Message {
        header: header(),
        body: Body::Publish {
            channel: b"c".to_vec(),
            message: b"m".to_vec(),
        },
    }
    .to_bytes();
    p[2259] = 2;
    assert!(matches!(
        Message::decode(&p),
        Err(DecodeError::Length { expected: 2267, .. })
    ));
}

#[test]
fn extension_checks() {
    let ping = |exts: Vec<PingExt>| {
        Message {
            header: header(),
            body: Body::Ping(Gossips {
                entries: vec![],
                extensions: exts,
            }),
        }
        .to_bytes()
    };
    let b = ping(vec![PingExt::Hostname(b"h".to_vec())]);
    assert_eq!(b.len(), 2272);
    // Length not a multiple of 8.
    let mut bad = b.clone();
    bad[2259] = 12;
    assert_eq!(
        Message::decode(&bad),
        Err(DecodeError::Extension {
            index: 0,
            length: 12
        })
    );
    // Longer than what is left.
    bad[2259] = 24;
    assert!(matches!(
        Message::decode(&bad),
        Err(DecodeError::Extension { length: 24, .. })
    ));
    // Zero length.
    bad[2259] = 0;
    assert!(matches!(
        Message::decode(&bad),
        Err(DecodeError::Extension { length: 0, .. })
    ));
    // A hostname filling its 8 bytes with no NUL after it.
    let mut unterminated = b.clone();
    unterminated[2264..2272].copy_from_slice(b"hhhhhhhh");
    assert_eq!(
        Message::decode(&unterminated),
        Err(DecodeError::Unterminated { index: 0 })
    );
    // Count says 2 but only one is there.
    let mut two = b.clone();
    two[2215] = 2;
    assert!(matches!(
        Message::decode(&two),
        Err(DecodeError::Length { .. })
    ));
    // Without EXT_DATA 7.0 does not validate: the bytes are extra.
    let mut nobit = b.clone();
    nobit[2253] = 0;
    assert!(matches!(
        Message::decode(&nobit),
        Err(DecodeError::Length { expected: 2256, .. })
    ));
    // A non-canonical hostname extension is kept raw, so bytes survive.
    let mut odd = b.clone();
    odd[2267] = b'z';
    let m = Message::decode(&odd).unwrap();
    match &m.body {
        Body::Ping(g) => assert!(matches!(g.extensions[0], PingExt::Other { kind: 0, .. })),
        _ => unreachable!(),
    }
    assert_eq!(m.to_bytes(), odd);
}

/// xorshift64*, deterministic.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn decode_never_panics() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let valid: Vec<Vec<u8>> = bodies()
        .into_iter()
        .map(|body| {
            Message {
                header: header(),
                body,
            }
            .to_bytes()
        })
        .collect();
    for round in 0..3000 {
        let mut b = valid[round % valid.len()].clone();
        match rng.next() % 4 {
            0 => b.truncate(rng.next() as usize % (b.len() + 1)),
            1 => {
                for _ in 0..1 + rng.next() % 8 {
                    let i = rng.next() as usize % b.len();
                    b[i] = rng.next() as u8;
                }
            }
            2 => {
                // Mutate the interesting header and payload words.
                for off in [6usize, 7, 9, 13, 14, 15, 2214, 2215, 2253, 2259, 2263] {
                    if off < b.len() && rng.next().is_multiple_of(3) {
                        b[off] = rng.next() as u8;
                    }
                }
                let n = b.len() as u32;
                b[4..8].copy_from_slice(&n.to_be_bytes());
            }
            _ => {
                let n = rng.next() as usize % 5000;
                b = (0..n).map(|_| rng.next() as u8).collect();
                if n >= 8 && rng.next().is_multiple_of(2) {
                    b[..4].copy_from_slice(b"RCmb");
                    b[4..8].copy_from_slice(&(n as u32).to_be_bytes());
                    b[8..10].copy_from_slice(&[0, 1]);
                }
            }
        }
        let _ = frame_len(&b);
        if let Ok(m) = Message::decode(&b) {
            // Whatever decodes must re-decode to the same message.
            assert_eq!(Message::decode(&m.to_bytes()).unwrap(), m);
        }
    }
}
