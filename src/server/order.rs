//! The one order in which exclusive multi-shard holds are granted.
//!
//! Every hold of several shards (a multi-key command whose keys span
//! shards, EXEC, FLUSHALL, ...) is a ticket. Scheduling a ticket puts it
//! at the back of the queue of every shard it involves, all under one
//! lock, so the tickets stand in the same relative order in every queue
//! (as VLL's per-shard lock queues ordered by a global sequence). Each
//! shard grants the ticket at the front of its queue: it closes its gate
//! (ordinary work waits), says "held" and runs the holder's operations
//! until the holder lets go; then the next ticket's turn comes. The
//! holder asks all its shards at once and waits for all of them, which
//! costs one round trip whatever the number of shards.
//!
//! Why it cannot deadlock: the ticket with the lowest sequence still
//! waiting is at the front of every queue it is in, so all its shards
//! grant it, it finishes and lets go. Why no ticket starves: a queue is
//! FIFO, and a shard between two tickets serves its ordinary work (it
//! only waits for the gate, never takes it), so neither side can keep the
//! other out for longer than one ticket.

use super::mesh::Op;
use futures::channel::{mpsc, oneshot};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Whether `shards` is sorted and de-duplicated: the one form in which
/// multi-shard holds are queued and data locks taken (direct.rs), so
/// that all of them agree on the order.
pub fn ascending(shards: &[usize]) -> bool {
    shards.windows(2).all(|w| w[0] < w[1])
}

/// What a shard receives when its turn for a ticket comes.
pub struct Grant {
    /// Run as soon as the gate is closed, before "held" is told: the
    /// holder's first operation rides on the request (one round trip).
    pub first: Option<Op>,
    /// The holder's further operations for this shard, until the holder
    /// drops the sending side.
    pub ops: mpsc::UnboundedReceiver<Op>,
    /// Told once the shard's gate is closed for the holder.
    pub held: oneshot::Sender<()>,
}

/// One hold, queued on every shard it involves.
pub struct Ticket {
    grants: Mutex<Vec<(usize, Option<Grant>)>>,
}

impl Ticket {
    fn take(&self, shard: usize) -> Option<Grant> {
        let mut grants = self.grants.lock().unwrap();
        grants
            .iter_mut()
            .find(|(s, _)| *s == shard)
            .and_then(|(_, g)| g.take())
    }
}

/// The per-shard queues.
pub struct Order {
    queues: Mutex<Vec<VecDeque<Arc<Ticket>>>>,
}

impl Order {
    pub fn new(nshards: usize) -> Order {
        Order {
            queues: Mutex::new((0..nshards).map(|_| VecDeque::new()).collect()),
        }
    }

    /// Queues a ticket on the shards of `grants` (sorted, distinct), at
    /// the back of each queue in one step.
    pub fn schedule(&self, grants: Vec<(usize, Grant)>) {
        let shards: Vec<usize> = grants.iter().map(|(s, _)| *s).collect();
        debug_assert!(ascending(&shards), "shards must be sorted and distinct");
        let ticket = Arc::new(Ticket {
            grants: Mutex::new(grants.into_iter().map(|(s, g)| (s, Some(g))).collect()),
        });
        let mut queues = self.queues.lock().unwrap();
        for s in shards {
            queues[s].push_back(ticket.clone());
        }
    }

    /// The grant of the ticket at the front of `shard`'s queue, taken
    /// (a front ticket is granted once).
    fn front(&self, shard: usize) -> Option<(Arc<Ticket>, Grant)> {
        let queues = self.queues.lock().unwrap();
        let t = queues[shard].front()?.clone();
        drop(queues);
        let grant = t.take(shard)?;
        Some((t, grant))
    }

    fn pop(&self, shard: usize, ticket: &Arc<Ticket>) {
        let mut queues = self.queues.lock().unwrap();
        let front = queues[shard].pop_front();
        debug_assert!(
            front.is_some_and(|f| Arc::ptr_eq(&f, ticket)),
            "the granted ticket is the front one"
        );
    }
}

/// A shard's loop over its queue: grants tickets one at a time, in order.
/// Woken by [`super::shard::ShardRt::poke_tickets`].
pub async fn serve(rt: std::rc::Rc<super::shard::ShardRt>) {
    use futures::StreamExt;
    let order = &rt.shared.order;
    loop {
        while let Some((ticket, grant)) = order.front(rt.id) {
            let Grant {
                first,
                mut ops,
                held,
            } = grant;
            rt.wait_script().await;
            let _ = rt.gate.acquire(1).await;
            // Gate first, then the data lock, which no task of this
            // thread may be holding across an await: the holder's
            // operations below would share it re-entrantly.
            debug_assert!(!rt.core.held_here(), "data lock held across an await");
            // The data too: another thread's direct step (direct.rs) must
            // not run on it while the holder does. Held across the
            // holder's awaits by this thread; this thread's own tasks
            // wait at the gate.
            rt.take_own_data().await;
            rt.drain_deferred();
            // Blocked clients are served when the hold ends.
            rt.begin_unit();
            if let Some(op) = first {
                op(&rt);
            }
            let _ = held.send(());
            while let Some(op) = ops.next().await {
                op(&rt);
            }
            rt.core.release();
            rt.end_unit();
            rt.gate.signal(1);
            order.pop(rt.id, &ticket);
        }
        rt.tickets.wait().await;
    }
}

/// A wake-up for one task of this executor (not thread-safe; the mesh
/// carries wake-ups from other shards).
#[derive(Default)]
pub struct Signal {
    raised: std::cell::Cell<bool>,
    waker: std::cell::RefCell<Option<std::task::Waker>>,
}

impl Signal {
    pub fn raise(&self) {
        self.raised.set(true);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// Resolves once raised (at once if it was raised since the last wait).
    pub async fn wait(&self) {
        std::future::poll_fn(|cx| {
            if self.raised.replace(false) {
                std::task::Poll::Ready(())
            } else {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                std::task::Poll::Pending
            }
        })
        .await
    }
}
