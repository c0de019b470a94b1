//! Captures real cluster bus messages from redis-server 7.0 into
//! `tests/golden/cluster_bus/` (golden files for `tests/cluster_bus_golden.rs`).
//!
//! Usage: `cargo run --example capture_cluster_bus [out_dir]`
//! (needs `redis-server` 7.0 on PATH; uses ports 7601-7605, their bus
//! ports 17601-17605, and 7690/7691 for the fake node).
//!
//! This program is a fake cluster node built on `shardis::cluster::bus`:
//! it listens on bus port 7691 (announcing client port 7690), gets MEETed
//! by a real node, answers every PING/MEET with a PONG encoded by our
//! codec, and records every message real nodes send it. It then drives a
//! real 5-node cluster (3 masters with slots, 1 replica, 1 node announcing
//! a hostname) through MEET, gossip, PUBLISH, SPUBLISH, a failure
//! (SIGSTOP) with automatic failover, a stale slot claim (UPDATE) and a
//! manual failover request (MFSTART), saving one message of each kind as
//! `<name>.bin` with facts known from the setup (not from the codec) in
//! `<name>.txt`. It also checks that real nodes accepted the fake (listed
//! without `handshake`), which proves they accepted our PONG encoding.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use shardis::cluster::bus::flags::*;
use shardis::cluster::bus::*;

const REAL: [u16; 5] = [7601, 7602, 7603, 7604, 7605];
const HOSTNAME_NODE: u16 = 7605;
const HOSTNAME: &str = "host-a.example";
const FAKE_PORT: u16 = 7690;
const FAKE_BUS: u16 = 7691;

// ---------------------------------------------------------------- servers

struct Servers {
    dir: PathBuf,
    children: Vec<(u16, Child)>,
}

impl Servers {
    fn start(&mut self, port: u16, extra: &[&str]) {
        let d = self.dir.to_str().unwrap();
        let mut c = Command::new("redis-server");
        c.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "1000"])
            .args(["--cluster-config-file", &format!("{d}/nodes-{port}.conf")])
            .args(["--dir", d, "--save", "", "--appendonly", "no"])
            .args(["--repl-diskless-sync-delay", "0"])
            .args(["--logfile", &format!("{d}/{port}.log")])
            .args(extra)
            .stdout(Stdio::null());
        self.children
            .push((port, c.spawn().expect("redis-server on PATH")));
    }

    fn signal(&self, port: u16, sig: i32) {
        let (_, c) = self.children.iter().find(|(p, _)| *p == port).unwrap();
        // SAFETY: plain kill(2) on a child we spawned.
        unsafe { libc::kill(c.id() as i32, sig) };
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for (_, c) in &mut self.children {
            // SAFETY: as above; a stopped child must resume to die cleanly.
            unsafe { libc::kill(c.id() as i32, libc::SIGCONT) };
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One RESP command on a fresh connection; the reply as text (arrays
/// joined by newlines), `Err` for an error reply.
fn cmd(port: u16, args: &[&str]) -> Result<String, String> {
    let s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut out = format!("*{}\r\n", args.len());
    for a in args {
        out += &format!("${}\r\n{a}\r\n", a.len());
    }
    (&s).write_all(out.as_bytes()).map_err(|e| e.to_string())?;
    read_reply(&mut BufReader::new(s))
}

fn read_reply(r: &mut BufReader<TcpStream>) -> Result<String, String> {
    let mut line = String::new();
    r.read_line(&mut line).map_err(|e| e.to_string())?;
    let line = line.trim_end();
    let (tag, rest) = line.split_at(1.min(line.len()));
    match tag {
        "+" | ":" => Ok(rest.to_string()),
        "-" => Err(rest.to_string()),
        "$" => {
            let n: i64 = rest.parse().map_err(|_| line.to_string())?;
            if n < 0 {
                return Ok(String::new());
            }
            let mut b = vec![0; n as usize + 2];
            r.read_exact(&mut b).map_err(|e| e.to_string())?;
            b.truncate(n as usize);
            Ok(String::from_utf8_lossy(&b).into_owned())
        }
        "*" => {
            let n: i64 = rest.parse().map_err(|_| line.to_string())?;
            let items: Result<Vec<_>, _> = (0..n.max(0)).map(|_| read_reply(r)).collect();
            Ok(items?.join("\n"))
        }
        _ => Err(format!("bad reply {line:?}")),
    }
}

fn ok(port: u16, args: &[&str]) -> String {
    cmd(port, args).unwrap_or_else(|e| panic!("{port} {args:?}: {e}"))
}

/// Polls `f` every 100 ms until it returns `Some`, or panics after `secs`.
fn wait<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(100));
    }
}

