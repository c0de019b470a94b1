//! nodes.conf: CLUSTER NODES lines without handshake nodes, then
//! `vars currentEpoch <n> lastVoteEpoch <n>`.
//!
//! Written atomically (temp file, fsync, rename, fsync of the directory)
//! so a crash leaves the old or the new file, never a torn one; the file
//! is flock'ed for the life of the process so a second server on the same
//! file refuses to start, as Redis.

use super::bus::parse_flags_text;
use super::bus::{flags, NodeId};
use super::describe::nodes_text;
use super::node::Node;
use super::state::ClusterState;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// The open, locked nodes.conf.
pub struct NodesConf {
    path: PathBuf,
    lock: Option<File>,
}

impl NodesConf {
    /// Opens (creating it empty if missing) and locks `path`.
    pub fn open(path: &Path) -> Result<NodesConf, String> {
        let mut conf = NodesConf {
            path: path.to_path_buf(),
            lock: None,
        };
        conf.relock()?;
        Ok(conf)
    }

    fn relock(&mut self) -> Result<(), String> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&self.path)
            .map_err(|e| {
                format!(
                    "Can't open {} in order to acquire a lock: {e}",
                    self.path.display()
                )
            })?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                format!(
                    "Sorry, the cluster configuration file {} is already used by a different Redis Cluster node. Please make sure that different nodes use different cluster configuration files.",
                    self.path.display()
                )
            } else {
                format!("Impossible to lock {}: {e}", self.path.display())
            });
        }
        self.lock = Some(f);
        Ok(())
    }

    /// The state the file holds; None when it is empty (first start).
    pub fn load(&self, now: u64) -> Result<Option<ClusterState>, String> {
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| format!("Reading {}: {e}", self.path.display()))?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        parse(&text, now).map(Some).map_err(|e| {
            format!(
                "Unrecoverable error: corrupted cluster config file \"{}\": {e}",
                self.path.display()
            )
        })
    }

    /// Writes the state; `fsync` as Redis's `clusterSaveConfig(do_fsync)`
    /// (the rename is always made durable: a torn file is worse).
    pub fn save(&mut self, st: &ClusterState, now: u64, fsync: bool) -> Result<(), String> {
        let text = render(st, now);
        let tmp = self
            .path
            .with_extension(format!("tmp-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            if fsync {
                f.sync_data()?;
            }
            std::fs::rename(&tmp, &self.path)?;
            if fsync {
                let dir = self
                    .path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                File::open(dir)?.sync_all()?;
            }
            Ok(())
        };
        write().map_err(|e| {
            format!(
                "Could not save the cluster configuration {}: {e}",
                self.path.display()
            )
        })?;
        self.relock()
    }
}

/// The file's text for `st` (what `save` writes and `parse` reads).
pub fn render(st: &ClusterState, now: u64) -> String {
    let mut text = nodes_text(st, now, true);
    text.push_str(&format!(
        "vars currentEpoch {} lastVoteEpoch {}\n",
        st.current_epoch, st.last_vote_epoch
    ));
    text
}

fn parse_u64(s: &str, what: &str) -> Result<u64, String> {
    s.parse().map_err(|_| format!("bad {what} '{s}'"))
}

