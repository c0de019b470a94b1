//! Hash slots: `CRC16/XMODEM(key or its {hash tag}) & 16383`, always
//! computed, in cluster mode or not, because slots decide the owning shard.

/// Number of hash slots in Redis Cluster.
pub const SLOTS: usize = 16384;

/// The part of `key` that is hashed: the content of the first non-empty
/// `{...}` tag, else the whole key.
#[inline]
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = memchr::memchr(b'{', key) {
        if let Some(rel) = memchr::memchr(b'}', &key[open + 1..]) {
            if rel > 0 {
                return &key[open + 1..open + 1 + rel];
            }
        }
    }
    key
}

/// The hash slot of `key`.
#[inline]
pub fn key_slot(key: &[u8]) -> u16 {
    crc16_xmodem(hash_tag(key)) & (SLOTS as u16 - 1)
}

/// CRC16/XMODEM (polynomial 0x1021, initial 0, MSB first), eight bytes per
/// step ("slicing by 8"): a key's slot is computed on every lookup, and a
/// byte-at-a-time table walk is one dependent load per byte.
pub fn crc16_xmodem(data: &[u8]) -> u16 {
    let t = &CRC_TABLES;
    let mut crc: u16 = 0;
    let mut blocks = data.chunks_exact(8);
    for b in &mut blocks {
        crc = t[7][(b[0] ^ (crc >> 8) as u8) as usize]
            ^ t[6][(b[1] ^ crc as u8) as usize]
            ^ t[5][b[2] as usize]
            ^ t[4][b[3] as usize]
            ^ t[3][b[4] as usize]
            ^ t[2][b[5] as usize]
            ^ t[1][b[6] as usize]
            ^ t[0][b[7] as usize];
    }
    for &byte in blocks.remainder() {
        crc = (crc << 8) ^ t[0][((crc >> 8) as u8 ^ byte) as usize];
    }
    crc
}

/// `CRC_TABLES[k][b]`: the CRC of byte `b` followed by `k` zero bytes.
static CRC_TABLES: [[u16; 256]; 8] = crc_tables();

const fn crc_tables() -> [[u16; 256]; 8] {
    let mut t = [[0u16; 256]; 8];
    let mut b = 0;
    while b < 256 {
        let mut crc = (b as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        t[0][b] = crc;
        b += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut b = 0;
        while b < 256 {
            let prev = t[k - 1][b];
            t[k][b] = (prev << 8) ^ t[0][(prev >> 8) as usize];
            b += 1;
        }
        k += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_matches_the_byte_at_a_time_crate_at_every_length() {
        let mut x: u64 = 0x2545F4914F6CDD1D;
        for len in 0..200 {
            for _ in 0..20 {
                let data: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x as u8
                    })
                    .collect();
                assert_eq!(
                    crc16_xmodem(&data),
                    crc16::State::<crc16::XMODEM>::calculate(&data),
                    "{data:?}"
                );
            }
        }
    }

    #[test]
    fn slots_match_redis() {
        // Values checked against redis-server 7.0 (see shared/spec §7).
        let cases: &[(&[u8], u16)] = &[
            (b"123456789", 12739),
            (b"name", 5798),
            (b"bbb", 5287),
            (b"foo", 12182),
            (b"hello", 866),
            (b"a", 15495),
            (b"", 0),
            (b"{user1000}.following", 3443),
            (b"user1000", 3443),
            (b"foo{}{bar}", 8363),
            (b"foo{{bar}}zap", 4015),
            (b"foo{bar}{zap}", 5061),
            (b"{}foo", 9500),
            (b"mylist", 5282),
            (b"key:__rand_int__", 13782),
        ];
        for (key, slot) in cases {
            assert_eq!(key_slot(key), *slot, "{}", String::from_utf8_lossy(key));
        }
    }
}
