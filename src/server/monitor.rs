//! MONITOR's feed. Every command that completes (observe.rs) is written
//! once as Redis's `+<sec>.<usec> [<db> <addr>] "arg" ...` line and
//! appended, under one lock, to each monitor's queue: the queues see
//! commands in the order they completed, from every shard. The monitor's
//! own shard then moves its queue to the connection (a mesh message when
//! the command ran elsewhere, sent once until it is served).

use super::shard::ShardRt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Queue {
    buf: Mutex<Vec<u8>>,
    /// A flush is on its way to the monitor's shard.
    flush_sent: AtomicBool,
}

struct Sink {
    id: u64,
    home: usize,
    queue: Arc<Queue>,
}

#[derive(Default)]
pub struct Monitors {
    count: AtomicUsize,
    sinks: Mutex<Vec<Sink>>,
}

impl Monitors {
    /// Whether anyone monitors: the one test a command pays otherwise.
    #[inline]
    pub fn active(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    /// Client `id` of shard `home` becomes a monitor.
    pub fn add(&self, id: u64, home: usize) {
        let mut sinks = self.sinks.lock().unwrap();
        sinks.push(Sink {
            id,
            home,
            queue: Default::default(),
        });
        self.count.store(sinks.len(), Ordering::Relaxed);
    }

    pub fn remove(&self, id: u64) {
        let mut sinks = self.sinks.lock().unwrap();
        sinks.retain(|s| s.id != id);
        self.count.store(sinks.len(), Ordering::Relaxed);
    }

    /// Hands `line` to every monitor; `rt` is the running thread's shard.
    pub fn feed(&self, rt: &ShardRt, line: &[u8]) {
        let sinks = self.sinks.lock().unwrap();
        for s in sinks.iter() {
            s.queue.buf.lock().unwrap().extend_from_slice(line);
            if s.home == rt.id {
                flush(rt, s.id, &s.queue);
            } else if !s.queue.flush_sent.swap(true, Ordering::AcqRel) {
                let (id, queue) = (s.id, s.queue.clone());
                super::mesh::post(rt, s.home, move |rt| flush(rt, id, &queue));
            }
        }
    }
}

/// On the monitor's shard: its queued lines go to its connection.
fn flush(rt: &ShardRt, id: u64, queue: &Queue) {
    queue.flush_sent.store(false, Ordering::Release);
    let bytes = std::mem::take(&mut *queue.buf.lock().unwrap());
    if let Some(sub) = rt.clients.borrow().subscriber(id) {
        sub.push_raw(&bytes);
    }
}

/// One feed line, as Redis's replicationFeedMonitors writes it.
pub fn line(db: usize, addr: &str, argv: &[&[u8]], redacted: impl Fn(usize) -> bool) -> Vec<u8> {
    let now = crate::sys::clock::unix_us();
    let mut s = format!("+{}.{:06} [{db} {addr}] ", now / 1_000_000, now % 1_000_000).into_bytes();
    for (j, a) in argv.iter().enumerate() {
        if j > 0 {
            s.push(b' ');
        }
        if redacted(j) {
            s.extend_from_slice(b"\"(redacted)\"");
        } else {
            crate::resp::repr(&mut s, a);
        }
    }
    s.extend_from_slice(b"\r\n");
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn lines_quote_and_redact() {
        let l = super::line(3, "1.2.3.4:5", &[b"auth", b"pw"], |j| j == 1);
        let l = String::from_utf8(l).unwrap();
        assert!(l.starts_with('+'));
        assert!(
            l.ends_with(" [3 1.2.3.4:5] \"auth\" \"(redacted)\"\r\n"),
            "{l}"
        );
    }
}