/// Parses the file text (`clusterLoadConfig`).
pub fn parse(text: &str, now: u64) -> Result<ClusterState, String> {
    let mut nodes: Vec<Node> = Vec::new();
    let mut masters: Vec<(usize, NodeId)> = Vec::new();
    let mut slots: Vec<(u16, u16, usize)> = Vec::new();
    let mut open: Vec<(u16, bool, NodeId)> = Vec::new();
    let mut vars = (0u64, 0u64);
    let mut myself = None;
    for (lineno, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() {
            continue;
        }
        let at = |e: String| format!("line {}: {e}", lineno + 1);
        if f[0] == "vars" {
            let mut i = 1;
            while i + 1 < f.len() {
                match f[i] {
                    "currentEpoch" => vars.0 = parse_u64(f[i + 1], "currentEpoch").map_err(at)?,
                    "lastVoteEpoch" => vars.1 = parse_u64(f[i + 1], "lastVoteEpoch").map_err(at)?,
                    other => crate::warning!("Skipping unknown cluster config variable '{other}'"),
                }
                i += 2;
            }
            continue;
        }
        if f.len() < 8 {
            return Err(at("fewer than 8 fields".into()));
        }
        let id =
            NodeId::parse(f[0].as_bytes()).ok_or_else(|| at(format!("bad node id '{}'", f[0])))?;
        let fl = parse_flags_text(f[2]).ok_or_else(|| at(format!("unknown flags '{}'", f[2])))?;
        let mut n = Node::new(id, fl, now);
        // ip:port@cport[,hostname]; the ip may hold ':' (IPv6).
        let (addr, hostname) = f[1].split_once(',').unwrap_or((f[1], ""));
        let (hostport, cport) = match addr.split_once('@') {
            Some((h, c)) => (h, Some(c)),
            None => (addr, None),
        };
        let colon = hostport
            .rfind(':')
            .ok_or_else(|| at(format!("bad address '{}'", f[1])))?;
        n.ip = hostport[..colon].to_string();
        n.port = hostport[colon + 1..]
            .parse()
            .map_err(|_| at(format!("bad port in '{}'", f[1])))?;
        n.cport = match cport {
            Some(c) => c
                .parse()
                .map_err(|_| at(format!("bad bus port in '{}'", f[1])))?,
            None => n.port.wrapping_add(10000),
        };
        n.hostname = hostname.to_string();
        if f[3] != "-" {
            let m = NodeId::parse(f[3].as_bytes())
                .ok_or_else(|| at(format!("bad master id '{}'", f[3])))?;
            masters.push((nodes.len(), m));
        }
        // Non-zero ping/pong times are re-stamped "now", as Redis.
        n.ping_sent = if f[4] != "0" { now } else { 0 };
        n.pong_received = if f[5] != "0" { now } else { 0 };
        n.config_epoch = parse_u64(f[6], "config epoch").map_err(at)?;
        if fl & flags::MYSELF != 0 {
            if myself.is_some() {
                return Err(at("two myself lines".into()));
            }
            myself = Some(id);
        }
        for word in &f[8..] {
            if let Some(inner) = word.strip_prefix('[').and_then(|w| w.strip_suffix(']')) {
                let (slot, importing, other) = if let Some((s, o)) = inner.split_once("->-") {
                    (s, false, o)
                } else if let Some((s, o)) = inner.split_once("-<-") {
                    (s, true, o)
                } else {
                    return Err(at(format!("bad open slot '{word}'")));
                };
                let slot: u16 = slot.parse().map_err(|_| at(format!("bad slot '{word}'")))?;
                let other = NodeId::parse(other.as_bytes())
                    .ok_or_else(|| at(format!("bad node in '{word}'")))?;
                open.push((slot, importing, other));
                continue;
            }
            let (a, b) = word.split_once('-').unwrap_or((word, word));
            let a: u16 = a.parse().map_err(|_| at(format!("bad slot '{word}'")))?;
            let b: u16 = b.parse().map_err(|_| at(format!("bad slot '{word}'")))?;
            if a > b || b as usize >= crate::slot::SLOTS {
                return Err(at(format!("bad slot range '{word}'")));
            }
            slots.push((a, b, nodes.len()));
        }
        nodes.push(n);
    }
    let myself = myself.ok_or("no myself line")?;
    let mut st = ClusterState::fresh(myself, now);
    st.nodes.clear();
    st.current_epoch = vars.0;
    st.last_vote_epoch = vars.1;
    for (i, m) in &masters {
        nodes[*i].master = Some(*m);
    }
    let ids: Vec<NodeId> = nodes.iter().map(|n| n.id).collect();
    for n in nodes {
        st.nodes.insert(n.id, n);
    }
    for (_, m) in &masters {
        if !st.nodes.contains_key(m) {
            st.nodes.insert(*m, Node::new(*m, 0, now));
        }
        // Had replicas: a replica-migration target if orphaned (as
        // `clusterNodeAddSlave` on load).
        if let Some(n) = st.nodes.get_mut(m) {
            n.flags |= flags::MIGRATE_TO;
        }
    }
    for (a, b, i) in slots {
        for s in a..=b {
            st.set_slot(s, Some(ids[i]));
        }
    }
    for (slot, importing, other) in open {
        if importing {
            st.importing.insert(slot, other);
        } else {
            st.migrating.insert(slot, other);
        }
    }
    // A replica's stored epoch is its master's: reset it; the current
    // epoch is at least the greatest epoch found.
    for n in st.nodes.values_mut() {
        if n.is_replica() {
            n.config_epoch = 0;
        }
    }
    st.current_epoch = st.current_epoch.max(st.max_config_epoch());
    st.me_mut().link_up = true;
    st.save = super::state::SaveNeed::None;
    Ok(st)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
e6bbfd8d12fa053e6f8d37d693a21426f7ba32ea 127.0.0.1:32002@42002 master - 0 1795587028593 2 connected 5461-10922
f7f62bbbeaa01d42f7e8cc86388f69c42de8d577 127.0.0.1:32001@42001,host-a myself,master - 0 1795587027000 1 connected 0-5460 [17->-e6bbfd8d12fa053e6f8d37d693a21426f7ba32ea]
26c482d4f1d9691069637d6e1a1d6b90747bfbc0 127.0.0.1:32005@42005 slave f7f62bbbeaa01d42f7e8cc86388f69c42de8d577 0 1795587028593 1 connected
vars currentEpoch 3 lastVoteEpoch 0
";

    #[test]
    fn parses_and_regenerates() {
        let st = parse(SAMPLE, 5000).unwrap();
        assert_eq!(
            st.myself.as_str(),
            "f7f62bbbeaa01d42f7e8cc86388f69c42de8d577"
        );
        assert_eq!(st.current_epoch, 3);
        assert_eq!(st.me().slot_count(), 5461);
        assert_eq!(st.me().hostname, "host-a");
        assert_eq!(st.migrating.len(), 1);
        let replica = st
            .lookup(b"26c482d4f1d9691069637d6e1a1d6b90747bfbc0")
            .unwrap();
        assert_eq!(replica.master, Some(st.myself));
        assert_eq!(replica.config_epoch, 0);
        let text = nodes_text(&st, 5000, true);
        assert!(text.contains("26c482d4f1d9691069637d6e1a1d6b90747bfbc0 127.0.0.1:32005@42005 slave f7f62bbbeaa01d42f7e8cc86388f69c42de8d577 0 5000 1 disconnected\n"));
        assert!(text.contains(" myself,master - 0 5000 1 connected 0-5460 [17->-e6bbfd8d12fa053e6f8d37d693a21426f7ba32ea]\n"));
    }

    #[test]
    fn rejects_damage() {
        assert!(parse("vars currentEpoch 0 lastVoteEpoch 0\n", 0).is_err());
        let bad_flag = SAMPLE.replace("slave f7", "slavex f7");
        assert!(parse(&bad_flag, 0).err().unwrap().contains("line 3"));
        assert!(parse(&SAMPLE.replace("0-5460", "0-99999"), 0).is_err());
    }

    #[test]
    fn save_load_and_lock() {
        let dir = std::env::temp_dir().join(format!("shardis-nodesconf-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("nodes.conf");
        let _ = std::fs::remove_file(&path);
        let mut conf = NodesConf::open(&path).unwrap();
        assert!(conf.load(1).unwrap().is_none());
        let st = parse(SAMPLE, 5000).unwrap();
        conf.save(&st, 5000, true).unwrap();
        assert!(NodesConf::open(&path)
            .err()
            .unwrap()
            .contains("already used"));
        let back = conf.load(6000).unwrap().unwrap();
        assert_eq!(back.myself, st.myself);
        assert_eq!(back.nodes.len(), 3);
        drop(conf);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
