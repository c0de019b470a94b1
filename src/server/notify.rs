//! Keyspace notifications: delivery of the messages handlers gather
//! (`crate::events` says which are on and what they read) through Pub/Sub
//! on every shard.
//!
//! Handlers only call [`super::ctx::Ctx::notify`]; the messages are
//! gathered while the command runs and published once it returns, so a
//! handler never touches the Pub/Sub registries or the mesh.

use super::mesh::Job;
use super::pubsub;
use super::shard::ShardRt;
use crate::events::Note;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

type Batch = Arc<Vec<Note>>;

thread_local! {
    /// Per destination shard, batches that did not fit in its mesh
    /// channel, in order; a flusher task drains each.
    static BACKLOG: RefCell<Vec<VecDeque<Batch>>> = const { RefCell::new(Vec::new()) };
    /// This thread's shard, for the flusher tasks.
    static RT: RefCell<Option<Rc<ShardRt>>> = const { RefCell::new(None) };
}

/// Registers the shard running on this thread (at its start).
pub fn install(rt: &Rc<ShardRt>) {
    RT.with(|r| *r.borrow_mut() = Some(rt.clone()));
}

/// The shard running on this thread, for tasks spawned from sync code.
pub fn shard_rt() -> Option<Rc<ShardRt>> {
    RT.with(|r| r.borrow().clone())
}

/// Publishes `notes` as PUBLISH would: to this shard's subscribers now,
/// to the other shards' in order (per destination, batches never
/// overtake each other).
pub fn publish(rt: &ShardRt, notes: Vec<Note>) {
    if notes.is_empty() {
        return;
    }
    for (ch, msg) in &notes {
        pubsub::deliver_local(rt, ch, msg, false);
    }
    if rt.nshards == 1 {
        return;
    }
    let batch: Batch = Arc::new(notes);
    for s in (0..rt.nshards).filter(|&s| s != rt.id) {
        let queued = BACKLOG.with(|b| {
            let mut b = b.borrow_mut();
            if b.len() < rt.nshards {
                b.resize_with(rt.nshards, VecDeque::new);
            }
            if b[s].is_empty() {
                return false;
            }
            b[s].push_back(batch.clone());
            true
        });
        if queued {
            continue;
        }
        // The channel usually has room: the batch is then on its way
        // before the command's reply is.
        if rt.senders.try_send_to(s, job(batch.clone())).is_err() {
            BACKLOG.with(|b| b.borrow_mut()[s].push_back(batch.clone()));
            let Some(rt) = RT.with(|r| r.borrow().clone()) else {
                continue;
            };
            crate::sys::exec::spawn(async move {
                let senders = &rt.senders;
                loop {
                    let next = BACKLOG.with(|b| b.borrow().get(s).and_then(|q| q.front().cloned()));
                    let Some(batch) = next else { break };
                    if senders.send_to(s, job(batch)).await.is_err() {
                        break;
                    }
                    BACKLOG.with(|b| b.borrow_mut()[s].pop_front());
                }
            })
            .detach();
        }
    }
}

fn job(batch: Batch) -> Job {
    Job::Run(Box::new(move |rt| {
        for (ch, msg) in batch.iter() {
            pubsub::deliver_local(rt, ch, msg, false);
        }
    }))
}
