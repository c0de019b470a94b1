//! Messages between shards over glommio's bounded channel mesh.
//!
//! A `Job::Run` is a closure run on the target shard once its gate is
//! open. A hold of several shards (`hold`) is granted through the one
//! global order of `order.rs`: the holder queues a ticket on every shard
//! it needs at once, pokes them (`Job::Poke`), and once all have closed
//! their gates for it, sends operations through its own channels until
//! it lets go.

use super::shard::ShardRt;
use futures::channel::{mpsc, oneshot};
use futures::Stream;
use std::rc::Rc;

/// An operation on a shard, run on that shard's thread.
pub type Op = Box<dyn FnOnce(&Rc<ShardRt>) + Send>;

pub enum Job {
    Run(Op),
    /// An operation of a script that waits for this shard's thread with
    /// every gate shut for it (`run_in_script`): runs past the gate.
    Lent(Op),
    /// A ticket may have reached the front of the receiver's queue.
    Poke,
}

/// Serves the jobs one peer sends to this shard, in order.
pub async fn serve_peer(
    rt: Rc<ShardRt>,
    mut rx: glommio::channels::shared_channel::ConnectedReceiver<Job>,
) {
    // Jobs received while an earlier one waited at the gate.
    let mut queued = std::collections::VecDeque::new();
    loop {
        let mut waited = false;
        let job = match queued.pop_front() {
            Some(job) => Some(job),
            None => {
                std::future::poll_fn(|cx| {
                    let next = std::pin::Pin::new(&mut rx).poll_next(cx);
                    waited |= next.is_pending();
                    next
                })
                .await
            }
        };
        let Some(job) = job else { break };
        match job {
            Job::Run(op) => {
                // Requests that reached this shard's sockets before the
                // one that sent this job run first, as one event loop would
                // take them (tests/arrival_order.rs): those whose polls
                // fired meanwhile are woken now, and a job that was waited
                // for yields once to the connections woken with it.
                let arrived = glommio::executor().wake_arrived_io() > 0;
                if arrived || waited {
                    crate::sys::exec::yield_now().await;
                }
                gate_serving_lent(&rt, &mut rx, &mut queued).await;
                op(&rt);
            }
            Job::Lent(op) => op(&rt),
            Job::Poke => rt.tickets.raise(),
        }
    }
}

/// Waits at the gate, running meanwhile the operations of a script that
/// has the node to itself (`Job::Lent`) arriving behind the waiting job:
/// they are what the script waits for. The whole wait serves them: a
/// script may start lending at any point of it.
async fn gate_serving_lent(
    rt: &Rc<ShardRt>,
    rx: &mut glommio::channels::shared_channel::ConnectedReceiver<Job>,
    queued: &mut std::collections::VecDeque<Job>,
) {
    use std::future::Future;
    use std::task::Poll;
    let mut gate = std::pin::pin!(rt.wait_gate());
    loop {
        let next = std::future::poll_fn(|cx| {
            if gate.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            std::pin::Pin::new(&mut *rx).poll_next(cx).map(Some)
        })
        .await;
        match next {
            Some(Some(Job::Lent(op))) => op(rt),
            Some(Some(other)) => queued.push_back(other),
            None | Some(None) => return,
        }
    }
}

/// Runs `f` on `shard` and returns its result.
///
/// Under an EXEC's hold (`under_hold`) a held shard runs `f` through the
/// hold instead of waiting for a gate the transaction itself keeps shut.
pub async fn run_on<R, F>(rt: &Rc<ShardRt>, shard: usize, f: F) -> R
where
    R: Send + 'static,
    F: FnOnce(&Rc<ShardRt>) -> R + Send + 'static,
{
    if let Some(ops) = current_hold().filter(|ops| ops.covers(rt.id, &[shard])) {
        return ops.run(rt, shard, f).await;
    }
    if shard == rt.id {
        rt.wait_gate().await;
        return f(rt);
    }
    round_trip(rt, shard, Job::Run, f).await
}

/// Sends `f` to `shard` as the job `kind` makes of it and returns its
/// result. Messages for clients the operation causes (tracking
/// invalidations) come back with it, to be delivered before the reply
/// (outbox.rs).
async fn round_trip<R, F>(rt: &Rc<ShardRt>, shard: usize, kind: fn(Op) -> Job, f: F) -> R
where
    R: Send + 'static,
    F: FnOnce(&Rc<ShardRt>) -> R + Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    let job = kind(Box::new(move |rt| {
        let _ = tx.send(super::outbox::capture(rt, || f(rt)));
    }));
    if rt.senders.send_to(shard, job).await.is_err() {
        panic!("shard {shard} mesh channel closed");
    }
    let (r, mail) = rx.await.expect("shard dropped a job");
    super::outbox::put(rt, mail);
    r
}

