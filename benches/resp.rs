//! Protocol benchmarks: the request parser and the reply writer.
//!
//! `cargo bench --bench resp` (add `-- parse` or `-- write` to filter).
//! Measurements are kept short so the whole suite finishes in about a
//! minute; raise `measurement_time` locally for tighter intervals.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use shardis::resp::{parse_command, Limits, Out, Parsed, Progress};
use std::time::Duration;

/// A RESP multibulk request for `args`.
fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

/// Parses every request in `buf` as a connection does after one read;
/// returns the number of arguments seen.
#[inline]
fn parse_all(
    buf: &[u8],
    limits: &Limits,
    ranges: &mut Vec<(usize, usize)>,
    scratch: &mut Vec<u8>,
) -> usize {
    let mut pos = 0;
    let mut args = 0;
    scratch.clear();
    while pos < buf.len() {
        match parse_command(
            &buf[pos..],
            limits,
            &mut Progress::default(),
            ranges,
            scratch,
        ) {
            Ok(Parsed::Complete { consumed, .. }) => {
                args += ranges.len();
                pos += consumed;
            }
            Ok(Parsed::Incomplete { .. }) | Err(_) => {
                unreachable!("benchmark input is complete and valid")
            }
        }
    }
    args
}

fn parser(c: &mut Criterion) {
    let limits = Limits::default();
    let mut pipeline_gets = Vec::new();
    for i in 0..16 {
        pipeline_gets.extend(encode(&[b"GET", format!("key:{i:012}").as_bytes()]));
    }
    let small_set = encode(&[b"SET", b"key:000000000042", b"VXK"]);
    let big_value = vec![b'x'; 1024];
    let big_set = encode(&[b"SET", b"key:000000000042", &big_value]);
    let inline_ping = b"PING\r\n".to_vec();
    let mut mset_args: Vec<Vec<u8>> = vec![b"MSET".to_vec()];
    for i in 0..10 {
        mset_args.push(format!("key:{i:012}").into_bytes());
        mset_args.push(b"VXK".to_vec());
    }
    let mset_refs: Vec<&[u8]> = mset_args.iter().map(|a| a.as_slice()).collect();
    let mset = encode(&mset_refs);

    let cases: [(&str, &[u8], u64); 5] = [
        ("pipeline_16_get", &pipeline_gets, 16),
        ("set_3b", &small_set, 1),
        ("set_1kib", &big_set, 1),
        ("inline_ping", &inline_ping, 1),
        ("mset_10", &mset, 1),
    ];
    let mut g = c.benchmark_group("parse");
    for (name, buf, requests) in cases {
        g.throughput(Throughput::Elements(requests));
        g.bench_with_input(BenchmarkId::from_parameter(name), buf, |b, buf| {
            let mut ranges = Vec::with_capacity(32);
            let mut scratch = Vec::with_capacity(64);
            b.iter(|| parse_all(black_box(buf), &limits, &mut ranges, &mut scratch))
        });
    }
    g.finish();
}

fn writer(c: &mut Criterion) {
    let mut g = c.benchmark_group("write");
    let value16 = b"0123456789abcdef".to_vec();
    let items: Vec<Vec<u8>> = (0..100)
        .map(|i| format!("element:{i:08}").into_bytes())
        .collect();

    g.bench_function("bulk_16b", |b| {
        let mut out = Out::new(false);
        b.iter(|| {
            out.buf.clear();
            out.bulk(black_box(&value16));
            out.buf.len()
        })
    });
    g.bench_function("int", |b| {
        let mut out = Out::new(false);
        let mut n: i64 = 1_234_567;
        b.iter(|| {
            out.buf.clear();
            n = n.wrapping_add(1);
            out.int(black_box(n));
            out.buf.len()
        })
    });
    g.throughput(Throughput::Elements(100));
    g.bench_function("array_100_bulks", |b| {
        let mut out = Out::new(false);
        b.iter(|| {
            out.buf.clear();
            out.array(items.len());
            for it in &items {
                out.bulk(black_box(it));
            }
            out.buf.len()
        })
    });
    g.throughput(Throughput::Elements(1));
    for (proto, resp3) in [("resp2", false), ("resp3", true)] {
        g.bench_function(BenchmarkId::new("null", proto), |b| {
            let mut out = Out::new(resp3);
            b.iter(|| {
                out.buf.clear();
                out.null();
                out.buf.len()
            })
        });
        // A 10-pair map of bulk keys to integers, like HELLO or CONFIG GET.
        g.bench_function(BenchmarkId::new("map_10", proto), |b| {
            let mut out = Out::new(resp3);
            b.iter(|| {
                out.buf.clear();
                out.map(10);
                for (i, it) in items.iter().take(10).enumerate() {
                    out.bulk(black_box(it));
                    out.int(i as i64);
                }
                out.buf.len()
            })
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = parser, writer
}
criterion_main!(benches);