/// The `CLUSTER NODES` line of `id` as seen by `port`.
fn node_line(port: u16, id: &NodeId) -> Option<String> {
    let nodes = cmd(port, &["CLUSTER", "NODES"]).ok()?;
    nodes
        .lines()
        .find(|l| l.starts_with(id.as_str()))
        .map(str::to_string)
}

// ------------------------------------------------------------- fake node

struct Rec {
    bytes: Vec<u8>,
    msg: Message,
}

struct Fake {
    id: NodeId,
    /// flags, slaveof, myslots, configEpoch the fake currently claims.
    claim: Mutex<(u16, Option<NodeId>, SlotBitmap, u64)>,
    current_epoch: AtomicU64,
    log: Mutex<Vec<Rec>>,
}

impl Fake {
    fn header(&self) -> Header {
        let (flags, slaveof, myslots, config_epoch) = self.claim.lock().unwrap().clone();
        Header {
            port: FAKE_PORT,
            current_epoch: self.current_epoch.load(Ordering::SeqCst),
            config_epoch,
            offset: 0,
            sender: self.id,
            myslots,
            slaveof,
            myip: Vec::new(),
            pport: 0,
            cport: FAKE_BUS,
            flags,
            state: 0,
            mflags: 0,
        }
    }

    fn message(&self, body: Body) -> Vec<u8> {
        Message {
            header: self.header(),
            body,
        }
        .to_bytes()
    }

    fn set_claim(&self, flags: u16, slaveof: Option<NodeId>, slots: SlotBitmap, epoch: u64) {
        *self.claim.lock().unwrap() = (flags, slaveof, slots, epoch);
    }

