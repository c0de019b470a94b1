//! The bus links as CLUSTER LINKS shows them, and the send-buffer
//! accounting behind `cluster-link-sendbuf-limit`.
//!
//! The link tasks live on the control executor; the command handlers run
//! on the shards. This table is what both see: each link registers here
//! when it opens, counts the bytes queued for it and not yet written, and
//! leaves when it closes. The cron frees a link whose queue outgrew the
//! limit, as Redis 7.0 does, so one stuck peer cannot hold unbounded
//! memory.

use super::bus::NodeId;
use futures::channel::oneshot;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

struct Entry {
    inbound: bool,
    /// The node at the other end; an inbound link learns it from the
    /// first message of a known sender.
    node: Option<NodeId>,
    created_ms: u64,
    queued: Arc<AtomicUsize>,
    /// Fired to make the link task close the connection.
    close: Option<oneshot::Sender<()>>,
}

/// One line of CLUSTER LINKS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkView {
    pub inbound: bool,
    pub node: NodeId,
    pub created_ms: u64,
    /// Bytes queued and not yet written.
    pub queued: usize,
}

/// What a link task keeps of its registration.
pub struct Registration {
    pub key: u64,
    pub queued: Arc<AtomicUsize>,
    /// Resolves when the link must close (buffer limit).
    pub closed: oneshot::Receiver<()>,
}

#[derive(Default)]
pub struct Links {
    table: Mutex<HashMap<u64, Entry>>,
    next_key: AtomicU64,
    /// `total_cluster_links_buffer_limit_exceeded`.
    limit_exceeded: AtomicU64,
}

impl Links {
    pub fn open(&self, inbound: bool, node: Option<NodeId>, now_ms: u64) -> Registration {
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let queued = Arc::new(AtomicUsize::new(0));
        let (close, closed) = oneshot::channel();
        self.table.lock().unwrap().insert(
            key,
            Entry {
                inbound,
                node,
                created_ms: now_ms,
                queued: queued.clone(),
                close: Some(close),
            },
        );
        Registration {
            key,
            queued,
            closed,
        }
    }

    /// Names the node at the other end of an inbound link, unless it is
    /// already known. A node has one inbound link, as in Redis
    /// (`setClusterNodeToInboundClusterLink`): a peer that reconnected
    /// before we saw its old link close replaces that link, which closes.
    pub fn learn_node(&self, key: u64, node: NodeId) {
        let mut table = self.table.lock().unwrap();
        let Some(e) = table.get_mut(&key) else {
            return;
        };
        if e.node.is_some() {
            return;
        }
        e.node = Some(node);
        // Removing an entry drops its close sender: that link's task ends.
        table.retain(|k, e| *k == key || !e.inbound || e.node != Some(node));
    }

    /// Closes the links of nodes no longer known (forgotten, expired
    /// handshakes, merged into a known node), as `clusterDelNode` frees
    /// both of a node's links.
    pub fn close_unknown(&self, known: impl Fn(&NodeId) -> bool) {
        self.table
            .lock()
            .unwrap()
            .retain(|_, e| e.node.is_none_or(|n| known(&n)));
    }

    /// A handshake node took its real name.
    pub fn rename(&self, from: &NodeId, to: NodeId) {
        for e in self.table.lock().unwrap().values_mut() {
            if e.node.as_ref() == Some(from) {
                e.node = Some(to);
            }
        }
    }

    /// Closes `node`'s link to us (DEBUG CLUSTERLINK KILL FROM).
    pub fn close_inbound(&self, node: &NodeId) {
        self.table
            .lock()
            .unwrap()
            .retain(|_, e| !(e.inbound && e.node.as_ref() == Some(node)));
    }

    /// Forgets a link; its task, if still running, closes the connection.
    pub fn close(&self, key: u64) {
        self.table.lock().unwrap().remove(&key);
    }

