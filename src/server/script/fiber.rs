//! Running a script on a stack of its own, so that it can pause in the
//! middle of its Lua code (from the count hook, `timeout.rs`) and let its
//! shard's executor serve other clients, then go on where it stopped —
//! as Redis's processEventsWhileBlocked does from inside a busy script.
//! A Lua coroutine could not do it: a script's `pcall` is a C call, and
//! Lua 5.1 does not yield across one.
//!
//! Each shard thread keeps one stack and reuses it (scripts run one at a
//! time on a thread). The driver ([`run`]) resumes the script until it
//! returns; each pause sleeps on a short timer, so the executor polls for
//! I/O and runs every other ready task.

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};
use std::cell::{Cell, RefCell};

/// The script's stack: what the thread's own stack would hold (Lua's C
/// recursion is bounded by LUAI_MAXCCALLS, commands run synchronously).
/// Committed by the kernel only as it is touched.
const STACK_BYTES: usize = 8 << 20;

/// How long a pause lets the executor run others at least.
const PAUSE: std::time::Duration = std::time::Duration::from_micros(10);

thread_local! {
    static SPARE: RefCell<Option<DefaultStack>> = const { RefCell::new(None) };
    /// The running script's way back to its driver; null outside [`run`].
    static YIELDER: Cell<*const Yielder<(), ()>> = const { Cell::new(std::ptr::null()) };
    /// The driver went away (its future was dropped): the script must end.
    static ABANDONED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` on the thread's script stack; each [`pause`] inside it lets
/// the executor run other tasks once.
pub async fn run<'a, R: 'static>(f: impl FnOnce() -> R + 'a) -> R {
    let stack = SPARE
        .with(|s| s.borrow_mut().take())
        .map_or_else(|| DefaultStack::new(STACK_BYTES), Ok)
        .expect("a script stack");
    let body: Box<dyn FnOnce() -> R + 'a> = Box::new(f);
    // SAFETY: the coroutine never outlives this call: it is resumed to its
    // end before `run` returns, and `Driver::drop` resumes it to its end
    // if this future is dropped first, so the borrows in `f` outlive it.
    let body: Box<dyn FnOnce() -> R + 'static> = unsafe { std::mem::transmute(body) };
    let co = Coroutine::with_stack(stack, move |yielder: &Yielder<(), ()>, ()| {
        let outer = YIELDER.with(|y| y.replace(yielder));
        let r = body();
        YIELDER.with(|y| y.set(outer));
        r
    });
    let mut driver = Driver { co: Some(co) };
    loop {
        match driver.resume() {
            Some(r) => return r,
            // A timer, not a yield: with the script's task runnable the
            // executor would not poll for I/O (new requests, connections).
            None => glommio::timer::sleep(PAUSE).await,
        }
    }
}

struct Driver<R> {
    co: Option<Coroutine<(), (), R, DefaultStack>>,
}

impl<R> Driver<R> {
    /// Resumes the script: Some(result) when it returned (its stack goes
    /// back to the thread), None when it paused.
    fn resume(&mut self) -> Option<R> {
        let co = self.co.as_mut().expect("running");
        match co.resume(()) {
            CoroutineResult::Yield(()) => None,
            CoroutineResult::Return(r) => {
                let co = self.co.take().expect("running");
                SPARE.with(|s| *s.borrow_mut() = Some(co.into_stack()));
                Some(r)
            }
        }
    }
}

impl<R> Drop for Driver<R> {
    fn drop(&mut self) {
        // Unwinding the script's stack would cross Lua's C frames: make
        // the script fail at its next hook and run it to its end instead.
        if self.co.is_some() {
            ABANDONED.with(|a| a.set(true));
            while self.resume().is_none() {}
            ABANDONED.with(|a| a.set(false));
        }
    }
}

/// Whether the code runs on a script stack that can pause.
pub fn can_pause() -> bool {
    YIELDER.with(|y| !y.get().is_null())
}

/// Lets the executor run other tasks once, then returns (a no-op outside
/// [`run`]).
pub fn pause() {
    let y = YIELDER.with(|y| y.get());
    if !y.is_null() {
        // SAFETY: set by `run`'s coroutine for as long as it runs, and
        // this is that coroutine's stack.
        unsafe { (*y).suspend(()) }
    }
}

/// The driver of the running script was dropped: it must end now.
pub fn abandoned() -> bool {
    ABANDONED.with(|a| a.get())
}
