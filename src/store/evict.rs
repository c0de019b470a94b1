//! Choosing keys to evict under `maxmemory` (Redis 7.0's evict.c): the
//! policies, random sampling of a shard's keyspace, and the pool of best
//! candidates kept between rounds. Deleting the chosen key and what
//! follows (DEL in the AOF, `evicted` events, ...) is server/evict.rs.

use super::access::Access;
use super::{Db, Entry, SmallBytes, Store};

/// `maxmemory-policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    NoEviction,
    AllkeysLru,
    AllkeysLfu,
    AllkeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    /// The policy a (validated) `maxmemory-policy` value names.
    pub fn parse(name: &str) -> Policy {
        match name {
            "allkeys-lru" => Policy::AllkeysLru,
            "allkeys-lfu" => Policy::AllkeysLfu,
            "allkeys-random" => Policy::AllkeysRandom,
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => Policy::NoEviction,
        }
    }

    /// Only keys with a TTL are candidates.
    pub fn volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }

    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllkeysLfu | Policy::VolatileLfu)
    }
}

/// Candidates kept between rounds (Redis's EVPOOL_SIZE).
const POOL_SIZE: usize = 16;

/// The best candidates seen so far, ascending by score (the last one is
/// evicted first). Entries may be stale: a key is checked again before it
/// is evicted.
#[derive(Default)]
pub struct Pool {
    entries: Vec<(u64, usize, SmallBytes)>,
}

