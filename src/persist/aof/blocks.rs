//! A byte queue in fixed 16 KiB blocks, as Redis 7's replication buffer
//! (`replBufBlock`): bytes go in at the back, leave from the front, and
//! what it allocates stays within one block of what it holds. A ring that
//! grows by doubling (a `VecDeque<u8>`) holds up to twice its content
//! once the backlog is full and trimmed from the front.

use std::collections::VecDeque;

/// Redis's PROTO_REPLY_CHUNK_BYTES, the size of its buffer blocks.
pub const BLOCK: usize = 16 * 1024;

#[derive(Default)]
pub struct Blocks {
    /// Every block has capacity [`BLOCK`]; only the last is partly filled.
    blocks: VecDeque<Vec<u8>>,
    /// Bytes of the first block already taken off the front.
    skip: usize,
    len: usize,
}

impl Blocks {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes allocated for the blocks.
    pub fn allocated(&self) -> usize {
        self.blocks.len() * BLOCK
    }

    pub fn push(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len();
        while !bytes.is_empty() {
            let room = self.blocks.back().map_or(0, |b| BLOCK - b.len());
            if room == 0 {
                self.blocks.push_back(Vec::with_capacity(BLOCK));
                continue;
            }
            let last = self.blocks.back_mut().expect("a block with room");
            let n = room.min(bytes.len());
            last.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
        }
    }

    /// Drops the first `n` bytes (at most all of them).
    pub fn drop_front(&mut self, n: usize) {
        let mut n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let first = self.blocks.front().expect("bytes are held").len() - self.skip;
            if n < first {
                self.skip += n;
                return;
            }
            n -= first;
            self.blocks.pop_front();
            self.skip = 0;
        }
        if self.len == 0 {
            self.blocks.clear();
            self.skip = 0;
        }
    }

    /// Appends bytes `from..from + n` of the held ones to `out`.
    pub fn copy_out(&self, from: usize, n: usize, out: &mut Vec<u8>) {
        assert!(from + n <= self.len, "copy past the held bytes");
        let mut at = from + self.skip;
        let mut left = n;
        for block in self.blocks.iter().skip(at / BLOCK) {
            if left == 0 {
                break;
            }
            let start = at % BLOCK;
            let take = left.min(block.len() - start);
            out.extend_from_slice(&block[start..start + take]);
            left -= take;
            at += take;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pushes, trims and reads against a plain Vec, across block edges.
    #[test]
    fn behaves_as_a_byte_queue() {
        let mut blocks = Blocks::default();
        let mut model: Vec<u8> = Vec::new();
        let mut next = 0u8;
        let sizes = [1, BLOCK - 1, 2, BLOCK, 3 * BLOCK + 5, 17, 0, BLOCK + 1];
        for (i, &size) in sizes.iter().cycle().take(64).enumerate() {
            let bytes: Vec<u8> = (0..size)
                .map(|_| {
                    next = next.wrapping_add(1);
                    next
                })
                .collect();
            blocks.push(&bytes);
            model.extend_from_slice(&bytes);
            let cut = (model.len() * (i % 3)) / 4;
            blocks.drop_front(cut);
            model.drain(..cut);
            assert_eq!(blocks.len(), model.len());
            for (from, n) in [(0, model.len()), (model.len() / 3, model.len() / 2)] {
                let mut out = Vec::new();
                blocks.copy_out(from, n.min(model.len() - from), &mut out);
                assert_eq!(out, model[from..from + n.min(model.len() - from)]);
            }
            assert!(blocks.allocated() <= model.len() + 2 * BLOCK);
        }
        blocks.drop_front(usize::MAX);
        assert!(blocks.is_empty());
        assert_eq!(blocks.allocated(), 0);
    }
}