/// Runs `f` on every shard concurrently; results in shard order.
pub async fn run_on_all<R, F>(rt: &Rc<ShardRt>, f: F) -> Vec<R>
where
    R: Send + 'static,
    F: Fn(&Rc<ShardRt>) -> R + Send + Sync + Clone + 'static,
{
    // Refused as a whole before any shard runs `f` (a script's hold).
    let all: Vec<usize> = (0..rt.nshards).collect();
    if let Some(ops) = current_hold() {
        ops.refuse_other_threads(rt, &all, true).await;
    }
    let futs = (0..rt.nshards).map(|s| {
        let f = f.clone();
        run_on(rt, s, move |rt| f(rt))
    });
    futures::future::join_all(futs).await
}

/// The channels of one hold: an op channel per held remote shard, and
/// whether the holder's own shard is held (its ops run in place; the
/// channel only keeps the grant open until the hold ends).
struct HoldOps {
    remote: Vec<(usize, mpsc::UnboundedSender<Op>)>,
    local: Option<mpsc::UnboundedSender<Op>>,
    holds_local: bool,
    /// A running script's hold (`script_hold`): the other shards whose
    /// data its thread holds through their data locks, not their
    /// threads. A thread holding data locks may not wait for another
    /// thread, so an operation for one of them is refused.
    locked_only: Vec<usize>,
    /// Set when an operation was refused (the command never completes).
    refused: std::cell::Cell<bool>,
    /// A script running on a stack that can pause (`run_in_script`): an
    /// operation for a `locked_only` shard runs on that shard's thread,
    /// the script's locks let go and every gate shut meanwhile.
    lend: Option<Lending>,
}

/// A script's wait for other shards' threads.
struct Lending {
    /// Lets the executor run others once (the script's fiber pause).
    pause: fn(),
    /// The data locks let go while it waits (`direct::park_locks`);
    /// Some from the first operation sent to another thread on.
    parked: std::cell::RefCell<Option<Vec<(usize, u32)>>>,
    /// Operations sent and not yet answered.
    in_flight: std::cell::Cell<usize>,
}

impl HoldOps {
    fn covers(&self, local: usize, shards: &[usize]) -> bool {
        shards.iter().all(|&s| {
            if s == local {
                self.holds_local
            } else {
                self.remote.iter().any(|(r, _)| *r == s) || self.locked_only.contains(&s)
            }
        })
    }

    /// Never resolves when one of `shards` is held only through its data
    /// lock: its operation would need that shard's thread (a script that
    /// can wait for it, `lend`, is refused only a hold of it: `lendable`
    /// false).
    async fn refuse_other_threads(&self, rt: &ShardRt, shards: &[usize], lendable: bool) {
        if lendable && self.lend.is_some() {
            return;
        }
        let other = |s: &usize| *s != rt.id && self.locked_only.contains(s);
        if shards.iter().any(other) {
            self.refused.set(true);
            std::future::pending::<()>().await;
        }
    }

    /// Runs `f` on the thread of `shard`, one of a waiting script's
    /// `locked_only` shards: the first such operation lets the script's
    /// locks go and shuts every gate (`run_in_script` takes them back).
    async fn run_lent<R, F>(&self, rt: &Rc<ShardRt>, lend: &Lending, shard: usize, f: F) -> R
    where
        R: Send + 'static,
        F: FnOnce(&Rc<ShardRt>) -> R + Send + 'static,
    {
        if lend.parked.borrow().is_none() {
            rt.shared.busy.set_lending(true);
            *lend.parked.borrow_mut() = Some(super::direct::park_locks(rt));
        }
        lend.in_flight.set(lend.in_flight.get() + 1);
        let r = round_trip(rt, shard, Job::Lent, f).await;
        lend.in_flight.set(lend.in_flight.get() - 1);
        r
    }

    /// Queues `op` on a held shard (in place on our own).
    fn send(&self, rt: &Rc<ShardRt>, shard: usize, op: Op) {
        if shard == rt.id {
            assert!(self.holds_local, "shard {shard} is not held");
            return op(rt);
        }
        let (_, ops) = self
            .remote
            .iter()
            .find(|(s, _)| *s == shard)
            .expect("shard is not held");
        ops.unbounded_send(op).expect("held shard went away");
    }

