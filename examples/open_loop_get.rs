//! Open-loop GET load at a fixed rate: the latency a server gives when the
//! request rate does not depend on how fast it answers (redis-benchmark is
//! a closed loop: a stalled server also stops the load, and the requests
//! that would have queued meanwhile are never measured).
//!
//! Usage: open_loop_get <port> <rate/s> <requests> [connections=20] [keyspace=1000000] [--spin] [--slow=MS]
//!
//! Request i is due at start + i/rate, on connection i mod connections,
//! with key `key:<12 digits>` picked at random in the keyspace (the keys
//! scripts/bench-lib.sh loads). Its latency runs from when it was due to
//! when its whole reply was read, so a send delayed by a stall counts the
//! stall (no coordinated omission). Between requests the client sleeps in
//! ppoll until the next is due or a reply comes; `--spin` polls without
//! sleeping instead (on a VM a spinning vCPU is never halted, but the
//! host may take it away for longer: measured, its sends lagged more).
//!
//! Prints redis-benchmark's "Latency by percentile distribution" and
//! "throughput summary" lines (so scripts read both tools alike), then the
//! client's own lag: how late the sends went out. `--slow=MS` also prints,
//! on stderr, when the requests slower than MS were due (wall clock, in
//! windows 100 ms apart), to line them up with a server's log.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Latencies in µs up to this many are counted one by one; longer ones
/// share the last bucket and set the maximum.
const HISTOGRAM_US: usize = 1_000_000;

struct Connection {
    stream: TcpStream,
    /// Requests written or waiting to be written, not yet answered: their
    /// due times, oldest first (replies come in order).
    due: VecDeque<Instant>,
    unsent: Vec<u8>,
    received: Vec<u8>,
}

/// The length of the first whole GET reply in `buf` (`$<len>\r\n<data>\r\n`
/// or `$-1\r\n`), or None while it is incomplete. Any other reply (an
/// error, a MOVED) ends the run: the load must be all GET hits or misses.
fn reply_len(buf: &[u8]) -> Option<usize> {
    let end = buf.windows(2).position(|w| w == b"\r\n")?;
    if buf[0] != b'$' {
        let line = String::from_utf8_lossy(&buf[..end]);
        eprintln!("open_loop_get: unexpected reply {line:?}");
        std::process::exit(1);
    }
    let len: i64 = std::str::from_utf8(&buf[1..end])
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("a bulk length");
    let total = if len < 0 {
        end + 2
    } else {
        end + 2 + len as usize + 2
    };
    (buf.len() >= total).then_some(total)
}

fn get_command(out: &mut Vec<u8>, key: u64) {
    out.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$16\r\n");
    out.extend_from_slice(format!("key:{key:012}\r\n").as_bytes());
}

/// xorshift64*: the keys only need to spread over the keyspace.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

