//! The client-port request parser, as a connection drives it.
//!
//! The input is the bytes a client sends; its first byte picks where the
//! stream is cut into two reads. Checked: no panic; the requests and the
//! error found are the same whether the bytes arrive at once or cut
//! (resuming a partly parsed request must not change anything); argument
//! ranges lie inside the buffer; an incomplete request asks for more than
//! is there.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shardis::resp::{parse_command, Limits, Parsed, Progress, ProtocolError};

#[derive(Debug, PartialEq)]
enum Event {
    Request(Vec<Vec<u8>>),
    Error(ProtocolError),
}

/// Parses `data` delivered in the pieces `cuts` marks, as conn.rs does:
/// parse every complete request, keep the unparsed tail, read more.
fn run(data: &[u8], cuts: &[usize], limits: &Limits) -> Vec<Event> {
    let mut events = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut progress = Progress::default();
    let mut ranges = Vec::new();
    let mut scratch = Vec::new();
    let mut fed = 0;
    for &cut in cuts.iter().chain(std::iter::once(&data.len())) {
        buf.extend_from_slice(&data[fed..cut]);
        fed = cut;
        let mut pos = 0;
        while pos < buf.len() {
            scratch.clear();
            match parse_command(
                &buf[pos..],
                limits,
                &mut progress,
                &mut ranges,
                &mut scratch,
            ) {
                Ok(Parsed::Complete { consumed, inline }) => {
                    assert!(consumed > 0 && pos + consumed <= buf.len());
                    let src = if inline {
                        &scratch[..]
                    } else {
                        &buf[pos..pos + consumed]
                    };
                    let args = ranges
                        .iter()
                        .map(|&(s, e)| {
                            assert!(s <= e && e <= src.len());
                            src[s..e].to_vec()
                        })
                        .collect::<Vec<_>>();
                    if !args.is_empty() {
                        events.push(Event::Request(args));
                    }
                    pos += consumed;
                }
                Ok(Parsed::Incomplete { need }) => {
                    assert!(need > buf.len() - pos);
                    break;
                }
                Err(e) => {
                    events.push(Event::Error(e));
                    return events;
                }
            }
        }
        buf.drain(..pos);
    }
    events
}

fuzz_target!(|input: &[u8]| {
    let Some((&first, data)) = input.split_first() else {
        return;
    };
    let limits = Limits {
        authenticated: first & 0x80 == 0,
        ..Limits::default()
    };
    let whole = run(data, &[], &limits);
    let cut = (first as usize & 0x7f).min(data.len());
    assert_eq!(whole, run(data, &[cut], &limits), "cut at {cut}");
    let bytes: Vec<usize> = (1..data.len()).collect();
    if data.len() <= 64 {
        assert_eq!(whole, run(data, &bytes, &limits), "byte by byte");
    }
});
