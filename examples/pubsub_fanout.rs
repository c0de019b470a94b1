//! PUBLISH fan-out load generator: SUBSCRIBERS connections subscribe to
//! one channel, one connection publishes MESSAGES messages to it in
//! pipelined batches, and the program reports messages delivered per
//! second (publishes × receivers, counted at the subscribers).
//!
//! Usage: pubsub_fanout <port> [subscribers=100] [messages=20000] [pipeline=16] [payload=16]
//! Prints one line: `published=N delivered=M seconds=S delivered_per_sec=R`.
//!
//! Every message frame is the same size (same channel and payload), so a
//! subscriber counts messages by bytes read, cheaply enough that the
//! server, not this program, is what gets measured.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const CHANNEL: &str = "fanout";

fn arg(args: &[String], i: usize, default: usize) -> usize {
    args.get(i)
        .map_or(default, |a| a.parse().expect("a number"))
}

fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

fn command(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", parts.len()).into_bytes();
    for p in parts {
        bulk(&mut out, p);
    }
    out
}

/// Reads until `n` bytes came (or the peer closed).
fn read_exact_count(s: &mut TcpStream, n: usize) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0;
    while got < n {
        let want = (n - got).min(buf.len());
        let r = s.read(&mut buf[..want])?;
        if r == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        got += r;
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args
        .get(1)
        .expect("usage: pubsub_fanout <port> ...")
        .parse()
        .unwrap();
    let subscribers = arg(&args, 2, 100);
    let messages = arg(&args, 3, 20000);
    let pipeline = arg(&args, 4, 16).max(1);
    let payload = vec![b'x'; arg(&args, 5, 16)];

    // What one delivered message looks like (RESP2).
    let mut frame = b"*3\r\n".to_vec();
    bulk(&mut frame, b"message");
    bulk(&mut frame, CHANNEL.as_bytes());
    bulk(&mut frame, &payload);
    let frame_len = frame.len();

    let delivered = Arc::new(AtomicU64::new(0));
    let ready = Arc::new(Barrier::new(subscribers + 1));
    let mut handles = Vec::new();
    for _ in 0..subscribers {
        let (delivered, ready) = (delivered.clone(), ready.clone());
        handles.push(std::thread::spawn(move || {
            let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            s.set_nodelay(true).ok();
            s.write_all(&command(&[b"SUBSCRIBE", CHANNEL.as_bytes()]))
                .unwrap();
            let mut confirm = b"*3\r\n".to_vec();
            bulk(&mut confirm, b"subscribe");
            bulk(&mut confirm, CHANNEL.as_bytes());
            confirm.extend_from_slice(b":1\r\n");
            read_exact_count(&mut s, confirm.len()).expect("subscribe confirmation");
            ready.wait();
            s.set_read_timeout(Some(Duration::from_secs(10))).ok();
            let mut buf = vec![0u8; 256 * 1024];
            let mut bytes = 0usize;
            while bytes < messages * frame_len {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => bytes += n,
                }
            }
            delivered.fetch_add((bytes / frame_len) as u64, Ordering::Relaxed);
        }));
    }
    ready.wait();

    let mut p = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    p.set_nodelay(true).ok();
    let one = command(&[b"PUBLISH", CHANNEL.as_bytes(), &payload]);
    let reply_len = format!(":{subscribers}\r\n").len();
    let started = Instant::now();
    let mut sent = 0;
    while sent < messages {
        let batch = pipeline.min(messages - sent);
        let bytes: Vec<u8> = one.repeat(batch);
        p.write_all(&bytes).unwrap();
        read_exact_count(&mut p, batch * reply_len).expect("PUBLISH replies");
        sent += batch;
    }
    for h in handles {
        h.join().unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    let total = delivered.load(Ordering::Relaxed);
    println!(
        "published={sent} delivered={total} seconds={secs:.3} delivered_per_sec={:.0}",
        total as f64 / secs
    );
    if total != (sent * subscribers) as u64 {
        eprintln!(
            "warning: {} of {} deliveries missing",
            (sent * subscribers) as u64 - total,
            sent * subscribers
        );
        std::process::exit(1);
    }
}
