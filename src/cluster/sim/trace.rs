//! The event trace: every line is hashed (so two runs of a seed can be
//! compared by one number), the last lines are kept for a failure
//! report, and all of them are printed when replaying a seed.

use std::collections::VecDeque;

/// Lines a failure report shows.
pub const TAIL: usize = 60;

pub struct Trace {
    hash: u64,
    tail: VecDeque<String>,
    print: bool,
}

impl Trace {
    pub fn new(print: bool) -> Trace {
        Trace {
            hash: 0xcbf2_9ce4_8422_2325,
            tail: VecDeque::with_capacity(TAIL),
            print,
        }
    }

    pub fn line(&mut self, text: String) {
        // FNV-1a: stable across builds and platforms, unlike std's hasher.
        for b in text.bytes().chain(std::iter::once(b'\n')) {
            self.hash ^= b as u64;
            self.hash = self.hash.wrapping_mul(0x0100_0000_01b3);
        }
        if self.print {
            println!("{text}");
        }
        if self.tail.len() == TAIL {
            self.tail.pop_front();
        }
        self.tail.push_back(text);
    }

    pub fn hash(&self) -> u64 {
        self.hash
    }

    pub fn tail(&self) -> Vec<String> {
        self.tail.iter().cloned().collect()
    }
}