    /// Links whose node is known, outbound before inbound per node as
    /// Redis lists them; `known` filters out forgotten nodes.
    pub fn describe(&self, known: impl Fn(&NodeId) -> bool) -> Vec<LinkView> {
        let table = self.table.lock().unwrap();
        let mut v: Vec<LinkView> = table
            .values()
            .filter_map(|e| {
                let node = e.node?;
                known(&node).then(|| LinkView {
                    inbound: e.inbound,
                    node,
                    created_ms: e.created_ms,
                    queued: e.queued.load(Ordering::Relaxed),
                })
            })
            .collect();
        v.sort_by(|a, b| (a.node.as_str(), a.inbound).cmp(&(b.node.as_str(), b.inbound)));
        v
    }

    /// Open links (INFO `cluster_connections`).
    pub fn count(&self) -> usize {
        self.table.lock().unwrap().len()
    }

    /// Bytes queued on every link (INFO `mem_cluster_links` counts them).
    pub fn queued_bytes(&self) -> usize {
        let table = self.table.lock().unwrap();
        table
            .values()
            .map(|e| e.queued.load(Ordering::Relaxed))
            .sum()
    }

    /// Closes every link whose queue holds more than `limit` bytes
    /// (0: no limit). Returns how many it closed.
    pub fn enforce_limit(&self, limit: usize) -> usize {
        if limit == 0 {
            return 0;
        }
        let mut closed = 0;
        for e in self.table.lock().unwrap().values_mut() {
            let used = e.queued.load(Ordering::Relaxed);
            if used > limit {
                if let Some(tx) = e.close.take() {
                    crate::warning!(
                        "Freeing cluster link({} node {}, used memory: {used}) due to exceeding send buffer memory limit.",
                        if e.inbound { "from" } else { "to" },
                        e.node.map_or("<unknown>".to_string(), |n| n.as_str().to_string())
                    );
                    let _ = tx.send(());
                    closed += 1;
                }
            }
        }
        self.limit_exceeded
            .fetch_add(closed as u64, Ordering::Relaxed);
        closed
    }

    pub fn limit_exceeded(&self) -> u64 {
        self.limit_exceeded.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_show_once_their_node_is_known_and_close_over_the_limit() {
        let links = Links::default();
        let a = NodeId::random();
        let b = NodeId::random();
        let out = links.open(false, Some(a), 10);
        let mut inb = links.open(true, None, 20);
        assert_eq!(links.describe(|_| true).len(), 1);
        links.learn_node(inb.key, a);
        links.learn_node(inb.key, b); // the first name sticks
        let v = links.describe(|_| true);
        assert_eq!(v.len(), 2);
        assert!(!v[0].inbound && v[1].inbound && v[1].node == a);
        assert!(links.describe(|n| *n != a).is_empty());

        inb.queued.store(5000, Ordering::Relaxed);
        assert_eq!(links.queued_bytes(), 5000);
        assert_eq!(links.enforce_limit(0), 0);
        assert_eq!(links.enforce_limit(4096), 1);
        assert_eq!(inb.closed.try_recv(), Ok(Some(())));
        // Fired once only; the outbound link stays.
        assert_eq!(links.enforce_limit(4096), 0);
        assert_eq!(links.limit_exceeded(), 1);
        links.close(inb.key);
        links.close(out.key);
        assert!(links.describe(|_| true).is_empty());
    }

    #[test]
    fn a_node_keeps_one_inbound_link_and_a_forgotten_node_none() {
        let links = Links::default();
        let a = NodeId::random();
        let mut old = links.open(true, None, 10);
        let new = links.open(true, None, 20);
        links.learn_node(old.key, a);
        links.learn_node(new.key, a);
        // The peer reconnected: its older link goes (and its task ends).
        assert_eq!(old.closed.try_recv(), Err(oneshot::Canceled));
        let v = links.describe(|_| true);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].created_ms, 20);

        let mut out = links.open(false, Some(a), 30);
        links.close_unknown(|n| *n != a);
        assert_eq!(out.closed.try_recv(), Err(oneshot::Canceled));
        assert_eq!(links.count(), 0);
    }
}
