//! LATENCY GRAPH's ASCII art: Redis's sparkline.c rendering (filled, 4
//! rows, 80 columns) of an event's samples, labelled by age.

use crate::sys::latency::Series;

const CHARSET_FILL: &[u8] = b"_o#";
const COLUMNS: usize = 80;
const ROWS: usize = 4;

struct Sample {
    value: f64,
    label: Vec<u8>,
}

/// The LATENCY GRAPH text for `event` at unix time `now`.
pub fn latency_graph(event: &str, ts: &Series, now: u64) -> String {
    let mut seq = Vec::new();
    let (mut min, mut max) = (0u64, 0u64);
    for s in ts.in_order() {
        if seq.is_empty() {
            min = s.ms;
            max = s.ms;
        } else {
            min = min.min(s.ms);
            max = max.max(s.ms);
        }
        let elapsed = now.saturating_sub(s.time);
        let label = if elapsed < 60 {
            format!("{elapsed}s")
        } else if elapsed < 3600 {
            format!("{}m", elapsed / 60)
        } else if elapsed < 86400 {
            format!("{}h", elapsed / 3600)
        } else {
            format!("{}d", elapsed / 86400)
        };
        seq.push(Sample {
            value: s.ms as f64,
            label: label.into_bytes(),
        });
    }
    let mut out = format!(
        "{event} - high {max} ms, low {min} ms (all time high {} ms)\n",
        ts.max
    )
    .into_bytes();
    out.extend(std::iter::repeat_n(b'-', COLUMNS));
    out.push(b'\n');
    render(&mut out, &seq);
    String::from_utf8_lossy(&out).into_owned()
}

fn render(out: &mut Vec<u8>, seq: &[Sample]) {
    let min = seq.iter().map(|s| s.value).fold(f64::INFINITY, f64::min);
    let max = seq
        .iter()
        .map(|s| s.value)
        .fold(f64::NEG_INFINITY, f64::max);
    for (i, chunk) in seq.chunks(COLUMNS).enumerate() {
        if i != 0 {
            out.push(b'\n');
        }
        render_range(out, chunk, min, max);
    }
}

/// sparklineRenderRange with SPARKLINE_FILL; every sample has a label.
fn render_range(out: &mut Vec<u8>, seq: &[Sample], min: f64, max: f64) {
    let relmax = if max - min == 0.0 { 1.0 } else { max - min };
    let steps = (CHARSET_FILL.len() * ROWS) as i64;
    let has_labels = !seq.is_empty();
    let mut row = 0;
    loop {
        let mut again = false;
        let mut chars = vec![b' '; seq.len()];
        for (j, s) in seq.iter().enumerate() {
            let relval = s.value - min;
            let step = (((relval * steps as f64) as i64) as f64 / relmax) as i64;
            let step = step.clamp(0, steps - 1);
            if row < ROWS {
                let charidx = step - ((ROWS - row - 1) * CHARSET_FILL.len()) as i64;
                again = true;
                if (0..CHARSET_FILL.len() as i64).contains(&charidx) {
                    chars[j] = CHARSET_FILL[charidx as usize];
                } else if charidx >= CHARSET_FILL.len() as i64 {
                    chars[j] = b'|';
                }
            } else {
                // One blank line between the graph and the labels.
                if has_labels && row - ROWS < 1 {
                    again = true;
                    break;
                }
                let at = row - ROWS - 1;
                if s.label.len() > at {
                    again = true;
                    chars[j] = s.label[at];
                }
            }
        }
        if !again {
            break;
        }
        row += 1;
        out.extend_from_slice(&chars);
        out.push(b'\n');
    }
}
