//! `SlotMap`: the keyspace's per-slot hash table (keys and, beside them,
//! expiry times).
//!
//! Open addressing with Robin Hood linear probing, keys and values stored
//! inline in one allocation that also holds a 2-byte tag per bucket, kept
//! between 87 % and 93 % full. std's hash map (hashbrown) doubles its
//! buckets, so it sits between 44 % and 88 % full: with a 56-byte bucket
//! that was ~113 bytes of RSS per small key; with this table it is ~67
//! (~61 allocated: 52-byte buckets, `PackedBox`). Growing by ~7 % at a
//! time rather than ~12 % also leaves fewer of glibc's holes behind.
//!
//! Any bucket count is allowed (a bucket's home is `mix(hash) * cap >> 64`,
//! see `home`), so
//! a table grows by ~7 % at a time; with a table per slot each growth
//! moves only that slot's keys. Robin Hood ordering (an entry farther from
//! its home never sits behind one nearer to its own) lets a lookup stop at
//! the first bucket nearer its home than the probe distance, so a miss
//! costs about what a hit costs even at 93 %, and removal shifts the run
//! behind the hole back (no tombstones).
//!
//! Tag layout: 0 = empty; else low byte = distance from home + 1, high
//! byte = the hash's low 8 bits (checked before comparing keys).

use super::bytes::SmallBytes;
use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::hash::BuildHasher;
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

/// Bytes before the tags: the allocation's header.
const HEADER: usize = 8;

/// A key and its value, as stored.
struct Bucket<V> {
    key: SmallBytes,
    value: V,
}

pub struct SlotMap<V> {
    /// An 8-byte header, `cap` tags (u16), then, aligned, `cap` buckets
    /// (`layout`). Dangling when `cap` is 0.
    ptr: NonNull<u8>,
    cap: u32,
    len: u32,
    _owns: PhantomData<Bucket<V>>,
}

// SAFETY: a SlotMap owns its buckets as a Vec would; tables move between
// threads (a flushed keyspace is freed on another one).
unsafe impl<V: Send> Send for SlotMap<V> {}
unsafe impl<V: Sync> Sync for SlotMap<V> {}

/// The hash of a key (ahash, one per-process random seed: no flooding).
#[inline]
pub fn hash_key(key: &[u8]) -> u64 {
    super::db::SeededState.hash_one(key)
}

#[inline]
fn tag_of(h: u64) -> u16 {
    ((h as u8) as u16) << 8 | 1
}

/// Entries a table of `cap` buckets holds before it grows.
#[inline]
fn max_len(cap: usize) -> usize {
    if cap <= 16 {
        cap.saturating_sub(1)
    } else {
        cap * 93 / 100
    }
}

/// Buckets for `n` entries after a growth: ~87 % full.
#[inline]
fn cap_for(n: usize) -> usize {
    (n * 100 / 87 + 1).max(n + 1)
}

impl<V> Default for SlotMap<V> {
    fn default() -> Self {
        SlotMap {
            ptr: NonNull::dangling(),
            cap: 0,
            len: 0,
            _owns: PhantomData,
        }
    }
}

impl<V> SlotMap<V> {
    #[inline]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Buckets allocated (each `bucket_bytes()` long).
    #[inline]
    pub fn capacity(&self) -> usize {
        self.cap as usize
    }

    /// Bytes a bucket takes, its tag included.
    pub const fn bucket_bytes() -> usize {
        std::mem::size_of::<Bucket<V>>() + 2
    }

    /// The allocation: an 8-byte header (the first bucket that may be
    /// occupied, a u32), the tags, then the buckets, aligned.
    fn layout(cap: usize) -> Layout {
        let header = Layout::new::<[u32; 2]>();
        let tags = Layout::array::<u16>(cap).expect("table size");
        let buckets = Layout::array::<Bucket<V>>(cap).expect("table size");
        let (layout, _) = header.extend(tags).expect("table size");
        let (layout, offset) = layout.extend(buckets).expect("table size");
        debug_assert_eq!(offset, Self::bucket_offset(cap));
        layout.pad_to_align()
    }

