//! Memory copies and comparisons for the static (musl) build, which exports them as `memcpy`,
//! `memmove`, `memcmp` and `bcmp` (`src/main.rs`): musl's own copies start every copy of 8
//! bytes or more with `rep movsq`, whose start-up cost dominates the small copies planning is
//! made of (names, paths, tokens), and the static binary was 10–15 % slower than the glibc
//! build on the same plan; musl's `memcmp` compares a byte at a time (2–3 % of planning: path
//! and key comparisons).
//!
//! Up to 64 bytes a copy is a few overlapping unaligned loads, all done before the first
//! store, so any overlap is safe; above that it is `rep movsb` (fast on every x86-64 made
//! since 2013), forward, or backward for a `memmove` whose destination overlaps the end of
//! its source. No loop here may be turned into a call to `memcpy`: there is none.

/// Copies `n` bytes from `src` to `dst` front to back, as `memcpy`; also correct when the
/// regions overlap and `dst` is below `src`, or when `n <= 64`.
///
/// # Safety
/// `src` must be readable and `dst` writable for `n` bytes.
#[inline(always)]
pub unsafe fn copy_forward(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: every access below is within the first `n` bytes of `src` or `dst`.
    unsafe {
        if n <= 16 {
            if n >= 8 {
                let a = (src as *const u64).read_unaligned();
                let b = (src.add(n - 8) as *const u64).read_unaligned();
                (dst as *mut u64).write_unaligned(a);
                (dst.add(n - 8) as *mut u64).write_unaligned(b);
            } else if n >= 4 {
                let a = (src as *const u32).read_unaligned();
                let b = (src.add(n - 4) as *const u32).read_unaligned();
                (dst as *mut u32).write_unaligned(a);
                (dst.add(n - 4) as *mut u32).write_unaligned(b);
            } else if n > 0 {
                let (a, b, c) = (*src, *src.add(n / 2), *src.add(n - 1));
                *dst = a;
                *dst.add(n / 2) = b;
                *dst.add(n - 1) = c;
            }
        } else if n <= 32 {
            let a = (src as *const u128).read_unaligned();
            let b = (src.add(n - 16) as *const u128).read_unaligned();
            (dst as *mut u128).write_unaligned(a);
            (dst.add(n - 16) as *mut u128).write_unaligned(b);
        } else if n <= 64 {
            let a = (src as *const u128).read_unaligned();
            let b = (src.add(16) as *const u128).read_unaligned();
            let c = (src.add(n - 32) as *const u128).read_unaligned();
            let d = (src.add(n - 16) as *const u128).read_unaligned();
            (dst as *mut u128).write_unaligned(a);
            (dst.add(16) as *mut u128).write_unaligned(b);
            (dst.add(n - 32) as *mut u128).write_unaligned(c);
            (dst.add(n - 16) as *mut u128).write_unaligned(d);
        } else {
            // The ABI guarantees the direction flag is clear: front to back.
            core::arch::asm!(
                "rep movsb",
                inout("rcx") n => _,
                inout("rdi") dst => _,
                inout("rsi") src => _,
                options(nostack, preserves_flags)
            );
        }
    }
}

/// Copies `n` bytes from `src` to `dst` as `memmove`: correct for any overlap.
///
/// # Safety
/// `src` must be readable and `dst` writable for `n` bytes.
pub unsafe fn copy_any(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: as the caller promised; the backward copy starts at the last byte of each.
    unsafe {
        if n <= 64 || (dst as usize).wrapping_sub(src as usize) >= n {
            copy_forward(dst, src, n);
        } else {
            // `dst` overlaps the end of `src`: back to front, then the flag cleared again.
            core::arch::asm!(
                "std",
                "rep movsb",
                "cld",
                inout("rcx") n => _,
                inout("rdi") dst.add(n - 1) => _,
                inout("rsi") src.add(n - 1) => _,
                options(nostack)
            );
        }
    }
}

/// Compares `n` bytes as `memcmp`: negative, zero or positive as the first differing byte of
/// `a` is below, equal to or above `b`'s. Eight bytes at a time; the last eight overlap the
/// ones before, which are equal by then. No loop here may be turned into a call to `memcmp`
/// or `bcmp`: the words are compared as integers.
///
/// # Safety
/// `a` and `b` must be readable for `n` bytes.
pub unsafe fn compare(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: every load below is within the first `n` bytes of `a` and `b`.
    unsafe {
        let word = |p: *const u8, at: usize| (p.add(at) as *const u64).read_unaligned();
        if n >= 8 {
            let mut at = 0;
            while at < n - 8 {
                let (x, y) = (word(a, at), word(b, at));
                if x != y {
                    return order(x, y);
                }
                at += 8;
            }
            let (x, y) = (word(a, n - 8), word(b, n - 8));
            return if x == y { 0 } else { order(x, y) };
        }
        for at in 0..n {
            let (x, y) = (*a.add(at), *b.add(at));
            if x != y {
                return i32::from(x) - i32::from(y);
            }
        }
        0
    }
}

/// Which of two unequal little-endian words has the lower first differing byte.
#[inline(always)]
fn order(x: u64, y: u64) -> i32 {
    if x.swap_bytes() < y.swap_bytes() {
        -1
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + 3) as u8).collect()
    }

    #[test]
    fn copies_every_size_at_every_alignment() {
        let src = pattern(400);
        for n in 0..=300 {
            for s in 0..16 {
                for d in 0..16 {
                    let mut got = vec![0xAAu8; 340];
                    let mut want = got.clone();
                    want[d..d + n].copy_from_slice(&src[s..s + n]);
                    // SAFETY: both ranges are inside their vectors.
                    unsafe { copy_forward(got.as_mut_ptr().add(d), src.as_ptr().add(s), n) };
                    assert_eq!(got, want, "n {n} src +{s} dst +{d}");
                }
            }
        }
    }

    #[test]
    fn moves_overlapping_ranges_both_ways() {
        for n in 0..=300 {
            for shift in -80isize..=80 {
                let base = 100usize;
                let to = (base as isize + shift) as usize;
                let mut got = pattern(520);
                let mut want = got.clone();
                want.copy_within(base..base + n, to);
                let p = got.as_mut_ptr();
                // SAFETY: both ranges are inside the vector.
                unsafe { copy_any(p.add(to), p.add(base), n) };
                assert_eq!(got, want, "n {n} shift {shift}");
            }
        }
    }

    #[test]
    fn compares_like_slices_at_every_size_and_first_difference() {
        let sign = |o: std::cmp::Ordering| o as i32;
        for n in 0..=80 {
            let a = pattern(n + 3);
            for s in 0..3 {
                let a = &a[s..s + n];
                // SAFETY: both are `n` bytes long.
                assert_eq!(unsafe { compare(a.as_ptr(), a.as_ptr(), n) }, 0);
                for at in 0..n {
                    for delta in [1u8, 0x80, 0xFF] {
                        let mut b = a.to_vec();
                        b[at] = b[at].wrapping_add(delta);
                        // A second difference later must not change the answer.
                        if at + 1 < n {
                            b[n - 1] ^= 0x55;
                        }
                        // SAFETY: both are `n` bytes long.
                        let got = unsafe { compare(a.as_ptr(), b.as_ptr(), n) };
                        assert_eq!(got.signum(), sign(a.cmp(&b[..])), "n {n} at {at} +{delta}");
                        // SAFETY: as above.
                        let back = unsafe { compare(b.as_ptr(), a.as_ptr(), n) };
                        assert_eq!(back.signum(), -got.signum(), "n {n} at {at} +{delta}");
                    }
                }
            }
        }
    }
}
