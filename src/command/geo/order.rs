//! Ordering search results by distance exactly as Redis does, so that
//! points at equal distances come out in the same order: a full sort is
//! glibc's qsort (a stable merge sort), a sort for COUNT n of more
//! results is Redis's pqsort (a BSD quicksort that only sorts the
//! partitions reaching the first n).

use std::cmp::Ordering;

/// Sorts `v` by `cmp` when `wanted` is all of it, else puts its first
/// `wanted` elements in order as Redis's `pqsort(v, 0, wanted - 1)`.
pub fn sort_first<T>(v: &mut [T], wanted: usize, cmp: impl Fn(&T, &T) -> Ordering + Copy) {
    if wanted >= v.len() {
        v.sort_by(cmp);
    } else if wanted > 0 {
        partial_quicksort(v, 0, v.len(), 0, wanted - 1, cmp);
    }
}

/// pqsort.c's `_pqsort` on `v[a..a + n]`, sorting only what meets the
/// ranks `lrange..=rrange`.
fn partial_quicksort<T>(
    v: &mut [T],
    mut a: usize,
    mut n: usize,
    lrange: usize,
    rrange: usize,
    cmp: impl Fn(&T, &T) -> Ordering + Copy,
) {
    let c = |v: &[T], i: usize, j: usize| cmp(&v[i], &v[j]);
    let reaches = |start: usize, len: usize| {
        !((lrange < start && rrange < start) || (lrange >= start + len && rrange >= start + len))
    };
    loop {
        if n < 7 {
            for pm in a + 1..a + n {
                let mut pl = pm;
                while pl > a && c(v, pl - 1, pl) == Ordering::Greater {
                    v.swap(pl, pl - 1);
                    pl -= 1;
                }
            }
            return;
        }
        let mut pm = a + n / 2;
        if n > 7 {
            let mut pl = a;
            let mut pn = a + n - 1;
            if n > 40 {
                let d = n / 8;
                pl = med3(v, pl, pl + d, pl + 2 * d, cmp);
                pm = med3(v, pm - d, pm, pm + d, cmp);
                pn = med3(v, pn - 2 * d, pn - d, pn, cmp);
            }
            pm = med3(v, pl, pm, pn, cmp);
        }
        v.swap(a, pm);
        let (mut pa, mut pb) = (a + 1, a + 1);
        let (mut pc, mut pd) = (a + n - 1, a + n - 1);
        loop {
            while pb <= pc {
                let r = c(v, pb, a);
                if r == Ordering::Greater {
                    break;
                }
                if r == Ordering::Equal {
                    v.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb <= pc {
                let r = c(v, pc, a);
                if r == Ordering::Less {
                    break;
                }
                if r == Ordering::Equal {
                    v.swap(pc, pd);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb > pc {
                break;
            }
            v.swap(pb, pc);
            pb += 1;
            pc -= 1;
        }
        let pn = a + n;
        let r = (pa - a).min(pb - pa);
        swap_runs(v, a, pb - r, r);
        let r = (pd - pc).min(pn - pd - 1);
        swap_runs(v, pb, pn - r, r);
        let r = pb - pa;
        if r > 1 && reaches(a, r) {
            partial_quicksort(v, a, r, lrange, rrange, cmp);
        }
        let r = pd - pc;
        if r > 1 && reaches(pn - r, r) {
            a = pn - r;
            n = r;
            continue;
        }
        return;
    }
}

/// The median of three elements, by pqsort.c's `med3`.
fn med3<T>(v: &[T], a: usize, b: usize, c: usize, cmp: impl Fn(&T, &T) -> Ordering) -> usize {
    let lt = |i: usize, j: usize| cmp(&v[i], &v[j]) == Ordering::Less;
    let gt = |i: usize, j: usize| cmp(&v[i], &v[j]) == Ordering::Greater;
    if lt(a, b) {
        if lt(b, c) {
            b
        } else if lt(a, c) {
            c
        } else {
            a
        }
    } else if gt(b, c) {
        b
    } else if lt(a, c) {
        a
    } else {
        c
    }
}

/// Swaps the runs `v[i..i + n]` and `v[j..j + n]` (they do not overlap).
fn swap_runs<T>(v: &mut [T], i: usize, j: usize, n: usize) {
    for k in 0..n {
        v.swap(i + k, j + k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_elements_come_out_sorted() {
        let mut seed = 7u64;
        for len in [0usize, 1, 5, 7, 8, 40, 41, 200] {
            let mut v: Vec<u32> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (seed >> 33) as u32 % 50
                })
                .collect();
            let mut want = v.clone();
            want.sort();
            let k = len / 3 + 1;
            sort_first(&mut v, k, |a, b| a.cmp(b));
            let k = k.min(len);
            assert_eq!(v[..k], want[..k], "len {len}");
        }
    }
}