    /// The bucket where hash `h`'s probe starts. The hash is first mixed
    /// with the allocation's address and size, so each rebuilt table
    /// orders keys differently from the tables before it: keys are drained
    /// in bucket order (a migrating slot: iterate, delete), and a table
    /// rebuilt for what is left, ordered as before, would find all of it
    /// homed in the last part of its buckets (probe runs of thousands, a
    /// rebuild per delete). The address alone repeats: the allocator hands
    /// a shrinking table the block its predecessor but one had.
    #[inline]
    fn home(&self, h: u64) -> usize {
        let table = self.ptr.as_ptr() as u64 ^ ((self.cap as u64) << 40);
        // Addresses differ in few bits: spread them over all 64 first.
        let seed = table.wrapping_mul(0xD6E8_FEB8_6659_FD93);
        let mixed = (h ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        ((mixed as u128 * self.cap as u128) >> 64) as usize
    }

    #[inline]
    fn tags(&self) -> *mut u16 {
        self.ptr.as_ptr().wrapping_add(HEADER) as *mut u16
    }

    /// No bucket before this index is occupied: iteration starts here, so
    /// that draining a slot from the front (migration's GETKEYSINSLOT,
    /// then MIGRATE) does not rescan the emptied part each time. Callers
    /// check `cap > 0`.
    #[inline]
    fn first(&self) -> usize {
        // SAFETY: the header's first u32, written by with_buckets.
        unsafe { *(self.ptr.as_ptr() as *const u32) as usize }
    }

    #[inline]
    fn set_first(&mut self, i: usize) {
        // SAFETY: as `first`; i <= cap fits a u32.
        unsafe { *(self.ptr.as_ptr() as *mut u32) = i as u32 };
    }

    /// Where the buckets start: after the header and tags, aligned (as
    /// `layout`).
    #[inline]
    fn bucket_offset(cap: usize) -> usize {
        let align = std::mem::align_of::<Bucket<V>>().max(4);
        (HEADER + cap * 2 + align - 1) & !(align - 1)
    }

    #[inline]
    fn buckets(&self) -> *mut Bucket<V> {
        let offset = Self::bucket_offset(self.cap as usize);
        // Within the allocation (or dangling with cap 0, never read).
        self.ptr.as_ptr().wrapping_add(offset) as *mut Bucket<V>
    }

    #[inline]
    fn tag(&self, i: usize) -> u16 {
        // SAFETY: callers pass i < cap.
        unsafe { *self.tags().add(i) }
    }

    #[inline]
    fn bucket(&self, i: usize) -> *mut Bucket<V> {
        // SAFETY: callers pass i < cap.
        unsafe { self.buckets().add(i) }
    }

    /// Walks hash `h`'s probe sequence: the first bucket whose tag matches
    /// `h` and that `is_it` accepts, or None once the Robin Hood order says
    /// no later bucket can hold it.
    #[inline]
    fn probe(&self, h: u64, mut is_it: impl FnMut(usize) -> bool) -> Option<usize> {
        let cap = self.cap as usize;
        if self.len == 0 {
            return None;
        }
        let want = tag_of(h) >> 8;
        let mut i = self.home(h);
        let mut dist1: u16 = 1;
        loop {
            let t = self.tag(i);
            if t & 0xff < dist1 {
                return None;
            }
            if t >> 8 == want && is_it(i) {
                return Some(i);
            }
            dist1 += 1;
            i += 1;
            if i == cap {
                i = 0;
            }
        }
    }

    /// The bucket index holding `key`, whose hash is `h`.
    #[inline]
    fn find(&self, key: &[u8], h: u64) -> Option<usize> {
        // SAFETY: a non-empty tag marks an initialised bucket.
        self.probe(h, |i| unsafe { (*self.bucket(i)).key.as_slice() } == key)
    }

    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        let i = self.find(key, hash_key(key))?;
        // SAFETY: found buckets are initialised.
        Some(unsafe { &(*self.bucket(i)).value })
    }

