//! `PackedVec`: a byte vector in 16 bytes aligned to 4 (a pointer and two
//! u32s), where `Vec<u8>` takes 24 aligned to 8. A listpack holds one, so
//! a compact hash fits inside a keyspace `Value` (24 bytes) instead of
//! behind a `Box` of its own: one allocation less (32 bytes of heap) per
//! small hash. Reads go through `Deref` to `[u8]`; growing or shrinking
//! goes through [`PackedVec::edit`], which lends the buffer as a `Vec`.

use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

#[repr(C, packed(4))]
pub struct PackedVec {
    ptr: NonNull<u8>,
    len: u32,
    cap: u32,
}

// SAFETY: a PackedVec owns its buffer exactly as a Vec<u8> does.
unsafe impl Send for PackedVec {}
unsafe impl Sync for PackedVec {}

impl PackedVec {
    /// Takes `v`'s buffer (at most 4 GiB, as a listpack's u32 header).
    pub fn from_vec(v: Vec<u8>) -> PackedVec {
        let mut v = std::mem::ManuallyDrop::new(v);
        PackedVec {
            // SAFETY: a Vec's pointer is never null.
            ptr: unsafe { NonNull::new_unchecked(v.as_mut_ptr()) },
            len: u32::try_from(v.len()).expect("buffer over 4 GiB"),
            cap: u32::try_from(v.capacity()).expect("buffer over 4 GiB"),
        }
    }

    /// The buffer back as a Vec.
    pub fn into_vec(self) -> Vec<u8> {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: the parts of a Vec<u8>, taken once (self is not dropped).
        unsafe { this.vec() }
    }

    /// Bytes allocated.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.cap as usize
    }

    /// The buffer as a `Vec` for the guard's life; written back after.
    #[inline]
    pub fn edit(&mut self) -> Edit<'_> {
        // SAFETY: the Vec is not dropped (ManuallyDrop) and is written
        // back to `owner` when the guard ends.
        let vec = std::mem::ManuallyDrop::new(unsafe { self.vec() });
        Edit { owner: self, vec }
    }

    /// A Vec over this buffer; the caller makes sure exactly one owner
    /// frees it.
    #[inline]
    unsafe fn vec(&self) -> Vec<u8> {
        let (p, len, cap) = (self.ptr, self.len, self.cap);
        unsafe { Vec::from_raw_parts(p.as_ptr(), len as usize, cap as usize) }
    }
}

/// A `PackedVec` lent as a `Vec<u8>` ([`PackedVec::edit`]).
pub struct Edit<'a> {
    owner: &'a mut PackedVec,
    vec: std::mem::ManuallyDrop<Vec<u8>>,
}

impl Deref for Edit<'_> {
    type Target = Vec<u8>;
    #[inline]
    fn deref(&self) -> &Vec<u8> {
        &self.vec
    }
}

impl DerefMut for Edit<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.vec
    }
}

impl Drop for Edit<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the Vec is moved out once; the owner takes it back.
        let v = unsafe { std::mem::ManuallyDrop::take(&mut self.vec) };
        // Forgets the owner's old parts (the same buffer or one the Vec
        // already freed while growing): no drop of the owner here.
        unsafe { std::ptr::write(self.owner, PackedVec::from_vec(v)) };
    }
}

impl Deref for PackedVec {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        let (p, len) = (self.ptr, self.len);
        // SAFETY: len initialised bytes at p.
        unsafe { std::slice::from_raw_parts(p.as_ptr(), len as usize) }
    }
}

impl DerefMut for PackedVec {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        let (p, len) = (self.ptr, self.len);
        // SAFETY: as deref; &mut self is exclusive.
        unsafe { std::slice::from_raw_parts_mut(p.as_ptr(), len as usize) }
    }
}

impl Drop for PackedVec {
    fn drop(&mut self) {
        // SAFETY: this owner frees the buffer once.
        drop(unsafe { self.vec() });
    }
}

impl Clone for PackedVec {
    /// An exact-size copy (no spare capacity).
    fn clone(&self) -> Self {
        PackedVec::from_vec(self.to_vec())
    }
}

impl PartialEq for PackedVec {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for PackedVec {}

#[cfg(test)]
mod tests {
    use super::PackedVec;

    #[test]
    fn sixteen_bytes_and_a_vec_when_edited() {
        assert_eq!(std::mem::size_of::<PackedVec>(), 16);
        assert_eq!(std::mem::align_of::<PackedVec>(), 4);
        let mut v = PackedVec::from_vec(vec![1, 2, 3]);
        for n in 0..1000u32 {
            v.edit().push(n as u8);
        }
        v.edit().drain(0..3);
        assert_eq!(v.len(), 1000);
        assert_eq!(v[999], (999u32 % 256) as u8);
        v[0] = 9;
        let c = v.clone();
        assert_eq!(c.capacity(), 1000);
        assert!(c == v);
        v.edit().shrink_to_fit();
        assert_eq!(v.capacity(), 1000);
        assert_eq!(v.into_vec()[0], 9);
    }
}
