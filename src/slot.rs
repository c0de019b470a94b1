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
    crc16::State::<crc16::XMODEM>::calculate(hash_tag(key)) & (SLOTS as u16 - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

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