    /// Reads frames from one link, records them, answers PING/MEET.
    fn serve_link(self: Arc<Fake>, mut s: TcpStream) {
        let mut buf = Vec::new();
        let mut chunk = vec![0; 65536];
        loop {
            while let Ok(Some(n)) = frame_len(&buf) {
                if buf.len() < n {
                    break;
                }
                let frame: Vec<u8> = buf.drain(..n).collect();
                let msg = match Message::decode(&frame) {
                    Ok(m) => m,
                    Err(e) => panic!("real node sent a frame we cannot decode: {e}"),
                };
                self.current_epoch
                    .fetch_max(msg.header.current_epoch, Ordering::SeqCst);
                if let Body::Ping(_) | Body::Meet(_) = msg.body {
                    let pong = self.message(Body::Pong(Gossips::default()));
                    if s.write_all(&pong).is_err() {
                        return;
                    }
                }
                self.log.lock().unwrap().push(Rec { bytes: frame, msg });
            }
            if let Err(e) = frame_len(&buf) {
                panic!("bad framing from a real node: {e}");
            }
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    fn seq(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// The first message from index `from` on matching `f`.
    fn wait_msg(
        &self,
        what: &str,
        from: usize,
        f: impl Fn(&Message) -> bool,
    ) -> (Vec<u8>, Message) {
        wait(what, 30, || {
            let log = self.log.lock().unwrap();
            log[from.min(log.len())..]
                .iter()
                .find(|r| f(&r.msg))
                .map(|r| (r.bytes.clone(), r.msg.clone()))
        })
    }
}

fn gossips(m: &Message) -> Option<&Gossips> {
    match &m.body {
        Body::Ping(g) | Body::Pong(g) | Body::Meet(g) => Some(g),
        _ => None,
    }
}

// ---------------------------------------------------------------- capture

struct Out {
    dir: PathBuf,
    saved: Vec<String>,
}

impl Out {
    /// Saves `bytes` as `<name>.bin` and the setup facts as `<name>.txt`.
    fn save(&mut self, name: &str, bytes: &[u8], facts: &[(&str, String)]) {
        let mut txt = format!("totlen={}\n", bytes.len());
        for (k, v) in facts {
            txt += &format!("{k}={v}\n");
        }
        std::fs::write(self.dir.join(format!("{name}.bin")), bytes).unwrap();
        std::fs::write(self.dir.join(format!("{name}.txt")), txt).unwrap();
        println!("saved {name}.bin ({} bytes)", bytes.len());
        self.saved.push(name.to_string());
    }
}

fn sender_facts(port: u16, ids: &BTreeMap<u16, NodeId>, kind: u16) -> Vec<(&'static str, String)> {
    vec![
        ("type", kind.to_string()),
        ("sender", ids[&port].to_string()),
        ("port", port.to_string()),
        ("cport", (port + 10000).to_string()),
    ]
}

fn main() {
    let out_dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "tests/golden/cluster_bus".into());
    std::fs::create_dir_all(&out_dir).unwrap();
    let tmp = std::env::temp_dir().join(format!("shardis-bus-capture-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for p in REAL.iter().flat_map(|&p| [p, p + 10000]).chain([FAKE_BUS]) {
        assert!(
            TcpStream::connect(("127.0.0.1", p)).is_err(),
            "port {p} is in use"
        );
    }
    let result = std::panic::catch_unwind(|| run(Path::new(&out_dir), &tmp));
    match result {
        Ok(()) => {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        Err(_) => {
            eprintln!("capture failed; server logs kept in {}", tmp.display());
            std::process::exit(1);
        }
    }
}

fn run(out_dir: &Path, tmp: &Path) {
    let mut out = Out {
        dir: out_dir.to_path_buf(),
        saved: Vec::new(),
    };
    let fake = Arc::new(Fake {
        id: NodeId::random(),
        claim: Mutex::new((MASTER | MYSELF, None, SlotBitmap::new(), 0)),
        current_epoch: AtomicU64::new(0),
        log: Mutex::new(Vec::new()),
    });
    let listener = TcpListener::bind(("127.0.0.1", FAKE_BUS)).unwrap();
    let f = fake.clone();
    thread::spawn(move || {
        for s in listener.incoming().flatten() {
            let f = f.clone();
            thread::spawn(move || f.serve_link(s));
        }
    });

    let mut servers = Servers {
        dir: tmp.to_path_buf(),
        children: Vec::new(),
    };
    for &p in &REAL {
        let extra: &[&str] = if p == HOSTNAME_NODE {
            &["--cluster-announce-hostname", HOSTNAME]
        } else {
            &[]
        };
        servers.start(p, extra);
    }
    let mut ids = BTreeMap::new();
    for &p in &REAL {
        let id = wait("redis-server to start", 10, || {
            cmd(p, &["CLUSTER", "MYID"]).ok()
        });
        ids.insert(p, NodeId::parse(id.as_bytes()).expect("a node id"));
    }
    let fake_id = fake.id.to_string();
    println!("fake node {fake_id}, real nodes {ids:?}");

    // MEET: the real node connects to us, sends MEET, we PONG.
    let from = fake.seq();
    ok(
        7601,
        &[
            "CLUSTER",
            "MEET",
            "127.0.0.1",
            &FAKE_PORT.to_string(),
            &FAKE_BUS.to_string(),
        ],
    );
    let (b, _) = fake.wait_msg("MEET from 7601", from, |m| {
        m.type_code() == TYPE_MEET && m.header.port == 7601
    });
    let mut facts = sender_facts(7601, &ids, TYPE_MEET);
    facts.push(("count", u16::from_be_bytes([b[14], b[15]]).to_string()));
    out.save("meet", &b, &facts);
    let line = wait("7601 to accept the fake", 10, || {
        node_line(7601, &fake.id).filter(|l| !l.contains("handshake"))
    });
    println!("ACCEPTED by 7601 (our PONG completed the handshake): {line}");
    assert!(line.contains(&format!("127.0.0.1:{FAKE_PORT}@{FAKE_BUS} master")));

    // Our PING on our own outbound link, and the PONG it gets.
    let from = fake.seq();
    let mut s = TcpStream::connect(("127.0.0.1", 17601)).unwrap();
    s.write_all(&fake.message(Body::Ping(Gossips::default())))
        .unwrap();
    let f = fake.clone();
    thread::spawn(move || f.serve_link(s));
    let (b, _) = fake.wait_msg("PONG from 7601", from, |m| {
        m.type_code() == TYPE_PONG && m.header.port == 7601
    });
    out.save("pong", &b, &sender_facts(7601, &ids, TYPE_PONG));

    // The hostname node MEETs us itself (nodes learned by gossip get
    // PINGs, not MEETs), before it knows anyone else.
    let from = fake.seq();
    ok(
        HOSTNAME_NODE,
        &[
            "CLUSTER",
            "MEET",
            "127.0.0.1",
            &FAKE_PORT.to_string(),
            &FAKE_BUS.to_string(),
        ],
    );
    let (b, _) = fake.wait_msg("MEET with hostname", from, |m| {
        m.type_code() == TYPE_MEET && m.header.port == HOSTNAME_NODE
    });
    let mut facts = sender_facts(HOSTNAME_NODE, &ids, TYPE_MEET);
    facts.push(("count", u16::from_be_bytes([b[14], b[15]]).to_string()));
    facts.push(("hostname", HOSTNAME.into()));
    out.save("meet_hostname", &b, &facts);

    // The rest of the cluster.
    for p in &REAL[1..] {
        ok(7601, &["CLUSTER", "MEET", "127.0.0.1", &p.to_string()]);
    }
    for &p in &REAL {
        wait("every node to know 6 nodes", 20, || {
            let info = cmd(p, &["CLUSTER", "INFO"]).ok()?;
            info.contains("cluster_known_nodes:6").then_some(())
        });
        let line = wait("every node to accept the fake", 20, || {
            node_line(p, &fake.id).filter(|l| !l.contains("handshake"))
        });
        println!("{p} lists the fake: {line}");
    }
    ok(7601, &["CLUSTER", "ADDSLOTSRANGE", "0", "5460"]);
    ok(7602, &["CLUSTER", "ADDSLOTSRANGE", "5461", "10922"]);
    ok(7603, &["CLUSTER", "ADDSLOTSRANGE", "10923", "16383"]);
    ok(7604, &["CLUSTER", "REPLICATE", ids[&7601].as_str()]);
    for &p in &REAL {
        wait("cluster_state:ok", 20, || {
            let info = cmd(p, &["CLUSTER", "INFO"]).ok()?;
            info.contains("cluster_state:ok").then_some(())
        });
    }
    wait("the replica to sync", 20, || {
        let info = cmd(7604, &["INFO", "replication"]).ok()?;
        info.contains("master_link_status:up").then_some(())
    });
    let from = fake.seq();
    let (b, _) = fake.wait_msg("PING with gossip from 7602", from, |m| {
        m.type_code() == TYPE_PING
            && m.header.port == 7602
            && m.header.myslots.count() == 5462
            && gossips(m).unwrap().entries.len() >= 2
    });
    let mut facts = sender_facts(7602, &ids, TYPE_PING);
    facts.push(("slots", "5461-10922".into()));
    facts.push(("count", u16::from_be_bytes([b[14], b[15]]).to_string()));
    out.save("ping_gossip", &b, &facts);

    let (b, _) = fake.wait_msg("PING from the replica", from, |m| {
        m.type_code() == TYPE_PING && m.header.port == 7604 && m.header.slaveof.is_some()
    });
    let mut facts = sender_facts(7604, &ids, TYPE_PING);
    facts.push(("slaveof", ids[&7601].to_string()));
    facts.push(("slots", "0-5460".into()));
    facts.push(("flags", "myself,slave".into()));
    out.save("ping_replica", &b, &facts);

    let (b, _) = fake.wait_msg("PING with hostname", 0, |m| {
        m.type_code() == TYPE_PING
            && m.header.port == HOSTNAME_NODE
            && !gossips(m).unwrap().extensions.is_empty()
    });
    let mut facts = sender_facts(HOSTNAME_NODE, &ids, TYPE_PING);
    facts.push(("hostname", HOSTNAME.into()));
    out.save("ping_hostname", &b, &facts);

    // PUBLISH goes to every node.
    let from = fake.seq();
    ok(7602, &["PUBLISH", "chan1", "hello"]);
    let (b, _) = fake.wait_msg("PUBLISH", from, |m| m.type_code() == TYPE_PUBLISH);
    let mut facts = sender_facts(7602, &ids, TYPE_PUBLISH);
    facts.push(("channel", "chan1".into()));
    facts.push(("message", "hello".into()));
    out.save("publish", &b, &facts);

    // SPUBLISH goes to the shard only: become a replica of 7602 first.
    let (_, last) = fake.wait_msg("a message from 7602", from, |m| m.header.port == 7602);
    fake.set_claim(
        SLAVE | MYSELF,
        Some(ids[&7602]),
        last.header.myslots.clone(),
        last.header.config_epoch,
    );
    wait("7602 to see the fake as its replica", 10, || {
        node_line(7602, &fake.id).filter(|l| l.contains(&format!("slave {}", ids[&7602])))
    });
    let channel = (0..)
        .map(|i| format!("chan{i}"))
        .find(|c| (5461..=10922).contains(&shardis::slot::key_slot(c.as_bytes())))
        .unwrap();
    let from = fake.seq();
    ok(7602, &["SPUBLISH", &channel, "shard-hello"]);
    let (b, _) = fake.wait_msg("PUBLISHSHARD", from, |m| m.type_code() == TYPE_PUBLISHSHARD);
    let mut facts = sender_facts(7602, &ids, TYPE_PUBLISHSHARD);
    facts.push(("channel", channel.clone()));
    facts.push(("message", "shard-hello".into()));
    out.save("publishshard", &b, &facts);
    fake.set_claim(MASTER | MYSELF, None, SlotBitmap::new(), 0);
    wait("7602 to see the fake as a master again", 10, || {
        node_line(7602, &fake.id).filter(|l| l.contains(" master - "))
    });

    // FAIL and the replica's election.
    let from = fake.seq();
    servers.signal(7601, libc::SIGSTOP);
    let (b, m) = fake.wait_msg(
        "FAIL",
        from,
        |m| matches!(m.body, Body::Fail { node } if node == ids[&7601]),
    );
    let sender = m.header.port;
    let mut facts = sender_facts(sender, &ids, TYPE_FAIL);
    facts.push(("node", ids[&7601].to_string()));
    out.save("fail", &b, &facts);
    let (b, _) = fake.wait_msg("FAILOVER_AUTH_REQUEST", from, |m| {
        m.type_code() == TYPE_FAILOVER_AUTH_REQUEST
    });
    let mut facts = sender_facts(7604, &ids, TYPE_FAILOVER_AUTH_REQUEST);
    facts.push(("slaveof", ids[&7601].to_string()));
    facts.push(("slots", "0-5460".into()));
    out.save("auth_request", &b, &facts);
    wait("7604 to be promoted", 20, || {
        node_line(7602, &ids[&7604]).filter(|l| l.contains(" master - "))
    });

    // UPDATE: claim slot 0 with configEpoch 0, older than 7604's.
    let mut slot0 = SlotBitmap::new();
    slot0.set(0);
    let from = fake.seq();
    fake.set_claim(MASTER | MYSELF, None, slot0, 0);
    let (b, m) = fake.wait_msg("UPDATE", from, |m| m.type_code() == TYPE_UPDATE);
    fake.set_claim(MASTER | MYSELF, None, SlotBitmap::new(), 0);
    let mut facts = sender_facts(m.header.port, &ids, TYPE_UPDATE);
    facts.push(("node", ids[&7604].to_string()));
    facts.push(("update_slots", "0-5460".into()));
    out.save("update", &b, &facts);
    servers.signal(7601, libc::SIGCONT);

    // MFSTART: the hostname node becomes our replica and asks us to pause.
    ok(HOSTNAME_NODE, &["CLUSTER", "REPLICATE", &fake_id]);
    let from = fake.seq();
    wait("CLUSTER FAILOVER to be accepted", 10, || {
        cmd(HOSTNAME_NODE, &["CLUSTER", "FAILOVER"]).ok()
    });
    let (b, _) = fake.wait_msg("MFSTART", from, |m| m.type_code() == TYPE_MFSTART);
    let mut facts = sender_facts(HOSTNAME_NODE, &ids, TYPE_MFSTART);
    facts.push(("slaveof", fake_id.clone()));
    out.save("mfstart", &b, &facts);

    // FAILOVER_AUTH_ACK: the fake becomes a replica of 7603, 7603 fails,
    // the fake asks the masters for votes and they answer.
    let from = fake.seq();
    let (_, last) = fake.wait_msg("a message from 7603", from, |m| m.header.port == 7603);
    fake.set_claim(
        SLAVE | MYSELF,
        Some(ids[&7603]),
        last.header.myslots.clone(),
        last.header.config_epoch,
    );
    for p in [7602, 7604] {
        wait("the masters to see the fake as 7603's replica", 10, || {
            node_line(p, &fake.id).filter(|l| l.contains(&format!("slave {}", ids[&7603])))
        });
    }
    servers.signal(7603, libc::SIGSTOP);
    for p in [7602, 7604] {
        wait("7603 to be marked FAIL", 20, || {
            node_line(p, &ids[&7603]).filter(|l| l.contains(" master,fail "))
        });
    }
    let from = fake.seq();
    fake.current_epoch.fetch_add(1, Ordering::SeqCst);
    let request = fake.message(Body::FailoverAuthRequest);
    for p in [7602, 7604] {
        let mut s = TcpStream::connect(("127.0.0.1", p + 10000)).unwrap();
        s.write_all(&request).unwrap();
        let f = fake.clone();
        thread::spawn(move || f.serve_link(s));
    }
    let (b, m) = fake.wait_msg("FAILOVER_AUTH_ACK", from, |m| {
        m.type_code() == TYPE_FAILOVER_AUTH_ACK
    });
    let mut facts = sender_facts(m.header.port, &ids, TYPE_FAILOVER_AUTH_ACK);
    let slots = if m.header.port == 7602 {
        "5461-10922"
    } else {
        "0-5460"
    };
    facts.push(("slots", slots.into()));
    facts.push(("flags", "myself,master".into()));
    out.save("auth_ack", &b, &facts);
    servers.signal(7603, libc::SIGCONT);

    for &p in &REAL[1..] {
        if let Some(l) = node_line(p, &fake.id) {
            println!("finally {p} lists the fake: {l}");
        }
    }
    let n = fake.log.lock().unwrap().len();
    println!(
        "{n} messages received and decoded; saved: {}",
        out.saved.join(" ")
    );
    drop(servers);
}
