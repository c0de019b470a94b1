//! Spawning tasks on the current glommio executor, and a context that is
//! in force only while one task is being polled.
//!
//! The engine polls a connection-level command inside EXEC with the
//! transaction's hold as that context (server/mesh.rs, `under_hold`).
//! glommio runs a new task's first step right away, inside the spawner's
//! poll: `spawn` keeps the context out of the new task, or a background
//! job (BGSAVE, a full sync, ...) would borrow a hold that ends with the
//! transaction. Every spawn goes through here (clippy.toml forbids the
//! direct call).

use std::any::Any;
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

thread_local! {
    /// The context of the task being polled on this thread right now
    /// (see `poll_with`).
    static POLLED: RefCell<Option<Rc<dyn Any>>> = const { RefCell::new(None) };
}

/// Spawns a task on this executor, without the spawner's context.
pub fn spawn<T: 'static>(fut: impl Future<Output = T> + 'static) -> glommio::Task<T> {
    let outer = POLLED.with(|c| c.take());
    #[allow(clippy::disallowed_methods)]
    let task = glommio::spawn_local(fut);
    POLLED.with(|c| *c.borrow_mut() = outer);
    task
}

/// Runs `fut` with `context` in force only while `fut` itself is being
/// polled — a task-local: other tasks of this executor that run
/// meanwhile do not see it.
pub async fn poll_with<F: Future>(context: Rc<dyn Any>, fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        let outer = POLLED.with(|c| c.replace(Some(context.clone())));
        let polled = fut.as_mut().poll(cx);
        POLLED.with(|c| *c.borrow_mut() = outer);
        polled
    })
    .await
}

/// Polls `fut` once, with `context` in force: its output if it completed
/// without waiting (a synchronous caller, such as a Lua script, that
/// cannot wait drops it otherwise).
pub fn poll_once_with<F: Future>(context: Rc<dyn Any>, fut: F) -> Option<F::Output> {
    let fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let outer = POLLED.with(|c| c.replace(Some(context)));
    let polled = fut.poll(&mut cx);
    POLLED.with(|c| *c.borrow_mut() = outer);
    match polled {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

/// The context in force for the task being polled, when it is a `C`.
pub fn polled_context<C: 'static>() -> Option<Rc<C>> {
    POLLED.with(|c| c.borrow().clone())?.downcast().ok()
}

/// Lets every other task that is ready run first: the current task goes
/// to the back of its executor's queue and resumes in the same reactor
/// pass.
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await
}

thread_local! {
    /// Connections of this thread whose replies wait for the end of the
    /// reactor pass (they yielded to let the pass's batches run first).
    static SENDS_WAITING: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Replies this thread has started to send, ever (wrapping): the
    /// background pacer (sys/pacer.rs) tells from it whether requests
    /// were served while it paused.
    static SENDS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many replies this thread has started to send so far (wrapping).
pub fn sends_so_far() -> u64 {
    SENDS.get()
}

/// Yields before a send, counted so that background slices on this
/// thread let the waiting replies leave first ([`after_waiting_sends`]).
pub async fn yield_before_send() {
    SENDS.set(SENDS.get().wrapping_add(1));
    SENDS_WAITING.set(SENDS_WAITING.get() + 1);
    yield_now().await;
    SENDS_WAITING.set(SENDS_WAITING.get() - 1);
}

/// For background work in slices (snapshots, active expiry): while
/// replies of this pass wait to be sent, yields so they leave before the
/// slice starts (a few times at most, so the work is never starved).
pub async fn after_waiting_sends() {
    for _ in 0..4 {
        if SENDS_WAITING.get() == 0 {
            return;
        }
        yield_now().await;
    }
}