    async fn run<R, F>(&self, rt: &Rc<ShardRt>, shard: usize, f: F) -> R
    where
        R: Send + 'static,
        F: FnOnce(&Rc<ShardRt>) -> R + Send + 'static,
    {
        if shard == rt.id {
            assert!(self.holds_local, "shard {shard} is not held");
            return f(rt);
        }
        if let Some(lend) = self
            .lend
            .as_ref()
            .filter(|_| self.locked_only.contains(&shard))
        {
            return self.run_lent(rt, lend, shard, f).await;
        }
        self.refuse_other_threads(rt, &[shard], false).await;
        let (_, ops) = self
            .remote
            .iter()
            .find(|(s, _)| *s == shard)
            .expect("shard is not held");
        let (tx, rx) = oneshot::channel();
        ops.unbounded_send(Box::new(move |rt| {
            let _ = tx.send(super::outbox::capture(rt, || f(rt)));
        }))
        .expect("held shard went away");
        let (r, mail) = rx.await.expect("held shard dropped an op");
        super::outbox::put(rt, mail);
        r
    }
}

/// Exclusive hold of a set of shards for an all-or-nothing step.
pub struct Held<'a> {
    rt: &'a Rc<ShardRt>,
    ops: Rc<HoldOps>,
    /// False for a hold borrowed from the enclosing EXEC's: dropping it
    /// lets nothing go.
    owner: bool,
}

/// Takes the gates of `shards` (sorted, deduplicated), in the global
/// order of holds (`order.rs`): all at once, one round trip.
///
/// Under an EXEC's hold that already covers `shards`, borrows it: a
/// connection-level command queued in MULTI (SWAPDB, SORT, ...) would
/// otherwise wait for gates its own transaction keeps shut.
pub async fn hold<'a>(rt: &'a Rc<ShardRt>, shards: &[usize]) -> Held<'a> {
    hold_with(rt, shards.iter().map(|&s| (s, None)).collect()).await
}

/// `hold`, with a first operation per shard that runs as soon as that
/// shard is held (`(shard, op)`, shards sorted and distinct): the parts
/// of a multi-shard command travel with the hold request.
pub async fn hold_with<'a>(rt: &'a Rc<ShardRt>, parts: Vec<(usize, Option<Op>)>) -> Held<'a> {
    let shards: Vec<usize> = parts.iter().map(|(s, _)| *s).collect();
    debug_assert!(super::order::ascending(&shards), "hold of {shards:?}");
    if let Some(ops) = current_hold().filter(|ops| ops.covers(rt.id, &shards)) {
        let with_ops: Vec<usize> = parts
            .iter()
            .filter(|p| p.1.is_some())
            .map(|p| p.0)
            .collect();
        ops.refuse_other_threads(rt, &with_ops, false).await;
        for (s, op) in parts {
            if let Some(op) = op {
                ops.send(rt, s, op);
            }
        }
        return Held {
            rt,
            ops,
            owner: false,
        };
    }
    // A thread holding data locks never waits (direct.rs); a script's
    // hold, borrowed above, lends its locks.
    debug_assert!(super::direct::holds_no_foreign_lock(rt), "hold under locks");
    let mut ops = HoldOps {
        remote: Vec::new(),
        local: None,
        holds_local: false,
        locked_only: Vec::new(),
        refused: std::cell::Cell::new(false),
        lend: None,
    };
    let mut grants = Vec::with_capacity(shards.len());
    let mut acks = Vec::with_capacity(shards.len());
    for (s, first) in parts {
        let (ops_tx, ops_rx) = mpsc::unbounded();
        let (held_tx, held_rx) = oneshot::channel();
        grants.push((
            s,
            super::order::Grant {
                first,
                ops: ops_rx,
                held: held_tx,
            },
        ));
        acks.push(held_rx);
        if s == rt.id {
            ops.local = Some(ops_tx);
            ops.holds_local = true;
        } else {
            ops.remote.push((s, ops_tx));
        }
    }
    rt.shared.order.schedule(grants);
    for &s in &shards {
        if s == rt.id {
            rt.tickets.raise();
        } else if rt.senders.send_to(s, Job::Poke).await.is_err() {
            panic!("shard {s} mesh channel closed");
        }
    }
    for ack in acks {
        ack.await.expect("shard dropped a hold");
    }
    Held {
        rt,
        ops: Rc::new(ops),
        owner: true,
    }
}

