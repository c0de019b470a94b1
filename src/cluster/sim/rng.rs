//! The simulation's only source of randomness: SplitMix64 from the seed,
//! so one seed replays one history.

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// SplitMix64 (Steele, Lea, Flood): every seed, even 0, gives a
    /// full-period, well-mixed stream.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (0 when n is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// Uniform in lo..=hi.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    /// True with probability `per_mille` / 1000.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    /// A node name as `getRandomHexChars` makes them: 40 lower-case hex.
    pub fn node_id(&mut self) -> crate::cluster::bus::NodeId {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut id = [0u8; 40];
        for c in id.iter_mut() {
            *c = HEX[self.below(16) as usize];
        }
        crate::cluster::bus::NodeId(id)
    }
}
