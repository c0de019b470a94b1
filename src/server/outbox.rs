//! Messages for clients of other shards (tracking invalidations), held
//! on the thread that caused them until the reply they must precede is
//! about to leave.
//!
//! Redis writes an invalidation into the tracking client's reply buffer
//! while the command that caused it runs: it is ahead of that command's
//! reply and of anything the tracking client is sent later. Here the
//! tracking client may live on another shard, and a message merely
//! posted over the mesh could arrive after the writer's reply has left
//! (and after the tracking client's own next reply). So:
//! - a message for another shard is queued here (`post`);
//! - a shard running an operation for another thread (`mesh::run_on`, a
//!   hold's operation, a poke) hands what that operation queued back with
//!   its result (`capture`), and the caller queues it in turn (`put`);
//! - a connection, before its replies leave, delivers everything its
//!   thread queued and waits until it is in the clients' queues
//!   (`flush`);
//! - what no connection flushes (the cron's expiries and evictions, BCAST
//!   broadcasts) is delivered by a task once the current one yields; a
//!   flush also waits for those deliveries, so no reply overtakes them.

use super::mesh::Op;
use super::shard::ShardRt;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::task::{Poll, Waker};

/// Messages to run on shards: (shard, delivery).
pub type Mail = Vec<(usize, Op)>;

thread_local! {
    static QUEUE: RefCell<Mail> = const { RefCell::new(Vec::new()) };
    /// A delivery task is scheduled or running.
    static SCHEDULED: Cell<bool> = const { Cell::new(false) };
    /// Messages a delivery task has taken and not yet delivered.
    static IN_FLIGHT: Cell<usize> = const { Cell::new(0) };
    /// Flushes waiting for the delivery task.
    static WAITERS: RefCell<Vec<Waker>> = const { RefCell::new(Vec::new()) };
}

/// Queues `f` to run on `shard` (another shard than `rt`'s).
pub fn post(rt: &ShardRt, shard: usize, f: impl FnOnce(&ShardRt) + Send + 'static) {
    debug_assert_ne!(shard, rt.id);
    QUEUE.with(|q| {
        q.borrow_mut()
            .push((shard, Box::new(move |rt: &Rc<ShardRt>| f(rt))))
    });
    schedule();
}

/// Runs `f` (synchronous, on `rt`'s thread) and returns the messages it
/// queued, to travel with its result; BCAST keys it changed are sent now
/// (Redis sends them before any reply leaves, in beforeSleep).
#[inline]
pub fn capture<R>(rt: &ShardRt, f: impl FnOnce() -> R) -> (R, Mail) {
    let mark = QUEUE.with(|q| q.borrow().len());
    let r = f();
    super::tracking::broadcast_due(rt);
    let mail = QUEUE.with(|q| {
        let mut q = q.borrow_mut();
        // Nothing queued (the usual case): no allocation.
        if q.len() == mark {
            Vec::new()
        } else {
            q.split_off(mark)
        }
    });
    (r, mail)
}

/// Takes in mail an operation on another shard brought back: this
/// shard's messages are delivered now, the others queued.
pub fn put(rt: &Rc<ShardRt>, mail: Mail) {
    if mail.is_empty() {
        return;
    }
    for (shard, op) in mail {
        if shard == rt.id {
            op(rt);
        } else {
            QUEUE.with(|q| q.borrow_mut().push((shard, op)));
        }
    }
    schedule();
}

/// Whether a flush has anything to do (cheap: checked before every
/// reply).
#[inline]
pub fn pending(rt: &ShardRt) -> bool {
    IN_FLIGHT.with(Cell::get) > 0
        || QUEUE.with(|q| !q.borrow().is_empty())
        || super::tracking::broadcast_pending(rt)
}

/// Delivers everything this thread queued, and waits for the delivery
/// task's messages, before a reply leaves.
pub async fn flush(rt: &Rc<ShardRt>) {
    super::tracking::broadcast_due(rt);
    loop {
        let mail = QUEUE.with(|q| std::mem::take(&mut *q.borrow_mut()));
        if mail.is_empty() {
            break;
        }
        deliver(rt, mail).await;
    }
    std::future::poll_fn(|cx| {
        if IN_FLIGHT.with(Cell::get) == 0 {
            return Poll::Ready(());
        }
        WAITERS.with(|w| w.borrow_mut().push(cx.waker().clone()));
        Poll::Pending
    })
    .await;
}

/// Runs each message on its shard, in order, taking in what they queue.
async fn deliver(rt: &Rc<ShardRt>, mail: Mail) {
    for (shard, op) in mail {
        if shard == rt.id {
            op(rt);
        } else {
            // run_on brings back (and `put`s) what the delivery queued:
            // a REDIRECT client on a third shard.
            super::mesh::run_on(rt, shard, op).await;
        }
    }
}

/// Schedules the delivery task for messages no connection flushes.
fn schedule() {
    if SCHEDULED.with(|s| s.replace(true)) {
        return;
    }
    let Some(rt) = super::notify::shard_rt() else {
        SCHEDULED.with(|s| s.set(false));
        return;
    };
    crate::sys::exec::spawn(async move {
        // Let the running task flush its own messages first.
        yield_once().await;
        loop {
            let mail = QUEUE.with(|q| std::mem::take(&mut *q.borrow_mut()));
            if mail.is_empty() {
                break;
            }
            let n = mail.len();
            IN_FLIGHT.with(|f| f.set(f.get() + n));
            deliver(&rt, mail).await;
            IN_FLIGHT.with(|f| f.set(f.get() - n));
        }
        SCHEDULED.with(|s| s.set(false));
        for w in WAITERS.with(|w| std::mem::take(&mut *w.borrow_mut())) {
            w.wake();
        }
    })
    .detach();
}

/// Pending once, so that the task runs again after the ready ones.
pub async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}
