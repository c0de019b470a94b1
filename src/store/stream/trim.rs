//! Trimming from the head (streamTrim): whole nodes while they fit the
//! goal, then, unless approximate, entries flagged deleted one by one in
//! the first node that straddles it.

use super::{Stream, StreamId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrimBy {
    MaxLen(u64),
    MinId(StreamId),
}

/// A trimming goal: MAXLEN/MINID, `~`, LIMIT (0: none).
#[derive(Clone, Copy, Debug)]
pub struct Trim {
    pub by: TrimBy,
    pub approx: bool,
    pub limit: u64,
}

impl Stream {
    /// Trims as Redis's streamTrim; returns the entries removed.
    pub fn trim(&mut self, t: &Trim) -> u64 {
        let mut deleted = 0u64;
        let keys: Vec<StreamId> = self.nodes.keys().copied().collect();
        for key in keys {
            if let TrimBy::MaxLen(max) = t.by {
                if self.length <= max {
                    break;
                }
            }
            let node = self.nodes.get_mut(&key).expect("a node");
            let entries = node.live as u64;
            if t.limit != 0 && deleted + entries > t.limit {
                break;
            }
            let remove_node = match t.by {
                TrimBy::MaxLen(max) => self.length - entries >= max,
                TrimBy::MinId(min) => node.entries.last().is_some_and(|e| e.id < min),
            };
            if remove_node {
                self.nodes.remove(&key);
                self.length -= entries;
                deleted += entries;
                continue;
            }
            if t.approx {
                break;
            }
            let mut from_node = 0;
            for e in node.entries.iter_mut() {
                let stop = match t.by {
                    TrimBy::MaxLen(max) => self.length <= max,
                    TrimBy::MinId(min) => e.id >= min,
                };
                if stop {
                    break;
                }
                if !e.deleted {
                    e.deleted = true;
                    from_node += 1;
                    self.length -= 1;
                }
            }
            node.live -= from_node;
            deleted += from_node as u64;
            break;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if deleted > 0 {
            self.refresh_first_id();
        }
        deleted
    }
}
