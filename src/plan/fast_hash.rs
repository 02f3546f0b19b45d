//! The hasher of the planner's maps and sets: its keys are paths and names from the user's own
//! workspace, and std's default (SipHash, built to resist keys chosen to collide) made hashing
//! ~9 % of the CPU of planning 5,000 flows.
//!
//! The mix is FxHash's (one rotate, xor and multiply per 8 bytes, as rustc hashes its own
//! tables), and `finish` runs the result through MurmurHash3's 64-bit finaliser so that the
//! low bits the table indexes by depend on every input bit. There is no random seed: a
//! workspace built to collide could slow its own planning down, which harms only whoever
//! plans it. Nothing from the network is hashed with it.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;
/// A `HashSet` with [`FastHasher`].
pub type FastSet<K> = HashSet<K, BuildHasherDefault<FastHasher>>;

const K: u64 = 0x517c_c1b7_2722_0a95;

/// See the module header.
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let (words, rest) = bytes.as_chunks::<8>();
        for w in words {
            self.add(u64::from_le_bytes(*w));
        }
        if !rest.is_empty() {
            let mut last = 0u64;
            for (i, b) in rest.iter().enumerate() {
                last |= u64::from(*b) << (8 * i);
            }
            // The length keeps "a" and "a\0" apart.
            self.add(last ^ ((rest.len() as u64) << 56));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, Hash};
    use std::path::PathBuf;

    fn hash<T: Hash + ?Sized>(v: &T) -> u64 {
        BuildHasherDefault::<FastHasher>::default().hash_one(v)
    }

    #[test]
    fn equal_keys_hash_equal_and_near_keys_apart() {
        assert_eq!(hash("flows/a.yaml"), hash(&"flows/a.yaml".to_string()));
        assert_eq!(
            hash(&PathBuf::from("/w/flows/a.yaml")),
            hash(&PathBuf::from("/w/flows/a.yaml"))
        );
        // A trailing zero byte, a shifted byte, an extra empty string: all different.
        let keys: [&[u8]; 6] = [b"a", b"a\0", b"\0a", b"", b"\0", b"aaaaaaaa"];
        let hashes: FastSet<u64> = keys
            .iter()
            .map(|k| {
                let mut h = FastHasher::default();
                h.write(k);
                h.finish()
            })
            .collect();
        assert_eq!(hashes.len(), keys.len());
    }

    /// The table indexes by the low bits: 5,000 workspace-like paths must spread over them
    /// about as well as random numbers would (a weak mix piles them into a few buckets).
    #[test]
    fn paths_that_differ_in_a_digit_spread_over_the_low_bits() {
        let buckets = 8192u64;
        let mut used = FastSet::default();
        for i in 0..5000 {
            let p = PathBuf::from(format!("/home/ci/app/.maestro/flows/flow{i:04}.yaml"));
            used.insert(hash(&p) % buckets);
        }
        // Random keys fill 8192 * (1 - e^(-5000/8192)) ≈ 3,700 buckets.
        assert!(used.len() > 3500, "{} buckets of 8192 used", used.len());
    }
}