    #[inline]
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        let i = self.find(key, hash_key(key))?;
        // SAFETY: found buckets are initialised; &mut self is exclusive.
        Some(unsafe { &mut (*self.bucket(i)).value })
    }

    #[inline]
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.find(key, hash_key(key)).is_some()
    }

    /// Inserts or replaces; returns the value replaced.
    pub fn insert(&mut self, key: SmallBytes, value: V) -> Option<V> {
        let h = hash_key(&key);
        if let Some(i) = self.find(&key, h) {
            // SAFETY: found buckets are initialised.
            return Some(std::mem::replace(
                unsafe { &mut (*self.bucket(i)).value },
                value,
            ));
        }
        if self.len as usize + 1 > max_len(self.cap as usize) {
            self.rebuild(cap_for(self.len as usize + 1));
        }
        self.insert_new(Bucket { key, value }, h);
        None
    }

    /// Places an entry known to be absent; the table has room for it.
    fn insert_new(&mut self, bucket: Bucket<V>, h: u64) {
        let cap = self.cap as usize;
        let mut carry = bucket;
        let mut carry_tag = tag_of(h);
        let mut i = self.home(h);
        loop {
            let t = self.tag(i);
            if t == 0 {
                // SAFETY: i < cap; an empty bucket is uninitialised.
                unsafe {
                    *self.tags().add(i) = carry_tag;
                    ptr::write(self.bucket(i), carry);
                }
                self.len += 1;
                if i < self.first() {
                    self.set_first(i);
                }
                return;
            }
            if t & 0xff < carry_tag & 0xff {
                // The resident is nearer its home: it moves on instead.
                // SAFETY: i < cap, the bucket is initialised.
                unsafe {
                    *self.tags().add(i) = carry_tag;
                    carry = ptr::replace(self.bucket(i), carry);
                }
                carry_tag = t;
            }
            if carry_tag & 0xff == 0xff {
                // A probe distance the tag cannot hold: only a pathological
                // run of hashes gets here. The carried entry is outside the
                // table, whose invariants hold: grow and place it again.
                self.rebuild(cap_for(self.len as usize + 1).max(cap + cap / 2 + 1));
                let h = hash_key(&carry.key);
                return self.insert_new(carry, h);
            }
            carry_tag += 1;
            i += 1;
            if i == cap {
                i = 0;
            }
        }
    }

    /// Removes `key`; returns its value.
    pub fn remove(&mut self, key: &[u8]) -> Option<V> {
        let i = self.find(key, hash_key(key))?;
        let (_, value) = self.take_at(i);
        Some(value)
    }

    /// Takes the entry at `i` out and shifts the run behind it back.
    fn take_at(&mut self, mut i: usize) -> (SmallBytes, V) {
        let cap = self.cap as usize;
        // SAFETY: i holds an initialised bucket, read out once; the moves
        // below keep every non-empty tag's bucket initialised.
        let taken = unsafe { ptr::read(self.bucket(i)) };
        loop {
            let j = if i + 1 == cap { 0 } else { i + 1 };
            let t = self.tag(j);
            if t & 0xff <= 1 {
                // Empty, or at its home: the run ends here.
                unsafe { *self.tags().add(i) = 0 };
                if i == self.first() {
                    let mut first = i;
                    while first < cap && self.tag(first) == 0 {
                        first += 1;
                    }
                    self.set_first(first);
                }
                break;
            }
            unsafe {
                ptr::copy_nonoverlapping(self.bucket(j), self.bucket(i), 1);
                *self.tags().add(i) = t - 1;
            }
            i = j;
        }
        self.len -= 1;
        (taken.key, taken.value)
    }

    /// Rebuilds the table with at least `min_cap` buckets (at least enough
    /// for its entries); frees it entirely when empty and `min_cap` is 0.
    fn rebuild(&mut self, min_cap: usize) {
        let len = self.len as usize;
        let new_cap = if len == 0 && min_cap == 0 {
            0
        } else {
            min_cap.max(len + 1)
        };
        let old = std::mem::replace(self, SlotMap::with_buckets(new_cap));
        let mut old = std::mem::ManuallyDrop::new(old);
        for i in 0..old.cap as usize {
            if old.tag(i) != 0 {
                // SAFETY: initialised; the old table is freed below without
                // dropping its buckets, each moved out exactly once.
                let b = unsafe { ptr::read(old.bucket(i)) };
                let h = hash_key(&b.key);
                self.insert_new(b, h);
            }
        }
        old.free_allocation();
    }

    fn with_buckets(cap: usize) -> SlotMap<V> {
        if cap == 0 {
            return SlotMap::default();
        }
        let layout = Self::layout(cap);
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { alloc(layout) };
        let Some(ptr) = NonNull::new(raw) else {
            handle_alloc_error(layout)
        };
        let mut map = SlotMap {
            ptr,
            cap: u32::try_from(cap).expect("slot table size"),
            len: 0,
            _owns: PhantomData,
        };
        // SAFETY: the tags are cap u16s after the header.
        unsafe { ptr::write_bytes(map.tags(), 0, cap) };
        map.set_first(cap);
        map
    }

    /// Frees the allocation without dropping any bucket.
    fn free_allocation(&mut self) {
        if self.cap > 0 {
            let layout = Self::layout(self.cap as usize);
            // SAFETY: allocated by with_buckets with this layout.
            unsafe { dealloc(self.ptr.as_ptr(), layout) };
        }
        self.cap = 0;
        self.len = 0;
        self.ptr = NonNull::dangling();
    }

    /// Shrinks to about `min` entries' worth of buckets (never below what
    /// the entries need at ~87 %); an empty table is freed.
    pub fn shrink_to(&mut self, min: usize) {
        let want = if self.len == 0 && min == 0 {
            0
        } else {
            cap_for(min.max(self.len as usize))
        };
        if want < self.cap as usize {
            self.rebuild(want);
        }
    }

    /// Hints the CPU to fetch the tags around the home of hash `h`: the
    /// first step of prefetching a lookup (`prefetch_bucket` is the next,
    /// once they have arrived).
    #[inline]
    pub fn prefetch_tags(&self, h: u64) {
        if self.cap != 0 {
            let i = self.home(h);
            prefetch_read(self.tags().wrapping_add(i) as *const u8);
        }
    }

    /// Hints the CPU to fetch the bucket a lookup of hash `h` will compare
    /// first: the first one whose tag matches (probe distances average
    /// several buckets at this table's load, so the home bucket is often
    /// not it). Reads the tags, so `prefetch_tags` should come first.
    #[inline]
    pub fn prefetch_bucket(&self, h: u64) {
        if let Some(i) = self.probe(h, |_| true) {
            // A bucket may straddle two cache lines: the key in one, the
            // value in the next.
            let b = self.bucket(i) as *const u8;
            prefetch_read(b);
            prefetch_read(b.wrapping_add(std::mem::size_of::<Bucket<V>>() - 1));
        }
    }

    pub fn iter(&self) -> Iter<'_, V> {
        let at = if self.cap == 0 { 0 } else { self.first() };
        Iter { map: self, at }
    }

    pub fn keys(&self) -> impl Iterator<Item = &SmallBytes> {
        self.iter().map(|(k, _)| k)
    }

    /// Takes every entry out, leaving the table empty (and freed).
    pub fn drain(&mut self) -> IntoIter<V> {
        IntoIter {
            map: std::mem::take(self),
            at: 0,
        }
    }
}