impl Pool {
    fn offer(&mut self, score: u64, db: usize, key: &[u8]) {
        if self
            .entries
            .iter()
            .any(|(_, d, k)| *d == db && k.as_slice() == key)
        {
            return;
        }
        let full = self.entries.len() >= POOL_SIZE;
        if full && self.entries.first().is_some_and(|(s, _, _)| *s >= score) {
            return;
        }
        let at = self.entries.partition_point(|(s, _, _)| *s < score);
        self.entries.insert(at, (score, db, SmallBytes::new(key)));
        if self.entries.len() > POOL_SIZE {
            self.entries.remove(0);
        }
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

/// Calls `f` for up to `n` randomly chosen keys of `db` (only keys with a
/// TTL when `volatile`): a random slot table, then a random key of it.
fn sample(
    db: &Db,
    n: usize,
    volatile: bool,
    random: &mut impl FnMut() -> u64,
    mut f: impl FnMut(&[u8], &Entry, Option<u64>),
) {
    let have = if volatile { db.expires_len() } else { db.len() };
    if have == 0 {
        return;
    }
    let tables = db.tables();
    if have <= n {
        // As few candidates as samples: look at all of them.
        for t in tables {
            if volatile {
                for (k, &at) in &t.expires {
                    if let Some(e) = t.keys.get(k.as_slice()) {
                        f(k.as_slice(), e, Some(at));
                    }
                }
            } else {
                for (k, e) in &t.keys {
                    let at = t.expires.get(k.as_slice()).copied();
                    f(k.as_slice(), e, at);
                }
            }
        }
        return;
    }
    for _ in 0..n {
        // Walk from a random table to the next one holding candidates.
        let start = random() as usize % tables.len();
        let found = (0..tables.len())
            .map(|j| &tables[(start + j) % tables.len()])
            .find(|t| {
                if volatile {
                    !t.expires.is_empty()
                } else {
                    !t.keys.is_empty()
                }
            });
        let Some(t) = found else { return };
        let pick = random() as usize;
        if volatile {
            let (k, &at) = t
                .expires
                .iter()
                .nth(pick % t.expires.len())
                .expect("non-empty");
            if let Some(e) = t.keys.get(k.as_slice()) {
                f(k.as_slice(), e, Some(at));
            }
        } else {
            let (k, e) = t.keys.iter().nth(pick % t.keys.len()).expect("non-empty");
            let at = if t.expires.is_empty() {
                None
            } else {
                t.expires.get(k.as_slice()).copied()
            };
            f(k.as_slice(), e, at);
        }
    }
}

/// The key to evict next from `store` under `policy`, or None when no key
/// qualifies. `next_db` rotates the random policies over the databases.
pub fn choose(
    store: &Store,
    policy: Policy,
    samples: usize,
    access: &Access,
    pool: &mut Pool,
    next_db: &mut usize,
    random: &mut impl FnMut() -> u64,
) -> Option<(usize, Vec<u8>)> {
    let volatile = policy.volatile();
    let candidates = |db: &Db| if volatile { db.expires_len() } else { db.len() };
    match policy {
        Policy::NoEviction => None,
        Policy::AllkeysRandom | Policy::VolatileRandom => {
            let n = store.dbs.len();
            for i in 0..n {
                let d = (*next_db + i) % n;
                let mut picked = None;
                sample(&store.dbs[d], 1, volatile, random, |k, _, _| {
                    picked = Some(k.to_vec())
                });
                if let Some(k) = picked {
                    *next_db = d + 1;
                    return Some((d, k));
                }
            }
            None
        }
        _ => loop {
            let mut any = false;
            for (d, db) in store.dbs.iter().enumerate() {
                if candidates(db) == 0 {
                    continue;
                }
                any = true;
                sample(db, samples, volatile, random, |k, e, at| {
                    let score = match policy {
                        Policy::VolatileTtl => u64::MAX - at.unwrap_or(u64::MAX),
                        Policy::AllkeysLfu | Policy::VolatileLfu => match access.lfu {
                            Some(l) => 255 - u64::from(l.decayed(e.lru)),
                            None => 0,
                        },
                        _ => u64::from(access.lru_secs.saturating_sub(e.lru)),
                    };
                    pool.offer(score, d, k);
                });
            }
            if !any {
                pool.clear();
                return None;
            }
            // The best candidate that still exists (and still qualifies).
            while let Some((_, d, key)) = pool.entries.pop() {
                let db = &store.dbs[d];
                let alive = if volatile {
                    db.expire_of(key.as_slice()).is_some()
                } else {
                    db.peek(key.as_slice(), 0).is_some()
                };
                if alive {
                    return Some((d, key.as_slice().to_vec()));
                }
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::access::Lfu;
    use crate::store::Value;

    fn store_with(keys: &[(&str, u32, Option<u64>)]) -> Store {
        let mut db = Db::new(1);
        for &(k, lru, ttl) in keys {
            db.set_with_expire(k.as_bytes(), Value::from_bytes(b"v"), ttl, lru);
        }
        Store { dbs: vec![db] }
    }

    fn rng() -> impl FnMut() -> u64 {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    fn evict_all(store: &mut Store, policy: Policy, access: Access) -> Vec<String> {
        let (mut pool, mut next, mut random) = (Pool::default(), 0, rng());
        let mut order = Vec::new();
        while let Some((d, k)) = choose(
            store,
            policy,
            16,
            &access,
            &mut pool,
            &mut next,
            &mut random,
        ) {
            store.dbs[d].remove(&k);
            order.push(String::from_utf8(k).unwrap());
        }
        order
    }

    #[test]
    fn lru_evicts_the_longest_idle_first_and_volatile_spares_persistent_keys() {
        let keys = [
            ("old", 10, None),
            ("mid", 50, Some(9_000)),
            ("new", 90, Some(5_000)),
        ];
        let access = Access {
            lru_secs: 100,
            lfu: None,
        };
        // Sampling 16 of 3 keys sees them all: exact LRU order.
        assert_eq!(
            evict_all(&mut store_with(&keys), Policy::AllkeysLru, access),
            ["old", "mid", "new"]
        );
        assert_eq!(
            evict_all(&mut store_with(&keys), Policy::VolatileLru, access),
            ["mid", "new"]
        );
        assert_eq!(
            evict_all(&mut store_with(&keys), Policy::VolatileTtl, access),
            ["new", "mid"]
        );
        assert_eq!(
            evict_all(&mut store_with(&keys), Policy::NoEviction, access),
            Vec::<String>::new()
        );
        let mut s = store_with(&keys);
        assert_eq!(evict_all(&mut s, Policy::AllkeysRandom, access).len(), 3);
        let mut s = store_with(&keys);
        assert_eq!(evict_all(&mut s, Policy::VolatileRandom, access).len(), 2);
        assert_eq!(s.dbs[0].len(), 1);
    }

    #[test]
    fn lfu_evicts_the_least_used_first() {
        let lfu = Lfu {
            minutes: 10,
            log_factor: 10,
            decay_time: 1,
        };
        let stamp = |counter: u32| (10 << 8) | counter;
        let keys = [
            ("hot", stamp(200), None),
            ("cold", stamp(1), None),
            ("warm", stamp(50), None),
        ];
        let access = Access {
            lru_secs: 0,
            lfu: Some(lfu),
        };
        assert_eq!(
            evict_all(&mut store_with(&keys), Policy::AllkeysLfu, access),
            ["cold", "warm", "hot"]
        );
    }
}