fn flush(conn: &mut Connection) -> io::Result<()> {
    while !conn.unsent.is_empty() {
        match conn.stream.write(&conn.unsent) {
            Ok(n) => drop(conn.unsent.drain(..n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The requests slower than `threshold_us`: (due, latency in µs).
struct SlowRequests {
    threshold_us: usize,
    seen: Vec<(Instant, usize)>,
}

impl SlowRequests {
    /// Prints each window of slow requests (due times under 100 ms apart):
    /// its wall-clock start (UTC), length, count and worst latency.
    fn print(mut self, start: Instant, start_wall: SystemTime) {
        let wall = |at: Instant| {
            let t = start_wall + at.saturating_duration_since(start);
            let ms = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() % 86_400_000;
            format!(
                "{:02}:{:02}:{:02}.{:03}",
                ms / 3_600_000,
                ms / 60_000 % 60,
                ms / 1000 % 60,
                ms % 1000
            )
        };
        let seen = &mut self.seen;
        seen.sort();
        let mut i = 0;
        while i < seen.len() {
            let (first, mut worst, mut j) = (seen[i].0, seen[i].1, i + 1);
            while j < seen.len() && seen[j].0 - seen[j - 1].0 < Duration::from_millis(100) {
                worst = worst.max(seen[j].1);
                j += 1;
            }
            eprintln!(
                "slow: due from {} for {:.1} ms, {} requests, worst {:.3} ms",
                wall(first),
                (seen[j - 1].0 - first).as_secs_f64() * 1000.0,
                j - i,
                worst as f64 / 1000.0
            );
            i = j;
        }
    }
}

/// Reads what `conn` has and records each whole reply's latency at `now`.
fn receive(
    conn: &mut Connection,
    now: Instant,
    histogram: &mut [u64],
    slow: &mut SlowRequests,
) -> io::Result<u64> {
    let mut chunk = [0u8; 16384];
    loop {
        match conn.stream.read(&mut chunk) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "server closed",
                ))
            }
            Ok(n) => conn.received.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    let (mut offset, mut answered) = (0, 0);
    while let Some(len) = reply_len(&conn.received[offset..]) {
        offset += len;
        let due = conn.due.pop_front().expect("a reply to a request sent");
        let us = now.saturating_duration_since(due).as_micros() as usize;
        histogram[us.min(HISTOGRAM_US)] += 1;
        if us > slow.threshold_us {
            slow.seen.push((due, us));
        }
        answered += 1;
    }
    conn.received.drain(..offset);
    Ok(answered)
}

/// Waits up to `timeout` for any connection to be readable (or writable,
/// where a write is pending); `revents` per connection in `fds`.
fn wait(fds: &mut [libc::pollfd], conns: &[Connection], timeout: Duration) {
    for (fd, conn) in fds.iter_mut().zip(conns) {
        fd.events = libc::POLLIN
            | if conn.unsent.is_empty() {
                0
            } else {
                libc::POLLOUT
            };
        fd.revents = 0;
    }
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: fds is a valid array of pollfd for its length; ts outlives the call.
    let ready = unsafe { libc::ppoll(fds.as_mut_ptr(), fds.len() as _, &ts, std::ptr::null()) };
    if ready < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
        panic!("ppoll: {}", io::Error::last_os_error());
    }
}

/// The percentile ladder redis-benchmark prints (halving the rest each
/// step), with 99, 99.9 and 99.99 exactly.
fn print_percentiles(histogram: &[u64], total: u64) {
    let mut ladder = vec![0.0, 50.0];
    let mut rest = 50.0;
    while rest > 0.002 {
        rest /= 2.0;
        ladder.push(100.0 - rest);
    }
    ladder.extend([99.0, 99.9, 99.99, 100.0]);
    ladder.sort_by(f64::total_cmp);
    ladder.dedup();
    println!("Latency by percentile distribution:");
    let (mut bucket, mut cumulative) = (0, 0u64);
    for p in ladder {
        let wanted = ((p / 100.0 * total as f64).ceil() as u64).clamp(1, total);
        while cumulative < wanted {
            cumulative += histogram[bucket];
            bucket += 1;
        }
        // bucket - 1 µs is the latency at this percentile.
        let ms = (bucket - 1) as f64 / 1000.0;
        println!("{p:.3}% <= {ms:.3} milliseconds (cumulative count {cumulative})");
    }
    println!();
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let spin = args.iter().any(|a| a == "--spin");
    let slow_ms: Option<f64> = args
        .iter()
        .find_map(|a| a.strip_prefix("--slow="))
        .map(|ms| ms.parse().expect("--slow=MS"));
    let mut slow = SlowRequests {
        threshold_us: slow_ms.map_or(usize::MAX, |ms| (ms * 1000.0) as usize),
        seen: Vec::new(),
    };
    let nums: Vec<u64> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(|a| a.parse().expect("a number"))
        .collect();
    if nums.len() < 3 {
        eprintln!("usage: open_loop_get <port> <rate/s> <requests> [connections=20] [keyspace=1000000] [--spin] [--slow=MS]");
        std::process::exit(2);
    }
    let (port, rate, requests) = (nums[0], nums[1].max(1), nums[2]);
    let connections = nums.get(3).copied().unwrap_or(20).max(1) as usize;
    let keyspace = nums.get(4).copied().unwrap_or(1_000_000).max(1);
    // Sleeps end on time, not up to 50 µs late (the default timer slack).
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };

    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections {
        let stream = TcpStream::connect(("127.0.0.1", port as u16))?;
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        let (due, unsent, received) = (VecDeque::new(), Vec::new(), Vec::new());
        conns.push(Connection {
            stream,
            due,
            unsent,
            received,
        });
    }
    let mut fds: Vec<libc::pollfd> = conns
        .iter()
        .map(|c| libc::pollfd {
            fd: c.stream.as_raw_fd(),
            events: 0,
            revents: 0,
        })
        .collect();
    let mut histogram = vec![0u64; HISTOGRAM_US + 1];
    let mut random = 0x9e37_79b9_7f4a_7c15u64;
    let interval_ns = 1e9 / rate as f64;
    let (mut sent, mut answered, mut late_max, mut late_1ms) = (0u64, 0u64, Duration::ZERO, 0u64);
    let start = Instant::now() + Duration::from_millis(10);
    let start_wall = SystemTime::now() + Duration::from_millis(10);
    let due_at = |i: u64| start + Duration::from_nanos((i as f64 * interval_ns) as u64);

    while answered < requests {
        let now = Instant::now();
        while sent < requests {
            let due = due_at(sent);
            if due > now {
                break;
            }
            let late = now - due;
            late_max = late_max.max(late);
            late_1ms += u64::from(late > Duration::from_millis(1));
            let conn = &mut conns[(sent % connections as u64) as usize];
            get_command(&mut conn.unsent, next_random(&mut random) % keyspace);
            conn.due.push_back(due);
            flush(conn)?;
            sent += 1;
        }
        let timeout = match (spin, sent < requests) {
            (true, _) => Duration::ZERO,
            (false, true) => due_at(sent).saturating_duration_since(Instant::now()),
            (false, false) => Duration::from_millis(100),
        };
        wait(&mut fds, &conns, timeout);
        let now = Instant::now();
        for (fd, conn) in fds.iter().zip(conns.iter_mut()) {
            if fd.revents & libc::POLLOUT != 0 {
                flush(conn)?;
            }
            if fd.revents & (libc::POLLIN | libc::POLLERR | libc::POLLHUP) != 0 {
                answered += receive(conn, now, &mut histogram, &mut slow)?;
            }
        }
    }
    let seconds = (Instant::now() - start).as_secs_f64();

    println!("====== GET (open loop, {rate}/s scheduled over {connections} connections) ======");
    println!("  {requests} requests completed in {seconds:.2} seconds");
    print_percentiles(&histogram, requests);
    println!(
        "  throughput summary: {:.2} requests per second",
        requests as f64 / seconds
    );
    println!(
        "  client lag: latest send {:.3} ms after it was due, {late_1ms} sends over 1 ms late",
        late_max.as_secs_f64() * 1000.0
    );
    slow.print(start, start_wall);
    Ok(())
}