/// A hint to fetch the cache line at `p` (a no-op off x86_64).
#[inline]
pub fn prefetch_read(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

impl<V> Drop for SlotMap<V> {
    fn drop(&mut self) {
        if std::mem::needs_drop::<Bucket<V>>() {
            for i in 0..self.cap as usize {
                if self.tag(i) != 0 {
                    // SAFETY: initialised, dropped once.
                    unsafe { ptr::drop_in_place(self.bucket(i)) };
                }
            }
        }
        self.free_allocation();
    }
}

impl<V: Clone> Clone for SlotMap<V> {
    fn clone(&self) -> Self {
        let mut copy = SlotMap::with_buckets(self.cap as usize);
        for i in 0..self.cap as usize {
            if self.tag(i) != 0 {
                // SAFETY: initialised source; the copy's bucket i is empty.
                unsafe {
                    let b = &*self.bucket(i);
                    ptr::write(
                        copy.bucket(i),
                        Bucket {
                            key: b.key.clone(),
                            value: b.value.clone(),
                        },
                    );
                    *copy.tags().add(i) = self.tag(i);
                }
                copy.len += 1;
            }
        }
        if copy.cap > 0 {
            copy.set_first(self.first());
        }
        copy
    }
}

pub struct Iter<'a, V> {
    map: &'a SlotMap<V>,
    at: usize,
}

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = (&'a SmallBytes, &'a V);
    fn next(&mut self) -> Option<Self::Item> {
        while self.at < self.map.cap as usize {
            let i = self.at;
            self.at += 1;
            if self.map.tag(i) != 0 {
                // SAFETY: initialised; borrowed for the map's lifetime.
                let b = unsafe { &*self.map.bucket(i) };
                return Some((&b.key, &b.value));
            }
        }
        None
    }
}

impl<'a, V> IntoIterator for &'a SlotMap<V> {
    type Item = (&'a SmallBytes, &'a V);
    type IntoIter = Iter<'a, V>;
    fn into_iter(self) -> Iter<'a, V> {
        self.iter()
    }
}

/// Owning iterator (from [`SlotMap::drain`]).
pub struct IntoIter<V> {
    map: SlotMap<V>,
    at: usize,
}