impl Held<'_> {
    /// Runs `f` on a held shard.
    pub async fn run<R, F>(&self, shard: usize, f: F) -> R
    where
        R: Send + 'static,
        F: FnOnce(&Rc<ShardRt>) -> R + Send + 'static,
    {
        self.ops.run(self.rt, shard, f).await
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if !self.owner {
            return;
        }
        // Closing the op channels releases the remote gates, even while a
        // borrowed clone is still around.
        for (_, ops) in &self.ops.remote {
            ops.close_channel();
        }
        if let Some(local) = &self.ops.local {
            local.close_channel();
        }
    }
}

/// The hold of the EXEC whose connection-level command is being polled
/// on this thread right now (see `under_hold`).
fn current_hold() -> Option<Rc<HoldOps>> {
    crate::sys::exec::polled_context::<HoldOps>()
}

/// Whether a command runs inside EXEC under a hold of shards (Redis's
/// `server.in_exec`, for the commands that only schedule work then).
pub fn in_exec() -> bool {
    current_hold().is_some()
}

/// Runs `fut` (a connection-level command inside EXEC) so that its
/// `run_on`/`hold` calls go through `held` rather than wait for the gates
/// `held` keeps shut. The hold is in force only while `fut` itself is
/// being polled — a task-local: other tasks of this executor that run
/// meanwhile still wait for the gates, so the transaction stays atomic.
pub async fn under_hold<F: std::future::Future>(held: &Held<'_>, fut: F) -> F::Output {
    crate::sys::exec::poll_with(held.ops.clone(), fut).await
}

/// Runs a connection-level command called by a script (script/run.rs)
/// to its end now, on the script's thread, which runs the script alone
/// on its own shard and holds the data locks of `locked` (the other
/// shards of a multi-shard script): its `run_on`/`hold` calls run in
/// place on this shard, as under an EXEC's hold.
///
/// An operation it sends to a `locked` shard's thread: with `pause` (the
/// script runs on a stack that can pause, script/fiber.rs) the script
/// lets its locks go, shuts every shard's gate (script/busy.rs) and
/// pauses until the operations are answered, then takes its locks back;
/// without, the command is refused before that operation starts (so is
/// a hold of such a shard). Err when the command did not complete: true
/// when refused so, false when it waits for something else (a script
/// cannot wait).
pub fn run_in_script<F: std::future::Future>(
    rt: &ShardRt,
    locked: &[usize],
    pause: Option<fn()>,
    fut: F,
) -> Result<F::Output, bool> {
    let lend = pause.map(|pause| Lending {
        pause,
        parked: std::cell::RefCell::new(None),
        in_flight: std::cell::Cell::new(0),
    });
    let ops = Rc::new(HoldOps {
        remote: Vec::new(),
        local: None,
        holds_local: true,
        locked_only: locked.to_vec(),
        refused: std::cell::Cell::new(false),
        lend,
    });
    let mut fut = std::pin::pin!(fut);
    let ran = loop {
        if let Some(v) = crate::sys::exec::poll_once_with(ops.clone(), fut.as_mut()) {
            break Ok(v);
        }
        match &ops.lend {
            Some(lend) if lend.in_flight.get() > 0 => (lend.pause)(),
            _ => break Err(ops.refused.get()),
        }
    };
    if let Some(parked) = ops.lend.as_ref().and_then(|l| l.parked.take()) {
        super::direct::unpark_locks(rt, parked);
        rt.shared.busy.set_lending(false);
    }
    ran
}

/// Runs `f` on `shard` without waiting: at once when its channel has
/// room, else from a task (delivery is not on the command's path).
pub fn post(rt: &ShardRt, shard: usize, f: impl FnOnce(&ShardRt) + Send + 'static) {
    let job = || Job::Run(Box::new(move |rt: &Rc<ShardRt>| f(rt)));
    let job = job();
    if let Err(e) = rt.senders.try_send_to(shard, job) {
        let job = match e {
            glommio::GlommioError::Closed(glommio::ResourceType::Channel(j))
            | glommio::GlommioError::WouldBlock(glommio::ResourceType::Channel(j)) => j,
            _ => return,
        };
        if let Some(rt) = super::notify::shard_rt() {
            crate::sys::exec::spawn(async move {
                let _ = rt.senders.send_to(shard, job).await;
            })
            .detach();
        }
    }
}
