//! Hashing for the ledger's caches and distinct counts: two lanes of 128 bits, each taking the
//! input eight bytes at a time through a multiply and an xor-shift (every step a bijection of the
//! state). FxHash (rotate, xor, multiply, byte by byte at the end) collides on short strings that
//! differ by a swap of their last bytes (`10.0.0.19` and `10.0.0.92`), which would merge two
//! source IPs or two namespaces; with 128 well-mixed bits a collision between the keys of one
//! audit log is vanishingly unlikely.

/// A 128-bit hash of a sequence of byte strings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hash128 {
    a: u64,
    b: u64,
}

impl Default for Hash128 {
    fn default() -> Self {
        Hash128 {
            a: 0xcbf2_9ce4_8422_2325,
            b: 0x6c62_272e_07bb_0142,
        }
    }
}

impl Hash128 {
    fn word(&mut self, w: u64) {
        self.a = (self.a ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.a ^= self.a >> 29;
        self.b = (self.b ^ w.rotate_left(32)).wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
        self.b ^= self.b >> 31;
    }

    /// Feeds bytes (their length too, so the zero padding of the last word is unambiguous).
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.word(u64::from_le_bytes(c.try_into().expect("eight bytes")));
        }
        let rest = chunks.remainder();
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        self.word(u64::from_le_bytes(last) ^ ((bytes.len() as u64) << 56));
    }

    /// Feeds a string; `("ab", "c")` and `("a", "bc")` differ (each part ends its own word).
    pub(crate) fn part(&mut self, s: &str) {
        self.write(s.as_bytes());
    }

    /// Feeds an integer.
    pub(crate) fn write_u64(&mut self, v: u64) {
        self.word(v);
    }

    /// The hash, with both lanes mixed (SplitMix64's finaliser).
    pub(crate) fn finish(self) -> u128 {
        (u128::from(mix(self.a)) << 64) | u128::from(mix(self.b))
    }
}

fn mix(mut h: u64) -> u64 {
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// A 64-bit hash of one string, uniform over the range (for K-minimum-values).
pub(crate) fn hash64(s: &str) -> u64 {
    let mut h = Hash128::default();
    h.write(s.as_bytes());
    h.finish() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_strings_that_fxhash_confuses_differ() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..70_000u32 {
            let ip = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
            assert!(seen.insert(hash64(&ip)), "{ip}");
        }
        assert_ne!(hash64("10.0.0.19"), hash64("10.0.0.92"));
        let mut x = Hash128::default();
        x.part("ab");
        x.part("c");
        let mut y = Hash128::default();
        y.part("a");
        y.part("bc");
        assert_ne!(x.finish(), y.finish());
    }
}