impl<V> Iterator for IntoIter<V> {
    type Item = (SmallBytes, V);
    fn next(&mut self) -> Option<Self::Item> {
        while self.at < self.map.cap as usize {
            let i = self.at;
            self.at += 1;
            if self.map.tag(i) != 0 {
                // SAFETY: moved out once; the tag is cleared so that the
                // map's drop skips it.
                unsafe {
                    *self.map.tags().add(i) = 0;
                    let b = ptr::read(self.map.bucket(i));
                    self.map.len -= 1;
                    return Some((b.key, b.value));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn key(n: u64) -> Vec<u8> {
        format!("key:{n:012}").into_bytes()
    }

    #[test]
    fn behaves_like_a_hash_map_through_inserts_and_removes() {
        let mut ours: SlotMap<u64> = SlotMap::default();
        let mut model: HashMap<Vec<u8>, u64> = HashMap::new();
        let mut x: u64 = 0x9E3779B97F4A7C15;
        for step in 0..200_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = key(x % 3000);
            match x % 5 {
                0..=2 => {
                    assert_eq!(
                        ours.insert(SmallBytes::new(&k), step),
                        model.insert(k, step)
                    );
                }
                3 => assert_eq!(ours.remove(&k), model.remove(&k)),
                _ => assert_eq!(ours.get(&k), model.get(&k)),
            }
            assert_eq!(ours.len(), model.len());
            if step % 1000 == 0 {
                check_first(&ours);
            }
            if step % 50_000 == 0 {
                ours.shrink_to(0);
            }
        }
        let mut seen: Vec<(Vec<u8>, u64)> = ours.iter().map(|(k, v)| (k.to_vec(), *v)).collect();
        let mut want: Vec<(Vec<u8>, u64)> = model.into_iter().collect();
        seen.sort();
        want.sort();
        assert_eq!(seen, want);
        let drained = ours.drain().count();
        assert_eq!(drained, want.len());
        assert!(ours.is_empty() && ours.capacity() == 0);
    }

    /// `first` is a lower bound of the occupied buckets, and exact once
    /// keys are drained from the front as a migration does.
    fn check_first<V>(m: &SlotMap<V>) {
        if m.cap > 0 {
            let lowest = (0..m.cap as usize)
                .find(|&i| m.tag(i) != 0)
                .unwrap_or(m.cap as usize);
            assert!(m.first() <= lowest, "first {} > lowest {lowest}", m.first());
        }
    }

    #[test]
    fn draining_from_the_front_moves_where_iteration_starts() {
        let mut m: SlotMap<u64> = SlotMap::default();
        for n in 0..50_000u64 {
            m.insert(SmallBytes::new(&key(n)), n);
        }
        while !m.is_empty() {
            let batch: Vec<Vec<u8>> = m.keys().take(10).map(|k| k.to_vec()).collect();
            for k in &batch {
                assert!(m.remove(k).is_some());
            }
            check_first(&m);
            if m.cap > 0 && !m.is_empty() {
                assert_ne!(m.tag(m.first()), 0, "first points at an empty bucket");
            }
        }
    }

    /// A migrating slot is emptied in iteration order, with the shrinking
    /// db.rs does after each delete: the tables it rebuilds for what is
    /// left shrink geometrically (a table ordered like its predecessors
    /// would have all of it homed in its last buckets, and grew instead:
    /// a rebuild per delete).
    #[test]
    fn draining_in_bucket_order_shrinks_without_rebuild_storms() {
        let mut m: SlotMap<u64> = SlotMap::default();
        for n in 0..180_000u64 {
            m.insert(SmallBytes::new(&key(n)), n);
        }
        let (mut rebuilds, mut last) = (0, m.capacity());
        while !m.is_empty() {
            let batch: Vec<Vec<u8>> = m.keys().take(10).map(|k| k.to_vec()).collect();
            for k in &batch {
                m.remove(k);
                if m.len() * 4 <= m.capacity() {
                    m.shrink_to(m.len() * 2);
                }
                if m.capacity() != last {
                    assert!(m.capacity() < last, "grew from {last} to {}", m.capacity());
                    rebuilds += 1;
                    last = m.capacity();
                }
            }
        }
        assert!(rebuilds < 40, "{rebuilds} rebuilds");
    }

    #[test]
    fn stays_about_87_to_93_percent_full_once_grown() {
        let mut m: SlotMap<()> = SlotMap::default();
        for n in 0..100_000u64 {
            m.insert(SmallBytes::new(&key(n)), ());
            if m.len() > 64 {
                let load = m.len() as f64 / m.capacity() as f64;
                assert!((0.85..=0.94).contains(&load), "load {load} at {}", m.len());
            }
        }
    }

    #[test]
    fn values_are_dropped_once() {
        use std::rc::Rc;
        let witness = Rc::new(());
        {
            let mut m: SlotMap<Rc<()>> = SlotMap::default();
            for n in 0..1000 {
                m.insert(SmallBytes::new(&key(n)), witness.clone());
            }
            for n in 0..500 {
                assert!(m.remove(&key(n)).is_some());
            }
            let copy = m.clone();
            assert_eq!(Rc::strong_count(&witness), 1001);
            drop(copy);
            let mut it = m.drain();
            it.next();
            assert_eq!(Rc::strong_count(&witness), 500);
        }
        assert_eq!(Rc::strong_count(&witness), 1);
    }
}
